"""Triage on the frozen held-out set, per category with Wilson 95% CIs: rules alone, rules + exemplars (no
classifier) and the default, rules + exemplars + triage classifier.

    python benchmarks/triage_heldout.py [--output runs/triage-heldout] [--sets FILE.jsonl ...]

The held-out files (benchmarks/data/triage_heldout3_*.jsonl, provenance in TRIAGE_HELDOUT.md) were written by
four writers who never saw the rules, the exemplar bank, the classifier or its training data, and frozen before
tuning; triage_everyday_a.jsonl (150 everyday non-emergencies, a fifth writer) measures false alarms on
ordinary messages. All paths run in this process on the same messages, so the latency figures (p50/p95 milliseconds per
message, multi-turn rows included) compare. Writes report.json and a per-category plot per set to --output; the
last lines are the summary. Pass --sets to score any other labelled JSONL file in the same layout.
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


def _table(reports: dict[str, dict]) -> str:
    names = list(reports)
    head = "".join(f"{'recall ' + n:>26s}" for n in names) + "".join(f"{'alarms ' + n:>26s}" for n in names)
    lines = [f"{'category':22s}{head}"]
    for c in CATEGORY_IDS:
        cells = [reports[n]["per_category"].get(c, {}) for n in names]
        lines.append(f"{c:22s}" + "".join(f"{_ci(x.get('recall')):>26s}" for x in cells)
                     + "".join(f"{_ci(x.get('false_alarms')):>26s}" for x in cells))
    return "\n".join(lines)


def _rate(rate: float | None, ci: tuple[float, float] | None, n: int) -> str:
    return f"{rate:.3f} [{ci[0]:.3f}-{ci[1]:.3f}] of {n}" if rate is not None and ci else "- of 0"


def _summary(name: str, report: dict) -> str:
    lat = report["latency_ms"]
    return (f"{name:42s} recall {_rate(report['recall'], report['recall_ci95'], report['emergencies'])}, "
            f"false alarms {_rate(report['false_alarm_rate'], report['false_alarm_ci95'], report['non_emergencies'])}"
            f", p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")


def _plot(reports: dict[str, dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = list(reports.values())[-1]
    cats = [c for c in CATEGORY_IDS if c in last["per_category"] and last["per_category"][c]["recall"]]
    if not cats:  # a set of non-emergencies only has no recall to plot
        return
    width = 0.8 / len(reports)
    fig, ax = plt.subplots(figsize=(13, 5))
    for offset, (name, rep) in enumerate(reports.items()):
        ax.bar([i + offset * width for i in range(len(cats))],
               [rep["per_category"][c]["recall"]["rate"] for c in cats], width=width, label=name)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(cats))], cats, rotation=75, fontsize=7)
    ax.set_ylabel("recall on held-out emergencies")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _groups(paths: list[str]) -> dict[str, list[str]]:
    """Files grouped by version: triage_heldout3_a.jsonl -> 'triage_heldout3'."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(Path(path).stem.rsplit("_", 1)[0], []).append(path)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=sorted(str(p) for p in DATA.glob("triage_*_*.jsonl")))
    parser.add_argument("--output", default="runs/triage-heldout")
    args = parser.parse_args()
    systems = {"rules": None, "rules+exemplars": load_semantic_signal(classifier=False),
               "rules+exemplars+classifier": load_semantic_signal()}
    for signal in filter(None, systems.values()):  # warm-up so the first timed message does not pay for loading
        signal.check("warm-up")
        signal.classify(["warm-up"])
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    report, summary = {}, []
    for name, paths in _groups(args.sets).items():
        rows = [row for path in paths for row in load_set(path)]
        reports = {system: evaluate_rows(rows, signal) for system, signal in systems.items()}
        report[name] = {"files": paths, **reports}
        final = reports["rules+exemplars+classifier"]
        below = [c for c, v in final["per_category"].items() if v["recall"] and v["recall"]["rate"] < 0.9]
        print(f"\n== {name} ({', '.join(Path(p).name for p in paths)})\n{_table(reports)}")
        print(f"caught by signal (default): {final['caught_by_signal']}; "
              f"alarms overruled by the classifier: {final['overruled_by_classifier']}")
        print(f"categories below 0.9 recall (default): {below or 'none'}")
        _plot(reports, out / f"{name}_per_category.png")
        summary += [_summary(f"{name} {system}", rep) for system, rep in reports.items()]
    (out / "report.json").write_text(json.dumps(report, indent=1), "utf-8")
    print("\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
