"""Deterministic train/validation/test assignment by a hash of the normalised question.

A row's split depends only on its own question text (and a salt), so adding or reordering rows never moves
another row, and a question asked twice always lands in the same split.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from medqa.data.cleaning import normalise_key

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")


def bucket(key: str, salt: str = "medqa") -> float:
    """Map a key to a stable number in [0, 1)."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(question: str, val_fraction: float, test_fraction: float, salt: str = "medqa") -> Split:
    b = bucket(normalise_key(question), salt)
    if b < test_fraction:
        return "test"
    if b < test_fraction + val_fraction:
        return "validation"
    return "train"
