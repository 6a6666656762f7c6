"""Text fingerprints shared by near-duplicate removal and the contamination check.

A text becomes the sequence of its normalised words (lower case, punctuation dropped: the same form as
`cleaning.normalise_key`), each word a stable 32-bit CRC (computed in C, faster than a dictionary cache). Everything downstream is numpy on these arrays:
shingle hashes for MinHash (medqa.data.dedup) and word n-gram hashes for contamination
(medqa.data.contamination). Hashes are stable across processes and machines, so a prepared folder is
reproducible; Python's own `hash()` of a string is not.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for polynomial combination
MASK32 = np.uint64(0xFFFFFFFF)
# ASCII fast path: lower-case letters, keep digits and "_", everything else separates words (as \w+ does).
_ASCII_WORDS = bytes((c + 32 if 65 <= c <= 90 else c) if chr(c).isalnum() or c == 95 else 32 for c in range(128)) \
    + bytes(range(128, 256))


def words(text: str) -> list[bytes]:
    """Normalised words as UTF-8 bytes: `b" ".join(words(t)).decode() == normalise_key(t)`."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).split()
    return [w.encode("utf-8", "surrogatepass") for w in _WORD.findall(text.lower())]


def hash_words(ws: list[bytes]) -> np.ndarray:
    """Stable 32-bit hashes (CRC-32) of words, as uint64 for the arithmetic that follows."""
    return np.fromiter(map(zlib.crc32, ws), dtype=np.uint64, count=len(ws))


def rolling_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """One 64-bit hash per run of `n` consecutive words (empty when the text is shorter than n words)."""
    count = len(word_hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = word_hashes[:count].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            acc = acc * _MIX + word_hashes[j:j + count]
    return acc


def shingle_hashes(word_hashes: np.ndarray, k: int) -> np.ndarray:
    """32-bit hashes of the k-word shingles of a text; a text shorter than k words is one shingle."""
    if len(word_hashes) == 0:
        return np.zeros(1, dtype=np.uint64)
    grams = rolling_hashes(word_hashes, min(k, len(word_hashes)))
    return (grams ^ (grams >> np.uint64(32))) & MASK32
