"""Brute-force cosine search over unit vectors, with an on-disk vector cache.

Why brute force: the exemplar bank holds about a thousand sentences, so one matrix product per query is
exact and takes well under a millisecond. Vectors are cached as a NumPy file (never pickle) keyed by the
texts and the encoder, so a process embeds the bank once per change rather than at every start.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def cache_dir() -> Path:
    from medqa.modeling.embedded import medqa_home

    return medqa_home() / "vectors"


def cached_vectors(encoder: Encoder, texts: Sequence[str], cache: Path | None = None) -> np.ndarray:
    """``encoder.encode(texts)``, read from / written to a cache file named by a hash of both."""
    digest = hashlib.sha256("\n".join([encoder.name, *texts]).encode("utf-8")).hexdigest()[:24]
    path = (cache or cache_dir()) / f"{digest}.npy"
    if path.is_file():
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = encoder.encode(list(texts))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(handle.name, path)
    except OSError:  # a read-only home only costs the cache
        pass
    return vectors


class DenseIndex:
    """Unit vectors of a fixed list of texts; ``search`` returns the best k rows per query."""

    def __init__(self, encoder: Encoder, vectors: np.ndarray) -> None:
        self.encoder = encoder
        self.vectors = vectors

    @classmethod
    def build(cls, encoder: Encoder, texts: Sequence[str], cache: Path | None = None) -> "DenseIndex":
        return cls(encoder, cached_vectors(encoder, texts, cache))

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each query to every row: shape (len(queries), rows)."""
        if not queries:
            return np.zeros((0, len(self.vectors)), dtype=np.float32)
        return self.encoder.encode(list(queries)) @ self.vectors.T
