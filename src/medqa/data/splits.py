"""Deterministic train/validation/test assignment by a hash of the normalised question, or of the row's group.

A row's split depends only on its own question text (and a salt), so adding or reordering rows never moves
another row, and a question asked twice always lands in the same split. Rows with a group (`group_field`,
e.g. a MedQuAD document) are hashed by the group instead, so related rows share a split.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from medqa.data.cleaning import normalise_key

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")


def bucket(key: str, salt: str = "medqa") -> float:
    """Map a key to a stable number in [0, 1)."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(question: str, val_fraction: float, test_fraction: float, salt: str = "medqa",
                 group: str | None = None) -> Split:
    return assign_split_key(split_key(normalise_key(question), group), val_fraction, test_fraction, salt)


def split_key(normalised_question: str, group: str | None) -> str:
    """What a row's split is hashed from: its group when it has one, else its normalised question."""
    return f"group\x00{group}" if group else normalised_question


def assign_split_key(key: str, val_fraction: float, test_fraction: float, salt: str = "medqa") -> Split:
    b = bucket(key, salt)
    if b < test_fraction:
        return "test"
    if b < test_fraction + val_fraction:
        return "validation"
    return "train"
