"""When should the assistant say "I could not find this in my sources"? Calibrate `index.min_relevance` on one half
of the frozen grounding sets and measure it on the other half.

    python benchmarks/grounding_abstention.py --index runs/medquad-index [--threshold 0.45]

Sets (benchmarks/data/GROUNDING_SETS.md, written blind before any tuning): 60 patient questions MedQuAD cannot
answer and 60 it can. Items with an even number calibrate (the threshold that maximises balanced accuracy between
answering the answerable and abstaining on the rest); items with an odd number report, with Wilson 95% intervals,
both for the calibrated threshold and for `--threshold` (the shipped default unless given).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def main() -> None:
    from medqa.config import IndexConfig
    from medqa.retrieval.index import Index
    from medqa.safety.evaluation import wilson

    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="runs/medquad-index")
    ap.add_argument("--threshold", type=float, default=IndexConfig().min_relevance)
    args = ap.parse_args()
    cfg = IndexConfig()
    index = Index.load(args.index, cfg)
    rows = [(q, True) for q in load("grounding_answerable_patient.jsonl")] + \
           [(q, False) for q in load("grounding_unanswerable.jsonl")]
    best = [max((h.similarity for h in index.search(q["text"], cfg.k)), default=0.0) for q, _ in rows]
    even = [int(q["id"].split("_")[1]) % 2 == 0 for q, _ in rows]

    def rates(mask: list[bool], threshold: float) -> dict[str, tuple[int, int]]:
        answerable = [b >= threshold for b, (_, a), m in zip(best, rows, mask) if m and a]
        unanswerable = [b < threshold for b, (_, a), m in zip(best, rows, mask) if m and not a]
        return {"answered (answerable)": (sum(answerable), len(answerable)),
                "abstained (unanswerable)": (sum(unanswerable), len(unanswerable))}

    candidates = sorted({round(b, 3) for b, m in zip(best, even) if m})
    balanced = {t: sum(h / n for h, n in rates(even, t).values()) / 2 for t in candidates}
    calibrated = max(balanced, key=lambda t: (balanced[t], -abs(t - args.threshold)))
    odd = [not m for m in even]
    print(f"best-passage similarity: answerable median {np.median([b for b, (_, a) in zip(best, rows) if a]):.3f}, "
          f"unanswerable median {np.median([b for b, (_, a) in zip(best, rows) if not a]):.3f}")
    print(f"calibrated on {sum(even)} even items: threshold {calibrated:.3f} (balanced accuracy {balanced[calibrated]:.3f})")
    for label, threshold in (("calibrated", calibrated), ("given", args.threshold)):
        cells = []
        for what, (hits, n) in rates(odd, threshold).items():
            lo, hi = wilson(hits, n) or (0.0, 1.0)
            cells.append(f"{what} {hits}/{n} = {hits / n:.2f} [{lo:.2f}-{hi:.2f}]")
        print(f"held-out odd items, {label} threshold {threshold:.3f}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
