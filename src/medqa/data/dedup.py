"""Duplicate removal: exact (hash of the normalised question and answer) and near (MinHash + LSH).

Both keep hashes only, never the texts: 16 bytes per kept row for exact duplicates, and for near duplicates
a `num_perm`-value MinHash signature (uint32) plus one band key per LSH band. A row is a near duplicate when
its signature shares a band with a kept row and the two signatures agree on at least `threshold` of their
values (the MinHash estimate of the Jaccard similarity of their word-shingle sets). The first row seen is
kept, so the outcome depends only on the input order.
"""

from __future__ import annotations

import hashlib

import numpy as np

from medqa.config import NearDupConfig
from medqa.data.fingerprints import shingle_hashes

_MAX_CELLS = 1 << 22  # permutations x shingles per numpy block: bounds memory to ~16 MB


def pair_key(question_key: bytes, answer_key: bytes) -> bytes:
    """Exact-duplicate key from normalised texts (`b" ".join(fingerprints.words(text))`): case, spacing and
    punctuation ignored."""
    return hashlib.blake2b(question_key + b"\x00" + answer_key, digest_size=16).digest()


def _integral(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows per band minimising false positives plus false negatives around `threshold`."""
    s = np.linspace(0.0, 1.0, 201)
    best, best_err = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        rows = num_perm // bands
        p = 1.0 - (1.0 - s ** rows) ** bands  # probability that a pair of similarity s shares a band
        fp = _integral(np.where(s < threshold, p, 0.0), s)
        fn = _integral(np.where(s >= threshold, 1.0 - p, 0.0), s)
        if fp + fn < best_err:
            best, best_err = (bands, rows), fp + fn
    return best


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiply-add hash functions on 32-bit words: x -> a*x + b mod 2**32 with odd a, a bijection each."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64).astype(np.uint32) * np.uint32(2) + np.uint32(1)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def minhash(shingle_lists: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signatures (rows x permutations, uint32) of many shingle sets, computed in bounded numpy blocks."""
    out = np.empty((len(shingle_lists), len(a)), dtype=np.uint32)
    start = 0
    while start < len(shingle_lists):
        end, cells = start, 0
        while end < len(shingle_lists) and (end == start or cells + len(shingle_lists[end]) * len(a) <= _MAX_CELLS):
            cells += len(shingle_lists[end]) * len(a)
            end += 1
        block = shingle_lists[start:end]
        flat = np.concatenate(block).astype(np.uint32)
        offsets = np.cumsum([0] + [len(x) for x in block[:-1]])
        with np.errstate(over="ignore"):
            hashed = a[:, None] * flat[None, :]
            hashed += b[:, None]
        out[start:end] = np.minimum.reduceat(hashed, offsets, axis=1).T
        start = end
    return out


class MinHasher:
    """MinHash signatures of word-shingle sets under one seeded family of hash functions (any process)."""

    def __init__(self, cfg: NearDupConfig) -> None:
        self.shingle_words = cfg.shingle_words
        self.a, self.b = _permutations(cfg.num_perm, cfg.seed)

    def signatures(self, word_hash_lists: list[np.ndarray]) -> np.ndarray:
        shingles = [shingle_hashes(w, self.shingle_words) for w in word_hash_lists]
        return minhash(shingles, self.a, self.b)


class NearDuplicateIndex:
    """MinHash/LSH index of kept rows; `add_if_new` answers 'is this a near duplicate?' and remembers new rows."""

    def __init__(self, cfg: NearDupConfig) -> None:
        self.cfg = cfg
        self.bands, self.rows = lsh_params(cfg.threshold, cfg.num_perm)
        self.hasher = MinHasher(cfg)
        self.tables: list[dict[int, int]] = [{} for _ in range(self.bands)]
        self.signatures = np.empty((1024, cfg.num_perm), dtype=np.uint32)
        self.size = 0

    def signatures_of(self, word_hash_lists: list[np.ndarray]) -> np.ndarray:
        return self.hasher.signatures(word_hash_lists)

    def _band_keys(self, sig: np.ndarray) -> list[int]:
        r = self.rows
        return [hash(sig[i * r:(i + 1) * r].tobytes()) for i in range(self.bands)]

    def add_if_new(self, sig: np.ndarray) -> int | None:
        """The index of a kept row this signature nearly duplicates, or None after adding it as a new row."""
        keys = self._band_keys(sig)
        seen: set[int] = set()
        for table, key in zip(self.tables, keys):
            other = table.get(key)
            if other is not None and other not in seen:
                seen.add(other)
                if np.count_nonzero(self.signatures[other] == sig) >= self.cfg.threshold * len(sig):
                    return other
        if self.size == len(self.signatures):
            self.signatures = np.concatenate([self.signatures, np.empty_like(self.signatures)])
        self.signatures[self.size] = sig
        for table, key in zip(self.tables, keys):
            table.setdefault(key, self.size)
        self.size += 1
        return None
