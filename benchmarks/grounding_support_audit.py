"""Is a shown sentence really supported by the passage it cites? An audit by an independent annotator.

medqa's support check (medqa.retrieval.grounding) is a similarity heuristic, so its own "supported" count cannot
prove itself. This script exports every sentence the grounded pipeline shows, with the passages it cites, for a
reader who never saw the check; then scores that reader's labels.

    python benchmarks/grounding_support_audit.py export --index runs/medquad-index --output runs/support-audit
    # the annotator writes labels.jsonl: {"id": ..., "label": "supported" | "partial" | "unsupported"}
    python benchmarks/grounding_support_audit.py score runs/support-audit/pairs.jsonl runs/support-audit/labels.jsonl

Questions: the frozen blind patient questions of benchmarks/data/grounding_answerable_patient.jsonl; greedy
decoding, base model unless --adapter. Rows are shuffled (seeded) so the reader cannot follow one answer's
drift. `score` prints the share judged supported with a Wilson 95% interval (partial counts as not supported,
and is also reported on its own).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "grounding_answerable_patient.jsonl"
LABELS = ("supported", "partial", "unsupported")
_CITATION = re.compile(r"\s*\[(\d+)\]")


def export(args: argparse.Namespace) -> None:
    from medqa.config import build_config
    from medqa.inference.generator import BASE, load_generator
    from medqa.inference.pipeline import AnswerPipeline
    from medqa.retrieval.grounding import check_answer
    from medqa.safety.policy import stream_sentences

    cfg = build_config({}, [f"index.path={args.index}"])
    generator = load_generator(cfg, {"adapter": args.adapter} if args.adapter else {})
    pipeline = AnswerPipeline.from_config(cfg)
    gen = cfg.generation.model_copy(update={"temperature": 0.0, "max_new_tokens": args.max_new_tokens})
    items = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    prepared = [pipeline.prepare([{"role": "user", "content": q["text"]}]) for q in items]
    asked = [i for i, p in enumerate(prepared) if not p.abstains]
    raw: list[dict] = []
    for start in range(0, len(asked), 8):
        batch = asked[start:start + 8]
        raw += generator.generate_batch([prepared[i].prompt for i in batch], gen,
                                        "adapter" if args.adapter else BASE)
    pairs = []
    for i, reply in zip(asked, raw):
        shown, stats = check_answer(reply["text"], prepared[i].grounding, pipeline.index.encoder, pipeline.index_cfg)
        passages = {c["index"]: c for c in stats["citations"]}
        for sentence in stream_sentences([shown]):
            cited = [int(n) for n in _CITATION.findall(sentence) if int(n) in passages]
            if not cited:
                continue
            pairs.append({"question": items[i]["text"], "sentence": _CITATION.sub("", sentence).strip(),
                          "passages": [{"title": passages[n]["title"], "text": passages[n]["text"]} for n in cited]})
    random.Random(0).shuffle(pairs)
    for k, pair in enumerate(pairs, start=1):
        pair["id"] = f"s{k:03d}"
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pairs.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), "utf-8")
    print(f"{len(items)} questions, {len(items) - len(asked)} abstained, {len(pairs)} shown cited sentences "
          f"-> {out / 'pairs.jsonl'}")


def score(args: argparse.Namespace) -> None:
    from medqa.safety.evaluation import wilson

    ids = [json.loads(line)["id"] for line in Path(args.pairs).read_text(encoding="utf-8").splitlines() if line]
    labels = {}
    for line in Path(args.labels).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("label") not in LABELS:
                raise SystemExit(f"label {row.get('label')!r} for {row.get('id')}: expected one of {LABELS}")
            labels[row["id"]] = row["label"]
    missing = [i for i in ids if i not in labels]
    if missing:
        raise SystemExit(f"{len(missing)} sentences have no label, first {missing[0]}")
    counts = Counter(labels[i] for i in ids)
    lo, hi = wilson(counts["supported"], len(ids))
    print(f"{len(ids)} shown cited sentences: supported {counts['supported']} ({counts['supported'] / len(ids):.3f}, "
          f"Wilson 95% [{lo:.3f}-{hi:.3f}]), partial {counts['partial']}, unsupported {counts['unsupported']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("export")
    p.add_argument("--index", default="runs/medquad-index")
    p.add_argument("--adapter")
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--output", default="runs/support-audit")
    p.set_defaults(fn=export)
    p = sub.add_parser("score")
    p.add_argument("pairs")
    p.add_argument("labels")
    p.set_defaults(fn=score)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
