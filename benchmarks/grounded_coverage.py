"""Do grounded answers cover more of what a correct answer must say? Ungrounded vs grounded replies to the frozen
answerable patient questions (benchmarks/data/grounding_answerable_patient.jsonl, written blind, with 2-3 must-have
statements each from the MedQuAD page that answers them), over a MedQuAD index.

    python benchmarks/grounded_coverage.py --index runs/medquad-index [--adapter RUN] [--max-new-tokens 160]

Ungrounded: the model's answer to the bare question. Grounded: the same model with the retrieved passages in its
prompt, as the pipeline shows the answer (unsupported sentences dropped, citations checked; before the safety
policy, whose fixed sentences would blur the comparison). Statement coverage is medqa's eval metric (a statement
counts when an answer sentence reaches cosine ≥ 0.6 with it). Prints both means with bootstrap 95% intervals, the
paired difference, and the grounding rates. Greedy decoding.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "grounding_answerable_patient.jsonl"


def paired_ci(a: list[float], b: list[float], seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    diff = np.array(b) - np.array(a)
    rng = np.random.default_rng(seed)
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(resamples)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    from medqa.config import build_config
    from medqa.evaluation.metrics import bootstrap_ci
    from medqa.evaluation.similarity import statement_coverage
    from medqa.inference.generator import BASE, load_generator
    from medqa.inference.pipeline import AnswerPipeline
    from medqa.retrieval.grounding import check_answer

    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="runs/medquad-index")
    ap.add_argument("--adapter")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    cfg = build_config({}, [f"index.path={args.index}", *args.set])
    generator = load_generator(cfg, {"adapter": args.adapter} if args.adapter else {})
    adapter = "adapter" if args.adapter else BASE
    pipeline = AnswerPipeline.from_config(cfg)
    gen = cfg.generation.model_copy(update={"temperature": 0.0, "max_new_tokens": args.max_new_tokens})
    items = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    prepared = [pipeline.prepare([{"role": "user", "content": q["text"]}]) for q in items]

    plain = [r["text"] for r in _batched(generator, [p.conversation for p in prepared], gen, adapter)]
    asked = [i for i, p in enumerate(prepared) if not p.abstains]
    raw = dict(zip(asked, (r["text"] for r in _batched(generator, [prepared[i].prompt for i in asked], gen, adapter))))
    grounded, totals = [], {"sentences": 0, "supported": 0, "model_citations": 0, "model_citations_supported": 0}
    for i, p in enumerate(prepared):
        shown, stats = check_answer(raw.get(i, ""), p.grounding, pipeline.index.encoder, pipeline.index_cfg)
        grounded.append(shown)
        for key in totals:
            totals[key] += stats[key]

    statements = [q["statements"] for q in items]
    before = statement_coverage(plain, statements)["per_item"]
    after = statement_coverage(grounded, statements)["per_item"]
    print(f"{len(items)} patient questions, model {cfg.model.base}{' + ' + args.adapter if args.adapter else ''}")
    print(f"statement coverage, ungrounded {np.mean(before):.3f} {bootstrap_ci(before)}; grounded "
          f"{np.mean(after):.3f} {bootstrap_ci(after)}; difference {np.mean(after) - np.mean(before):+.3f} "
          f"{paired_ci(before, after)}")
    print(f"grounded: abstained {len(items) - len(asked)}/{len(items)}; sentences supported "
          f"{totals['supported']}/{totals['sentences']}; model citations correct "
          f"{totals['model_citations_supported']}/{totals['model_citations']}")
    for q, a in list(zip(items, grounded))[:3]:
        print(f"\nQ: {q['text']}\nA (grounded): {a}")


def _batched(generator, conversations, gen, adapter, size: int = 8):
    out = []
    for start in range(0, len(conversations), size):
        out += generator.generate_batch(conversations[start:start + size], gen, adapter)
    return out


if __name__ == "__main__":
    main()
