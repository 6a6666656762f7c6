"""The passage index: BM25 (bm25s) and all-MiniLM-L6-v2 vectors over the same chunks, fused by reciprocal rank.

    medqa index build ../shared/data/medquad --output indexes/medquad
    medqa index search indexes/medquad "what are the symptoms of asthma?"

On disk (no pickle anywhere): `chunks.jsonl` (text, title, URL, source per chunk), `vectors.npy` (float32 unit
vectors, one row per chunk), `bm25/` (bm25s's own NumPy arrays and JSON) and `manifest.json` (sources with their
hashes, embedder, chunking settings, counts, skipped files and rows). A build writes into a hidden sibling folder
and renames it into place only when complete, so a killed build leaves the previous index (or none), never half
of one. Loading checks the manifest: an index built with another embedder or chunking is refused.

Why brute-force vectors: exact cosine search over tens of thousands of 384-dim chunks is one matrix product
(a few ms). For millions of chunks swap `DenseSearch` for an ANN index (FAISS HNSW/IVF, or a search server such as
OpenSearch/Qdrant); `Index.search` only needs the top candidates and their similarities from it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medqa.errors import ConfigError, MedqaError
from medqa.retrieval.chunking import Chunk, chunk_documents, dedupe
from medqa.retrieval.documents import Document, Problem, file_digest, read_source

INDEX_FORMAT = 1
MANIFEST, CHUNKS, VECTORS, BM25_DIR = "manifest.json", "chunks.jsonl", "vectors.npy", "bm25"
ENCODE_BLOCK = 256  # chunks embedded between progress updates


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: the fused score ranks; `similarity` (cosine to the query) says how relevant it is."""

    chunk: Chunk
    score: float
    similarity: float
    bm25: float
    row: int  # the chunk's row in the index (its vector is `Index.vectors[row]`)


def tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


def chunking_settings(cfg: Any) -> dict[str, Any]:
    return {"max_words": cfg.chunk_words, "overlap_sentences": cfg.chunk_overlap,
            "near_duplicate_threshold": cfg.near_duplicate_threshold}


def build_index(sources: Sequence[str | Path], output: str | Path, cfg: Any, progress: bool = True,
                encoder: Any = None) -> dict[str, Any]:
    """Read, chunk, de-duplicate, embed and index `sources` into `output` (replaced atomically); returns the manifest.

    `cfg` is the config's `index:` section (medqa.config.IndexConfig). Unreadable files and rows are skipped and
    listed in the manifest's `problems`; only a build with no documents at all fails."""
    import bm25s
    from tqdm.auto import tqdm

    from medqa.retrieval.encoder import load_encoder

    t0 = time.perf_counter()
    out = Path(output)
    encoder = encoder or load_encoder()
    documents: list[Document] = []
    problems: list[Problem] = []
    listed = []
    for source in sources:
        before = len(documents), len(problems)
        for item in tqdm(read_source(source), desc=f"reading {source}", unit="doc", disable=not progress):
            (documents if isinstance(item, Document) else problems).append(item)  # type: ignore[arg-type]
        path = Path(source)
        listed.append({"path": str(source), "sha256": file_digest(path) if path.exists() else None,
                       "documents": len(documents) - before[0], "problems": len(problems) - before[1]})
    if not documents:
        raise MedqaError("no documents to index:\n  - " + "\n  - ".join(map(str, problems[:20])))
    raw = list(chunk_documents(documents, cfg.chunk_words, cfg.chunk_overlap))
    chunks, dropped = dedupe(raw, cfg.near_duplicate_threshold)
    vectors = np.zeros((len(chunks), _dim(encoder)), dtype=np.float32)
    texts = [passage_text(c) for c in chunks]
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
    with tqdm(total=len(chunks), desc="embedding", unit="chunk", disable=not progress) as bar:
        for start in range(0, len(chunks), ENCODE_BLOCK):
            block = order[start:start + ENCODE_BLOCK]
            vectors[block] = encoder.encode([texts[i] for i in block])
            bar.update(len(block))
    bm25 = bm25s.BM25()
    bm25.index(tokens(texts), show_progress=False)
    manifest = {"format": INDEX_FORMAT, "embedder": encoder.name, "dim": int(vectors.shape[1]),
                "chunking": chunking_settings(cfg), "sources": listed,
                "counts": {"documents": len(documents), "chunks_before_dedup": len(raw), "chunks": len(chunks),
                           "dropped_exact": dropped["exact"], "dropped_near": dropped["near"],
                           "problems": len(problems)},
                "problems": [str(p) for p in problems[:1000]], "build_seconds": round(time.perf_counter() - t0, 1)}
    _write_atomically(out, lambda tmp: _write(tmp, chunks, vectors, bm25, manifest))
    return manifest


def passage_text(chunk: Chunk) -> str:
    """What both retrievers see: the title carries the topic a bare passage may not name."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def _dim(encoder: Any) -> int:
    return int(getattr(encoder, "dim", None) or encoder.encode(["x"]).shape[1])


def _write(folder: Path, chunks: list[Chunk], vectors: np.ndarray, bm25: Any, manifest: dict[str, Any]) -> None:
    with open(folder / CHUNKS, "w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    np.save(folder / VECTORS, vectors, allow_pickle=False)
    bm25.save(str(folder / BM25_DIR))
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write into a hidden sibling, then swap it in; leftovers of killed builds are removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    tmp.mkdir()
    try:
        write(tmp)
        if out.exists():
            if not (out / MANIFEST).is_file():
                raise MedqaError(f"{out} exists and is not a medqa index: choose another --output")
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Index:
    """A loaded index; `search` ranks chunks for a query by the configured fusion."""

    def __init__(self, folder: Path, manifest: dict[str, Any], chunks: list[Chunk], vectors: np.ndarray, bm25: Any,
                 encoder: Any, cfg: Any) -> None:
        self.folder, self.manifest, self.chunks, self.vectors = folder, manifest, chunks, vectors
        self.bm25, self.encoder, self.cfg = bm25, encoder, cfg

    @classmethod
    def load(cls, folder: str | Path, cfg: Any, encoder: Any = None) -> Index:
        import bm25s

        from medqa.retrieval.encoder import load_encoder

        path = Path(folder)
        if not (path / MANIFEST).is_file():
            raise ConfigError(f"{path} is not a medqa index (no {MANIFEST}): build one with "
                              f"`medqa index build SOURCE... --output {path}`")
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        encoder = encoder or load_encoder()
        problems = []
        if manifest.get("format") != INDEX_FORMAT:
            problems.append(f"index format {manifest.get('format')} (this medqa reads {INDEX_FORMAT})")
        if manifest.get("embedder") != encoder.name:
            problems.append(f"built with the embedder {manifest.get('embedder')!r}, this medqa embeds with "
                            f"{encoder.name!r}")
        if manifest.get("chunking") != chunking_settings(cfg):
            problems.append(f"built with chunking {manifest.get('chunking')}, the config says "
                            f"{chunking_settings(cfg)} (index.chunk_words, index.chunk_overlap, "
                            "index.near_duplicate_threshold)")
        if problems:
            raise ConfigError(f"cannot use the index {path}: " + "; ".join(problems) + ". Rebuild it with `medqa "
                              "index build`, or set the config to the settings it was built with.")
        with open(path / CHUNKS, encoding="utf-8") as handle:
            chunks = [Chunk(**json.loads(line)) for line in handle if line.strip()]
        vectors = np.load(path / VECTORS, allow_pickle=False)
        if len(chunks) != len(vectors):
            raise ConfigError(f"{path} is damaged: {len(chunks)} chunks but {len(vectors)} vectors; rebuild it")
        bm25 = bm25s.BM25.load(str(path / BM25_DIR), allow_pickle=False)
        return cls(path, manifest, chunks, vectors, bm25, encoder, cfg)

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, query: str, k: int | None = None, fusion: str | None = None) -> list[Hit]:
        """The best `k` chunks for `query`: BM25 and dense candidates (`index.candidates` each), fused by
        reciprocal rank (1 / (rrf_k + rank), summed), or one retriever alone (`fusion`: bm25 or dense)."""
        k, fusion = k or self.cfg.k, fusion or self.cfg.fusion
        similarity = self.vectors @ self.encoder.encode([query])[0]
        lexical = np.asarray(self.bm25.get_scores(tokens([query])[0]), dtype=np.float32)
        n = min(self.cfg.candidates, len(self.chunks))
        dense_top = _top(similarity, n)
        bm25_top = _top(lexical, n)[: int(np.count_nonzero(lexical > 0))]
        if fusion == "dense":
            ranked = [(int(i), float(similarity[i])) for i in dense_top]
        elif fusion == "bm25":
            ranked = [(int(i), float(lexical[i])) for i in bm25_top]
        else:
            fused: dict[int, float] = {}
            for ranking in (dense_top, bm25_top):
                for rank, i in enumerate(ranking, start=1):
                    fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (self.cfg.rrf_k + rank)
            ranked = sorted(fused.items(), key=lambda item: -item[1])
        return [Hit(self.chunks[i], score, float(similarity[i]), float(lexical[i]), i) for i, score in ranked[:k]]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]
