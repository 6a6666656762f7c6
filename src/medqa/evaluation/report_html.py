"""A self-contained report.html for `medqa eval`: the report's tables plus PNG charts embedded as base64.

    medqa eval --task freetext --task mcq --task safety --mcq-file data/mmlu --output runs/eval

No external files, scripts, fonts or styles are referenced, so the page can be mailed or archived as is; URLs in
model answers are shown defanged (hxxps://). Charts
(matplotlib, Agg backend) put the base and each adapter side by side: free-text scores, answer behaviour, MCQ
accuracy with bootstrap 95% CI error bars and baselines, and safety rates raw vs wrapped.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from medqa.evaluation.report import Table, build_tables, differing_pairs, summary_lines

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}.note{color:#666;font-size:.9em}
.pair{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}.pair pre{white-space:pre-wrap}
img{max-width:100%}"""


def png_data_uri(fig: Any, path: Path | None = None) -> str:
    """The figure as a data URI for a self-contained page (closed afterwards); also saved as `path` when given."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    if path is not None:
        path.write_bytes(buf.getvalue())
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _grouped_bars(title: str, groups: list[str], series: dict[str, list[float | None]],
                  errors: dict[str, list[tuple[float, float]]] | None = None,
                  hlines: list[tuple[float, str]] | None = None, ylim: tuple[float, float] | None = None) -> str:
    """A bar chart with one group per metric (or benchmark) and one bar per model; returns a data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) * max(len(series), 1) * 0.6 + 2), 3.4))
    width = 0.8 / max(len(series), 1)
    for k, (name, values) in enumerate(series.items()):
        xs = [g + (k - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [v if v is not None else 0.0 for v in values]
        yerr = None
        if errors and name in errors:
            yerr = [[max(y - lo, 0) for y, (lo, _) in zip(ys, errors[name])],
                    [max(hi - y, 0) for y, (_, hi) in zip(ys, errors[name])]]
        ax.bar(xs, ys, width, label=name, yerr=yerr, capsize=3 if yerr else 0)
    for y, label in hlines or []:
        ax.axhline(y, linestyle="--", linewidth=1, color="grey")
        ax.annotate(label, (len(groups) - 0.5, y), fontsize=7, color="grey", ha="right", va="bottom")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return png_data_uri(fig)


def freetext_charts(ft: dict[str, Any]) -> list[str]:
    models = ft["models"]
    scores = ("rouge1", "rouge2", "rougeL", "bertscore_f1", "statement_coverage")
    series = {m: [r.get(k) for k in scores] + [r["chrf"] / 100, r["bleu"] / 100] for m, r in models.items()}
    behave = ("loop_rate", "stopped_share", "truncated_share", "referral_share", "distinct_1", "distinct_2")
    return [_grouped_bars("Free-text scores (chrF and BLEU divided by 100)", [*scores, "chrf/100", "bleu/100"],
                          series, ylim=(0, 1)),
            _grouped_bars("Answer behaviour", list(behave), {m: [r[k] for k in behave] for m, r in models.items()},
                          ylim=(0, 1))]


def mcq_chart(mcq: dict[str, Any]) -> str:
    benches = list(mcq["benchmarks"])
    models = list(next(iter(mcq["benchmarks"].values()))["models"])
    series = {m: [mcq["benchmarks"][b]["models"][m]["acc"] for b in benches] for m in models}
    errors = {m: [tuple(mcq["benchmarks"][b]["models"][m]["acc_ci95"]) for b in benches] for m in models}
    rand = [mcq["benchmarks"][b]["baselines"]["random"] for b in benches]
    const = [mcq["benchmarks"][b]["baselines"]["constant"] for b in benches]
    series["constant-answer baseline"] = const
    series["random baseline"] = rand
    return _grouped_bars("MCQ accuracy with bootstrap 95% CI", benches, series, errors, ylim=(0, 1))


def safety_chart(sf: dict[str, Any]) -> str:
    keys = ("escalation_rate", "false_alarm_rate", "false_alarm_rate_unconditional", "clinician_claim_rate",
            "referral_rate")
    series = {f"{m} ({kind})": [r[kind][k] for k in keys]
              for m, r in sf["models"].items() for kind in ("raw", "wrapped")}
    return _grouped_bars("Safety probes: raw model vs safety-wrapped answers", list(keys), series, ylim=(0, 1.05))


def loss_chart(losses: dict[str, Any]) -> str:
    splits = sorted({s for per in losses.values() for s in per})
    return _grouped_bars("Answer-token loss (lower is better)", splits,
                         {m: [per.get(s, {}).get("loss") for s in splits] for m, per in losses.items()})


def charts(metrics: dict[str, Any]) -> list[str]:
    """Data URIs of every chart for the tasks that ran."""
    out: list[str] = []
    if "loss" in metrics["tasks"]:
        out.append(loss_chart(metrics["losses"]))
    if "freetext" in metrics["tasks"]:
        out += freetext_charts(metrics["freetext"])
    if "mcq" in metrics["tasks"] and metrics["mcq"]["benchmarks"]:
        out.append(mcq_chart(metrics["mcq"]))
    if "safety" in metrics["tasks"]:
        out.append(safety_chart(metrics["safety"]))
    return out


def html_table(t: Table) -> str:
    e = defang
    head = "".join(f"<th>{e(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in t.notes)
    return f"<h2>{e(t.title)}</h2><table><tr>{head}</tr>{body}</table>{notes}"


def defang(text: str) -> str:
    """Model output may hold URLs; show them inert (hxxp://) so the page never points anywhere."""
    return html.escape(text.replace("http://", "hxxp://").replace("https://", "hxxps://"))


def _pairs_html(metrics: dict[str, Any]) -> str:
    e = defang
    pairs = differing_pairs(metrics)
    if not pairs:
        return ""
    blocks = [f'<div class="pair"><p><b>Question:</b> {e(p["question"])}</p>'
              f'<p><b>base</b></p><pre>{e(p["base"] or "(empty)")}</pre>'
              f'<p><b>{e(p["adapter_name"])}</b></p><pre>{e(p["adapter"] or "(empty)")}</pre>'
              f'<p class="note">ROUGE-L between them {p["rougeL_between"]:.3f}</p></div>' for p in pairs]
    return "<h2>Where base and adapter differ most</h2>" + "".join(blocks)


def html_report(metrics: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> str:
    """The whole page as one string (`rows`: answers.jsonl's rows, for the verdicts behind judged numbers)."""
    e = html.escape
    imgs = "".join(f'<p><img alt="chart" src="{uri}"></p>' for uri in charts(metrics))
    data = "".join(f"<li><code>{e(k)}</code>: sha256 {e(v)}</li>" for k, v in metrics["data"].items())
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>medqa evaluation</title>"
            f"<style>{STYLE}</style></head><body><h1>medqa evaluation</h1>"
            + "".join(f"<p>{e(line)}</p>" for line in summary_lines(metrics)) + imgs
            + "".join(html_table(t) for t in build_tables(metrics, rows)) + _pairs_html(metrics)
            + f"<h2>Data</h2><ul>{data}</ul></body></html>")
