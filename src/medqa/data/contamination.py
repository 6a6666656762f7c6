"""Contamination check: word n-gram overlap between training rows and evaluation files.

    medqa prepare --source hcm.jsonl --eval-file ../shared/data/medmcqa/dev.json --eval-file mmlu.csv

Every text field of every evaluation item (question, options, answer, context) is read, whatever the
format: JSON (array, object of objects, or JSON Lines), CSV with or without a header, Parquet, or a MedQuAD
folder. A training row (question + answer) overlaps an item when they share one normalised word n-gram
(13 words by default, the test used for GPT-3's benchmarks). Items shorter than n words cannot be matched;
their number is reported. Only hashes are kept: one uint64 per distinct evaluation n-gram.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medqa.data.fingerprints import hash_words, rolling_hashes, words
from medqa.data.sources import iter_rows
from medqa.errors import DataError


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _json_items(path: Path) -> Iterator[Any]:
    head = path.read_bytes()[:4096].lstrip()
    if head.startswith(b"{"):
        try:  # an object of objects (PubMedQA's ori_pqal.json), or one object per line
            data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            values = list(data.values())
            yield from values if all(isinstance(v, (dict, list)) for v in values) else [data]
            return
    for raw in iter_rows(str(path)):
        if raw.fields is not None:
            yield raw.fields


def eval_texts(path: str | Path) -> Iterator[str]:
    """One text per evaluation item of `path` (all of its string fields joined)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"evaluation file {p} does not exist: pass existing files to --eval-file")
    if p.suffix.lower() == ".csv":
        with p.open(encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.reader(fh):  # header or not: a header row is one harmless extra "item"
                yield " ".join(row)
        return
    items = _json_items(p) if p.suffix.lower() in (".json", ".jsonl") else (r.fields for r in iter_rows(str(p)))
    for item in items:
        if item is not None:
            yield " ".join(_strings(item))


@dataclass
class EvalIndex:
    """Sorted distinct n-gram hashes of the evaluation items, and which item each came from."""

    ngram: int
    hashes: np.ndarray
    owners: np.ndarray  # index into `items` for each hash
    items: list[tuple[str, int, str]]  # (file, item number, first 120 characters)
    items_per_file: dict[str, int] = field(default_factory=dict)
    too_short: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"ngram": self.ngram, "eval_items": self.items_per_file, "eval_ngrams": int(len(self.hashes)),
                "eval_items_shorter_than_ngram": self.too_short}


def build_eval_index(paths: list[str], ngram: int) -> EvalIndex:
    chunks, owners, items, per_file, too_short = [], [], [], {}, 0
    for path in paths:
        count = 0
        for count, text in enumerate(eval_texts(path), start=1):
            grams = rolling_hashes(hash_words(words(text)), ngram)
            if len(grams) == 0:
                too_short += 1
                continue
            chunks.append(grams)
            owners.append(np.full(len(grams), len(items), dtype=np.int64))
            items.append((str(path), count, " ".join(text.split())[:120]))
        per_file[str(path)] = count
    hashes = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.uint64)
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    hashes, first = np.unique(hashes, return_index=True)
    return EvalIndex(ngram, hashes, owner[first], items, per_file, too_short)


def find_overlaps(index: EvalIndex, word_hash_lists: list[np.ndarray]) -> list[int | None]:
    """For each text (as word hashes), the index of an evaluation item it shares an n-gram with, or None."""
    out: list[int | None] = [None] * len(word_hash_lists)
    if len(index.hashes) == 0:
        return out
    for i, wh in enumerate(word_hash_lists):
        grams = rolling_hashes(wh, index.ngram)
        if len(grams) == 0:
            continue
        pos = np.searchsorted(index.hashes, grams)
        pos[pos == len(index.hashes)] = 0
        hit = np.flatnonzero(index.hashes[pos] == grams)
        if len(hit):
            out[i] = int(index.owners[pos[hit[0]]])
    return out
