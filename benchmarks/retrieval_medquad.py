"""Retrieval on MedQuAD: recall@1/5/10 of BM25, dense and fused retrieval for held-out questions whose source
passage is known, with build time, index size and query latency p50/p95.

    python benchmarks/retrieval_medquad.py [--medquad ../shared/data/medquad] [--index runs/medquad-index]
                                           [--questions 500] [--seed 0]

The index is built over every MedQuAD answer (reused when `--index` already holds one built with the same
settings). Passages are titled by their document's focus and section type, never by their question, so a
question does not find itself. A question counts as answered at k when one of the top k passages is a chunk of
its own answer, or a chunk whose text is part of its answer (duplicated answers are indexed once). The questions
are a seeded sample of all QA pairs with an answer; nothing in medqa was tuned on them.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

K = (1, 5, 10)


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    from medqa.config import IndexConfig
    from medqa.data.medquad import iter_medquad
    from medqa.retrieval.chunking import normalized
    from medqa.retrieval.index import MANIFEST, Index, build_index
    from medqa.safety.evaluation import wilson

    ap = argparse.ArgumentParser()
    ap.add_argument("--medquad", default="../shared/data/medquad")
    ap.add_argument("--index", default="runs/medquad-index")
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg, out = IndexConfig(), Path(args.index)

    if (out / MANIFEST).is_file():
        print(f"reusing {out} (delete it to time a fresh build)")
    else:
        build_index([args.medquad], out, cfg)
    manifest = json.loads((out / MANIFEST).read_text())
    index = Index.load(out, cfg)
    pairs = [{**r.fields, "doc_id": f"{r.source}#{r.line}"} for r in iter_medquad(Path(args.medquad))
             if r.fields and (r.fields.get("answer") or "").strip()]
    sample = random.Random(args.seed).sample(pairs, min(args.questions, len(pairs)))

    by_doc: dict[str, list[int]] = {}
    for i, chunk in enumerate(index.chunks):
        by_doc.setdefault(chunk.doc_id, []).append(i)
    texts = [normalized(c.text) for c in index.chunks]

    def relevant(pair: dict) -> set[str]:
        own = {index.chunks[i].text for i in by_doc.get(pair["doc_id"], [])}
        if own:
            return own
        answer = normalized(pair["answer"])  # its answer was a duplicate: the kept copy's chunks count
        return {c.text for c, t in zip(index.chunks, texts) if t and t in answer}

    results: dict[str, dict[int, list[bool]]] = {f: {k: [] for k in K} for f in ("bm25", "dense", "rrf")}
    latency: dict[str, list[float]] = {f: [] for f in results}
    for pair in sample:
        gold = relevant(pair)
        for fusion in results:
            t0 = time.perf_counter()
            hits = index.search(pair["question"], max(K), fusion)
            latency[fusion].append(time.perf_counter() - t0)
            found = [h.chunk.text in gold for h in hits]
            for k in K:
                results[fusion][k].append(any(found[:k]))

    counts = manifest["counts"]
    print(f"\nindex: {counts['documents']} answers → {counts['chunks']} passages ({counts['dropped_exact']} exact and "
          f"{counts['dropped_near']} near duplicates dropped), built in {manifest['build_seconds']} s, "
          f"{folder_bytes(out) / 2**20:.1f} MiB on disk")
    print(f"{len(sample)} held-out questions (seed {args.seed}); recall@k with Wilson 95% intervals:")
    for fusion, by_k in results.items():
        cells = []
        for k, flags in by_k.items():
            lo, hi = wilson(sum(flags), len(flags)) or (0.0, 1.0)
            cells.append(f"@{k} {float(np.mean(flags)):.3f} [{lo:.3f}-{hi:.3f}]")
        ms = np.array(latency[fusion]) * 1000
        print(f"  {fusion:5s}  " + "  ".join(cells) + f"  latency p50 {np.percentile(ms, 50):.1f} ms, "
              f"p95 {np.percentile(ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
