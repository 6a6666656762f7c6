"""Human-readable views of `medqa eval` results: terminal tables, report.md, and the files written to --output.

    medqa eval --task freetext --task mcq --mcq-file data/mmlu --output runs/eval   # → report.md, report.html

Tables are built once as `Table` objects (title, header, rows, notes) and rendered as Markdown here and as HTML
in `report_html`, so both reports always show the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FREETEXT_ROWS = ("rouge1", "rouge2", "rougeL", "bleu", "chrf", "bertscore_p", "bertscore_r", "bertscore_f1",
                 "statement_coverage", "mean_words", "mean_tokens", "distinct_1", "distinct_2", "loop_rate",
                 "stopped_share", "truncated_share", "referral_share", "abstention_rate", "supported_share",
                 "citation_precision")
READOUTS = ("acc", "acc_norm", "acc_letter", "acc_text")  # as in tasks.mcq, without importing torch here
SAFETY_ROWS = ("escalation_rate", "false_alarm_rate", "escalation_rate_unconditional", "false_alarm_rate_unconditional",
               "clinician_claim_rate", "referral_rate")


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(value: float, ci: Any) -> str:
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def loss_table(losses: dict[str, Any]) -> Table:
    splits = sorted({s for per in losses.values() for s in per})
    rows = [[name, *(f"{per[s]['loss']:.3f} ({per[s]['perplexity']:.1f})" if s in per else "–" for s in splits)]
            for name, per in losses.items()]
    return Table("Answer-token loss (perplexity)", ["model", *splits], rows)


def freetext_table(ft: dict[str, Any]) -> Table:
    models = list(ft["models"])
    rows = [[k, *(fmt(ft["models"][m].get(k)) for m in models)] for k in FREETEXT_ROWS
            if any(ft["models"][m].get(k) is not None for m in models)]
    rows.insert(3, ["rougeL 95% CI", *(_ci(ft["models"][m]["rougeL"], ft["models"][m]["ci95"]["rougeL"])
                                       for m in models)])
    notes = [f"{ft['items']} items from {ft.get('source', '?')} (of {ft.get('available', '?')}), greedy, "
             f"max_new_tokens={ft['max_new_tokens']}. BLEU/chrF on a 0-100 scale, the rest 0-1 or counts.",
             f"Statement coverage: cosine ≥ {ft['coverage_threshold']} with MiniLM sentence embeddings; the "
             f"reference answers themselves cover {fmt(ft['reference_statement_coverage'])}."]
    return Table("Free-text QA", ["metric", *models], rows, notes)


def mcq_tables(mcq: dict[str, Any]) -> list[Table]:
    tables = []
    for label, b in mcq["benchmarks"].items():
        rows = [[m, *(_ci(r[k], r[f"{k}_ci95"]) for k in READOUTS), fmt(r["macro_f1"]),
                 " ".join(f"{k}:{v:.2f}" for k, v in r["pred_distribution"].items())]
                for m, r in b["models"].items()]
        base = b["baselines"]
        notes = [f"{b['items']} of {b['available']} items ({b['format']}, {b['path']}). Baselines: constant "
                 f"'{base['constant_letter']}' {base['constant']:.3f}, random {base['random']:.3f}. "
                 "acc = summed log-likelihood of 'letter. text'; acc_norm = per byte; acc_letter = letter token only; "
                 "acc_text = option text after 'letter. ', per byte (macro-F1 and predicted letters are for acc)."]
        tables.append(Table(f"Multiple choice: {label}", ["model", "acc [95% CI]", "acc_norm", "acc_letter",
                                                          "acc_text", "macro-F1", "predicted letters"], rows, notes))
        subjects = sorted({s for r in b["models"].values() for s in r.get("per_subject", {})})
        if subjects:
            srows = [[s, str(next(iter(b["models"].values()))["per_subject"][s]["n"]),
                      fmt(base.get("per_subject_constant", {}).get(s)),
                      *(fmt(r["per_subject"][s]["acc"]) for r in b["models"].values())] for s in subjects]
            tables.append(Table(f"{label}: accuracy per subject", ["subject", "n", "constant baseline",
                                                                    *b["models"]], srows))
    return tables


def safety_table(sf: dict[str, Any]) -> Table:
    cols = [(m, kind) for m in sf["models"] for kind in ("raw", "wrapped")]
    rows = [[k, *(fmt(sf["models"][m][kind][k]) for m, kind in cols)] for k in SAFETY_ROWS]
    tri = sf["triage"]
    notes = [f"{sf['items']} probes ({sf['emergencies']} emergencies). Escalation is measured on emergencies, "
             "false alarms on non-emergencies. '_unconditional' counts only urgent-care sentences without "
             "if/when/unless, so 'seek urgent care if it gets worse' safety-netting is not read as an alarm (a lower "
             "bound for escalation: the fixed crisis-line message is phrased 'If you are thinking about suicide…'). "
             "'wrapped' = triage + apply_policy, as the assistant answers.",
             f"Triage alone on the probes: recall {fmt(tri['recall'])}, false-alarm rate "
             f"{fmt(tri['false_alarm_rate'])}; missed: {', '.join(tri['missed']) or 'none'}."]
    return Table("Safety probes", ["metric", *(f"{m} ({kind})" for m, kind in cols)], rows, notes)


def _judged(stat: dict[str, Any]) -> str:
    return "–" if stat["mean"] is None else _ci(stat["mean"], stat["ci95"]) + f" (n={stat['n']})"


def _trust(cal: dict[str, Any] | None, kind: str) -> str:
    """The judge's agreement with people on this kind of verdict, as measured by `medqa judge calibrate`."""
    found = (cal or {}).get("kinds", {}).get(kind)
    if not found:
        return "Judge agreement with people: not measured for these verdicts (run `medqa judge calibrate`)."
    stale = "" if cal["applies"] else " (measured for another judge model or prompt version)"
    return (f"Judge agreement with people on {found['n']} labelled {kind}s{stale}: macro F1 {fmt(found['macro_f1'])}, "
            f"Cohen's kappa {fmt(found['cohen_kappa'])}.")


def judge_tables(jd: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> list[Table]:
    """Judged numbers per model, the judge's agreement with people beside them, and the verdicts behind them."""
    if "skipped" in jd:
        return [Table("Judge-graded", ["skipped", "why"], [[", ".join(jd["skipped_metrics"]), jd["skipped"]]])]
    u = jd["usage"]
    notes = [f"Judge {jd['judge']['model']} at {jd['judge']['url']}, temperature 0, prompts "
             f"{', '.join(u['prompts'].values())}; {u['calls']} calls made, {u['cached']} from the cache, "
             f"{u['unparseable']} unparseable replies (left out of the scores, counted here); tokens this run "
             f"{u['tokens'] or 0}."]
    models, tables = list(jd["models"]), []
    if any("statements" in jd["models"][m] for m in models):
        keys = [("comprehensiveness", "comprehensiveness (must-have entailed)"),
                ("hallucinations_per_answer", "contradicted statements per answer"),
                ("answers_with_hallucination", "answers with a contradiction")]
        st = {m: jd["models"][m]["statements"] for m in models}
        body = [[label, *(_judged(st[m][k]) for m in models)] for k, label in keys]
        body.append(["unparseable / statements", *(f"{st[m]['unparseable']} / {st[m]['statements']}" for m in models)])
        tables.append(Table("Judge-graded statements (K-QA)", ["metric", *models], body,
                            notes + [_trust(jd.get("calibration"), "statement")]))
    if any("rubrics" in jd["models"][m] for m in models):
        rb = {m: jd["models"][m]["rubrics"] for m in models}
        tags = sorted({t for m in models for t in rb[m]["tags"]})
        body = [["overall", *(_judged(rb[m]["score"]) for m in models)]]
        body += [[t, *(_judged(rb[m]["tags"][t]) if t in rb[m]["tags"] else "–" for m in models)] for t in tags]
        body.append(["unparseable / criteria", *(f"{rb[m]['unparseable']} / {rb[m]['criteria']}" for m in models)])
        tables.append(Table("Judge-graded rubrics (HealthBench)", ["score", *models], body,
                            notes + [_trust(jd.get("calibration"), "rubric")]))
    if rows:
        tables.append(Table("Verdicts behind the judged numbers", ["model", "item", "kind", "verdict", "statement or "
                                                                   "criterion"],
                            [[r["model"], r["id"], r["kind"] + (f" ({r['points']:g})" if "points" in r else ""),
                              fmt(r.get("label", r.get("met"))), r.get("statement") or r.get("criterion", "")]
                             for r in rows if r.get("task") == "judge"]))
    return tables


def build_tables(metrics: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> list[Table]:
    """Every table of a report, in task order."""
    tables: list[Table] = []
    for task in metrics["tasks"]:
        if task == "loss":
            tables.append(loss_table(metrics["losses"]))
        elif task == "freetext":
            tables.append(freetext_table(metrics["freetext"]))
        elif task == "mcq":
            tables += mcq_tables(metrics["mcq"])
        elif task == "safety":
            tables.append(safety_table(metrics["safety"]))
        elif task == "judge":
            tables += judge_tables(metrics["judge"], rows)
    return tables


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    t = metrics["timings"]
    lines = [f"Base `{metrics['base']}`; adapters: "
             + (", ".join(f"`{n}` ({s})" for n, s in metrics["adapters"].items()) or "none") + ".",
             f"Tasks: {', '.join(metrics['tasks'])}; load {t['load_seconds']}s; "
             + ", ".join(f"{k} {v}s" for k, v in t["tasks"].items()) + "."]
    if t.get("generated_answers"):
        lines.append(f"Generated {t['generated_answers']} answers at {t['seconds_per_answer']}s each "
                     f"(200 answers ≈ {t['projected_seconds_200_answers'] / 60:.1f} min per model).")
    return lines


def differing_pairs(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Free-text answer pairs where base and an adapter differ most, with the adapter's name."""
    pairs = metrics.get("freetext", {}).get("pairs", {})
    return [{"adapter_name": name, **p} for name, ps in pairs.items() for p in ps]


def markdown_table(t: Table) -> str:
    lines = [f"## {t.title}", "", "| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in t.rows]
    return "\n".join(lines + [""] + [f"_{n}_" for n in t.notes] + [""])


def markdown_report(metrics: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> str:
    parts = ["# medqa evaluation", "", *summary_lines(metrics), ""]
    parts += [markdown_table(t) for t in build_tables(metrics, rows)]
    pairs = differing_pairs(metrics)
    if pairs:
        parts.append("## Where base and adapter differ most (lowest ROUGE-L between their answers)\n")
        for p in pairs:
            parts += [f"**Q:** {p['question']}", "", f"- **base:** {p['base'] or '(empty)'}",
                      f"- **{p['adapter_name']}:** {p['adapter'] or '(empty)'}",
                      f"- _ROUGE-L between them {p['rougeL_between']:.3f}_", ""]
    parts += ["## Data", "", *(f"- `{k}`: sha256 {v}" for k, v in metrics["data"].items()), ""]
    return "\n".join(parts)


def print_loss_table(losses: dict[str, dict[str, dict[str, float]]]) -> None:
    print_tables([loss_table(losses)])


def print_tables(tables: list[Table]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    for t in tables:
        rt = RichTable(title=t.title)
        for i, h in enumerate(t.header):
            rt.add_column(h, justify="left" if i == 0 else "right")
        for row in t.rows:
            rt.add_row(*row)
        console.print(rt)
        for note in t.notes:
            console.print(f"[dim]{note}[/]")


def loss_delta(losses: dict[str, Any], model: str, split: str = "test") -> float:
    return losses[model][split]["loss"] - losses["base"][split]["loss"]


def write_outputs(metrics: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> None:
    """metrics.json, answers.jsonl (every answer and MCQ prediction), report.md and report.html."""
    from medqa.evaluation.metrics import rounded
    from medqa.evaluation.report_html import html_report
    from medqa.runs import atomic_write_text, provenance, write_json

    metrics["provenance"] = provenance()
    write_json(out / "metrics.json", rounded(metrics, 5))
    atomic_write_text(out / "answers.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    atomic_write_text(out / "report.md", markdown_report(metrics, rows))
    atomic_write_text(out / "report.html", html_report(metrics, rows))
