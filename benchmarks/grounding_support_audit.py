"""Is a shown sentence really supported by the passage it cites? An audit by an independent annotator.

medqa's support check (medqa.retrieval.grounding) is a similarity heuristic, so its own "supported" count cannot
prove itself. This script exports every sentence the grounded pipeline shows, with the passages it cites, for a
reader who never saw the check; then scores that reader's labels.

    python benchmarks/grounding_support_audit.py export --index runs/medquad-index --output runs/support-audit
    # the annotator writes labels.jsonl: {"id": ..., "label": "supported" | "partial" | "unsupported"}
    python benchmarks/grounding_support_audit.py score runs/support-audit/pairs.jsonl labels_1.jsonl [labels_2.jsonl]

Questions: the frozen blind patient questions of benchmarks/data/grounding_answerable_patient.jsonl; greedy
decoding, base model unless --adapter. Rows are shuffled (seeded) so the reader cannot follow one answer's
drift. `score` prints, per reader, the share judged supported with a Wilson 95% interval (partial counts as not
supported, and is also reported on its own); with several readers, the share every reader judged supported and
their agreement (Cohen's kappa).
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

    from grounded_coverage import _batched  # the sibling benchmark's generation in batches of 8

    cfg = build_config({}, [f"index.path={args.index}"])
    generator = load_generator(cfg, {"adapter": args.adapter} if args.adapter else {})
    pipeline = AnswerPipeline.from_config(cfg)
    gen = cfg.generation.model_copy(update={"temperature": 0.0, "max_new_tokens": args.max_new_tokens})
    items = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    prepared = [pipeline.prepare([{"role": "user", "content": q["text"]}]) for q in items]
    asked = [i for i, p in enumerate(prepared) if not p.abstains]
    raw = _batched(generator, [prepared[i].prompt for i in asked], gen, "adapter" if args.adapter else BASE)
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


def _labels(path: str, ids: list[str]) -> dict[str, str]:
    labels = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("label") not in LABELS:
                raise SystemExit(f"{path}: label {row.get('label')!r} for {row.get('id')}: expected one of {LABELS}")
            labels[row["id"]] = row["label"]
    missing = [i for i in ids if i not in labels]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} sentences have no label, first {missing[0]}")
    return labels


def _share(name: str, supported: int, n: int, counts: Counter) -> str:
    from medqa.safety.evaluation import wilson

    lo, hi = wilson(supported, n)
    return (f"{name}: supported {supported}/{n} = {supported / n:.3f} [Wilson 95% {lo:.3f}-{hi:.3f}]; "
            f"partial {counts['partial']}, unsupported {counts['unsupported']}")


def score(args: argparse.Namespace) -> None:
    ids = [json.loads(line)["id"] for line in Path(args.pairs).read_text(encoding="utf-8").splitlines() if line]
    readers = [_labels(path, ids) for path in args.labels]
    for path, labels in zip(args.labels, readers):
        counts = Counter(labels[i] for i in ids)
        print(_share(Path(path).name, counts["supported"], len(ids), counts))
    if len(readers) > 1:
        from sklearn.metrics import cohen_kappa_score

        both = sum(all(r[i] == "supported" for r in readers) for i in ids)
        print(_share("supported for every reader", both, len(ids), Counter()).split(";")[0])
        for a in range(len(readers)):
            for b in range(a + 1, len(readers)):
                agree = sum(readers[a][i] == readers[b][i] for i in ids) / len(ids)
                kappa = cohen_kappa_score([readers[a][i] for i in ids], [readers[b][i] for i in ids])
                print(f"readers {a + 1} and {b + 1}: agreement {agree:.3f}, Cohen's kappa {kappa:.3f}")


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
    p.add_argument("labels", nargs="+", help="one labels file per reader")
    p.set_defaults(fn=score)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
