"""Triage on the frozen held-out set: rules alone vs rules + semantic signal, per category, with Wilson 95% CIs.

    python benchmarks/triage_heldout.py [--output runs/triage-heldout] [--sets FILE.jsonl ...]

The held-out files (benchmarks/data/triage_heldout*_*.jsonl, provenance in TRIAGE_HELDOUT.md) were written by
writers who never saw the rules or the exemplar bank, and frozen before tuning; v2 (triage_heldout2_*) is the
untouched one, v1 had been measured before the second round of tuning. Each version is reported on its own. Both paths run in this process on
the same messages, so the latency figures (p50/p95 milliseconds per message, multi-turn rows included) compare.
Writes report.json and per_category.png to --output; the last line is a summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medqa.retrieval.exemplars import load_semantic_signal
from medqa.safety.evaluation import evaluate_rows, load_set
from medqa.safety.taxonomy import CATEGORY_IDS

DATA = Path(__file__).with_name("data")


def _ci(rate: dict | None) -> str:
    if not rate:
        return "-"
    lo, hi = rate["ci95"]
    return f"{rate['hits']}/{rate['n']} [{lo:.2f}-{hi:.2f}]"


def _table(rules: dict, both: dict) -> str:
    lines = [f"{'category':24s} {'recall rules':>20s} {'recall rules+sem':>20s} {'false alarms':>16s} {'(+sem)':>16s}"]
    for c in CATEGORY_IDS:
        r, b = rules["per_category"].get(c, {}), both["per_category"].get(c, {})
        lines.append(f"{c:24s} {_ci(r.get('recall')):>20s} {_ci(b.get('recall')):>20s} "
                     f"{_ci(r.get('false_alarms')):>16s} {_ci(b.get('false_alarms')):>16s}")
    return "\n".join(lines)


def _summary(name: str, report: dict) -> str:
    lo, hi = report["recall_ci95"]
    flo, fhi = report["false_alarm_ci95"]
    lat = report["latency_ms"]
    return (f"{name:30s} recall {report['recall']:.3f} [{lo:.3f}-{hi:.3f}] of {report['emergencies']}, "
            f"false alarms {report['false_alarm_rate']:.3f} [{flo:.3f}-{fhi:.3f}] of {report['non_emergencies']}, "
            f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")


def _plot(rules: dict, both: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = [c for c in CATEGORY_IDS if c in both["per_category"] and both["per_category"][c]["recall"]]
    fig, ax = plt.subplots(figsize=(12, 5))
    for offset, (name, rep) in enumerate((("rules", rules), ("rules + semantic", both))):
        ax.bar([i + offset * 0.4 for i in range(len(cats))],
               [rep["per_category"][c]["recall"]["rate"] for c in cats], width=0.4, label=name)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set_xticks([i + 0.2 for i in range(len(cats))], cats, rotation=75, fontsize=7)
    ax.set_ylabel("recall on held-out emergencies")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _groups(paths: list[str]) -> dict[str, list[str]]:
    """Files grouped by version: triage_heldout2_a.jsonl -> 'triage_heldout2'."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(Path(path).stem.rsplit("_", 1)[0], []).append(path)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=sorted(str(p) for p in DATA.glob("triage_heldout*_*.jsonl")))
    parser.add_argument("--output", default="runs/triage-heldout")
    args = parser.parse_args()
    semantic = load_semantic_signal()
    semantic.check("warm-up so the first timed message does not pay for loading")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    report, summary = {}, []
    for name, paths in _groups(args.sets).items():
        rows = [row for path in paths for row in load_set(path)]
        rules, both = evaluate_rows(rows, None), evaluate_rows(rows, semantic)
        report[name] = {"files": paths, "rules": rules, "rules+semantic": both}
        below = [c for c, v in both["per_category"].items() if v["recall"] and v["recall"]["rate"] < 0.9]
        print(f"\n== {name} ({', '.join(Path(p).name for p in paths)})\n{_table(rules, both)}")
        print(f"caught by signal (rules+semantic): {both['caught_by_signal']}")
        print(f"categories below 0.9 recall with both signals: {below or 'none'}")
        _plot(rules, both, out / f"{name}_per_category.png")
        summary += [_summary(f"{name} rules", rules), _summary(f"{name} rules+semantic", both)]
    (out / "report.json").write_text(json.dumps(report, indent=1), "utf-8")
    print("\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
