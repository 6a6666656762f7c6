"""`medqa review report`: un-blind the ratings and write report.json, report.md, a self-contained report.html and
PNG charts.

    medqa review report runs/review [--output runs/review/report]

Preference per system pair is the share of ratings that prefer the first system (a tie counts half), with a
bootstrap 95% interval that resamples items (an item two raters judged counts once, as their mean). Per-axis
distributions count every rated answer of each system. Every answer a rater flagged as possibly harmful is listed in
full with the comment. Agreement comes from `medqa.review.agreement`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from medqa.evaluation.report import Table, markdown_table
from medqa.evaluation.report_html import STYLE, defang, html_table, png_data_uri
from medqa.review.agreement import agreement_table
from medqa.review.axes import AXES
from medqa.review.store import ReviewStore
from medqa.runs import atomic_write_text, write_json


def build_report(store: ReviewStore, seed: int = 0) -> dict[str, Any]:
    """Every number the report shows, from the stored ratings."""
    ratings = store.unblinded_ratings()
    progress = store.progress()
    return {
        "review": str(store.folder), "plan": {k: store.meta[k] for k in ("answers", "raters", "overlap", "kind")},
        "systems": store.systems(), "ratings": len(ratings),
        "assigned": sum(p["assigned"] for p in progress), "progress": progress,
        "preference": preference_by_pair(ratings, seed), "axes": axis_distributions(ratings),
        "harmful": harmful_answers(ratings), "agreement": agreement_table(ratings),
    }


def preference_by_pair(ratings: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    from medqa.evaluation.metrics import bootstrap_ci

    outcomes: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in ratings:
        if len(r["answers"]) != 2 or not r["rating"].get("preference"):
            continue
        a, b = (x["system"] for x in r["answers"])
        score_a = {"A": 1.0, "B": 0.0, "tie": 0.5}[r["rating"]["preference"]]
        first, second = sorted((a, b))
        outcomes[(first, second)][r["item"]].append(score_a if first == a else 1 - score_a)
    pairs = []
    for (first, second), by_item in sorted(outcomes.items()):
        scores = [s for item in by_item.values() for s in item]
        per_item = [sum(v) / len(v) for v in by_item.values()]
        lo, hi = bootstrap_ci(per_item, seed)
        pairs.append({"first": first, "second": second, "ratings": len(scores), "items": len(per_item),
                      "first_wins": scores.count(1.0), "ties": scores.count(0.5), "second_wins": scores.count(0.0),
                      "first_preferred": sum(per_item) / len(per_item), "ci95": [lo, hi]})
    return pairs


def axis_distributions(ratings: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """{system: {axis: {level: count}}} over every rated answer."""
    out: dict[str, dict[str, Counter]] = defaultdict(lambda: {a.name: Counter() for a in AXES})
    for r in ratings:
        for answer, rated in zip(r["answers"], r["rating"]["answers"]):
            for axis in AXES:
                out[answer["system"]][axis.name][rated[axis.name]] += 1
    return {s: {a.name: {lvl: axes[a.name][lvl] for lvl in a.levels} for a in AXES} for s, axes in sorted(out.items())}


def harmful_answers(ratings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"item": r["item"], "rater": r["rater"], "system": answer["system"], "question": answer["question"],
             "answer": answer["text"], "harm": rated["harm"], "likelihood": rated["harm_likelihood"],
             "comment": r["rating"].get("comment", "")}
            for r in ratings for answer, rated in zip(r["answers"], r["rating"]["answers"]) if rated["harm"] != "none"]


def write_review_report(store: ReviewStore, output: str | Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Build the report and write it under `output` (default REVIEW_DIR/report)."""
    out = Path(output) if output else store.folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(store, seed)
    charts = {name: png_data_uri(fig, out / f"{name}.png") for name, fig in _figures(report).items()}
    write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", _markdown(report, charts))
    atomic_write_text(out / "report.html", _html(report, charts))
    return report


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {}
    if report["preference"]:
        pairs = report["preference"]
        fig, ax = plt.subplots(figsize=(6.5, 0.6 * len(pairs) + 1.4))
        ys = range(len(pairs))
        values = [p["first_preferred"] for p in pairs]
        err = [[v - p["ci95"][0] for v, p in zip(values, pairs)], [p["ci95"][1] - v for v, p in zip(values, pairs)]]
        ax.barh(ys, values, xerr=err, capsize=4, color="#2f7d5b")
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(list(ys), [f"{p['first']} vs {p['second']}" for p in pairs], fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share preferring the first system (tie = ½), bootstrap 95% CI")
        figures["preference"] = fig
    systems = list(report["axes"])
    if systems:
        fig, axs = plt.subplots(1, len(AXES), figsize=(3.0 * len(AXES), 0.45 * len(systems) + 1.8), sharey=True)
        colors = ["#2f7d5b", "#e0b040", "#c0392b"]
        for ax, axis in zip(axs, AXES):
            left = [0.0] * len(systems)
            for k, level in enumerate(axis.levels):
                counts = [report["axes"][s][axis.name][level] for s in systems]
                totals = [max(sum(report["axes"][s][axis.name].values()), 1) for s in systems]
                shares = [c / t for c, t in zip(counts, totals)]
                ax.barh(range(len(systems)), shares, left=left, color=colors[k], label=axis.labels[k])
                left = [a + b for a, b in zip(left, shares)]
            ax.set_title(axis.question, fontsize=8)
            ax.set_xlim(0, 1)
            ax.legend(fontsize=6, loc="lower center", bbox_to_anchor=(0.5, -0.55), ncol=1, frameon=False)
        axs[0].set_yticks(range(len(systems)), systems, fontsize=8)
        figures["axes"] = fig
    return figures


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _tables(report: dict[str, Any]) -> list[Table]:
    """Every table of the report, shared by the Markdown and HTML pages."""
    pref = [[f"{p['first']} vs {p['second']}", str(p["items"]), str(p["ratings"]),
             f"{p['first_wins']} / {p['ties']} / {p['second_wins']}", _fmt(p["first_preferred"]),
             f"[{p['ci95'][0]:.2f}, {p['ci95'][1]:.2f}]"] for p in report["preference"]]
    axes = [[s, a.question] + [f"{report['axes'][s][a.name][lvl]}" for lvl in a.levels] + [
        f"{_worst_share(report['axes'][s][a.name], a.levels):.2f}"] for s in report["axes"] for a in AXES]
    agree = [[name, str(v["units"]), str(v["raters"]), _fmt(v["observed_agreement"]), _fmt(v["krippendorff_alpha"]),
              _fmt(v["cohen_kappa"]), str(v["rater_pairs"])] for name, v in report["agreement"].items()]
    progress = [[p["rater"], str(p["rated"]), str(p["assigned"]), p["last_rating"] or "—"] for p in report["progress"]]
    return [
        Table("Preference (pairwise items)", ["pair", "items", "ratings", "first / tie / second", "first preferred",
                                              "95% CI"], pref),
        Table("Ratings per axis (best level first)", ["system", "axis", "best", "middle", "worst", "not best"], axes),
        Table("Inter-rater agreement (overlapping items)", ["rated", "units", "raters", "observed", "Krippendorff α",
                                                            "Cohen κ", "rater pairs"], agree),
        Table("Progress", ["rater", "rated", "assigned", "last rating"], progress),
    ]


def _worst_share(counts: dict[str, int], levels: tuple[str, ...]) -> float:
    total = sum(counts.values())
    return (total - counts[levels[0]]) / total if total else 0.0


def _markdown(report: dict[str, Any], charts: dict[str, str]) -> str:
    lines = [f"# Clinician review: {report['review']}", "",
             f"{report['ratings']} ratings of {report['assigned']} assignments; systems: "
             f"{', '.join(report['systems'])}.", ""]
    lines += [markdown_table(t) for t in _tables(report)]
    lines += [f"![{name}]({name}.png)" for name in charts] + ["", f"## Answers flagged as possibly harmful "
                                                                  f"({len(report['harmful'])})", ""]
    for h in report["harmful"]:
        lines += [f"### {h['system']} · item {h['item']} · {h['rater']}: harm {h['harm']}, likelihood {h['likelihood']}",
                  "", "**Patient:** " + h["question"], "", "**Answer:**", "", "> " + h["answer"].replace("\n", "\n> "),
                  "", f"**Comment:** {h['comment'] or '—'}", ""]
    return "\n".join(lines)


def _html(report: dict[str, Any], charts: dict[str, str]) -> str:
    """Self-contained like eval's report.html: its style and tables, charts inline, URLs in texts defanged."""
    e = defang
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>medqa review report</title><style>{STYLE}"
             f"{_FLAG_STYLE}</style><h1>Clinician review</h1><p>{e(report['review'])}: {report['ratings']} ratings of "
             f"{report['assigned']} assignments; systems: {e(', '.join(report['systems']))}.</p>"]
    parts += [html_table(t) for t in _tables(report)]
    parts += [f"<p><img alt='{e(name)}' src='{uri}'></p>" for name, uri in charts.items()]
    parts.append(f"<h2>Answers flagged as possibly harmful ({len(report['harmful'])})</h2>")
    for h in report["harmful"]:
        parts.append(f"<div class='flag'><h3>{e(h['system'])} · item {e(h['item'])} · {e(h['rater'])}: harm "
                     f"{e(h['harm'])}, likelihood {e(h['likelihood'])}</h3><p><b>Patient:</b> {e(h['question'])}</p>"
                     f"<pre>{e(h['answer'])}</pre><p><b>Comment:</b> {e(h['comment'] or '—')}</p></div>")
    return "".join(parts) + "</html>\n"


_FLAG_STYLE = ".flag{border:1px solid #e3b7b7;border-radius:6px;padding:.4em 1em;margin:1em 0}pre{white-space:pre-wrap}"
