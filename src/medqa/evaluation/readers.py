"""Readers for multiple-choice benchmarks, all mapped onto one `MCQItem`, and the seeded stratified `--limit`.

    medqa eval --task mcq --mcq-file /path/to/ori_pqal.json --limit 50

Formats (`--mcq-format`, detected from the file when not given):

* pubmedqa: `ori_pqal.json`, an object keyed by PMID with QUESTION, CONTEXTS and final_decision (yes/no/maybe).
  When `test_ground_truth.json` lies beside it, only its PMIDs (the official 500-item test split) are read.
* medmcqa: JSON lines with question, opa..opd, `cop` (1-based correct option) and subject_name.
* mmlu: CSV without header (question, A, B, C, D, answer letter); a folder of `*_test.csv` files gives one
  subject per file.
* medqa: JSON lines with question, `options` (letter → text) and `answer_idx` (a letter); meta_info, when
  present, is the subject.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from medqa.errors import DataError

FORMATS = ("pubmedqa", "medmcqa", "mmlu", "medqa")
LETTERS = "ABCDEFGHIJ"
PUBMEDQA_LABELS = ("yes", "no", "maybe")
T = TypeVar("T")


@dataclass(frozen=True)
class MCQItem:
    id: str
    question: str
    options: tuple[str, ...]
    gold: int  # 0-based index into options
    subject: str | None = None
    context: str | None = None

    @property
    def gold_letter(self) -> str:
        return LETTERS[self.gold]


def detect_format(path: Path) -> str:
    """Guess the benchmark format from the path and its first record."""
    if path.is_dir() or path.suffix.lower() == ".csv":
        return "mmlu"
    with path.open(encoding="utf-8", errors="replace") as fh:
        first = fh.readline().strip()
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and "cop" in obj:
        return "medmcqa"
    if isinstance(obj, dict) and "answer_idx" in obj:
        return "medqa"
    one_line_pubmedqa = isinstance(obj, dict) and any(isinstance(v, dict) and "QUESTION" in v for v in obj.values())
    if path.name == "ori_pqal.json" or one_line_pubmedqa or (first.startswith("{") and obj is None):
        return "pubmedqa"  # an object keyed by PMID, usually pretty-printed over many lines
    raise DataError(f"{path}: cannot tell the benchmark format; pass --mcq-format one of {', '.join(FORMATS)}")


def read_mcq(path: str | Path, fmt: str | None = None) -> list[MCQItem]:
    """Read a benchmark file (or MMLU folder) into MCQ items; rows missing a field are skipped."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist: pass a benchmark file or an MMLU folder with --mcq-file")
    fmt = fmt or detect_format(path)
    readers: dict[str, Callable[[Path], list[MCQItem]]] = {
        "pubmedqa": read_pubmedqa, "medmcqa": read_medmcqa, "mmlu": read_mmlu, "medqa": read_medqa}
    if fmt not in readers:
        raise DataError(f"unknown --mcq-format {fmt!r}: use one of {', '.join(FORMATS)}")
    items = readers[fmt](path)
    if not items:
        raise DataError(f"{path} holds no usable {fmt} questions; check --mcq-format")
    return items


def read_pubmedqa(path: Path) -> list[MCQItem]:
    """PubMedQA PQA-L; the official test PMIDs when `test_ground_truth.json` is beside the file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    truth = path.with_name("test_ground_truth.json")
    ids = list(json.loads(truth.read_text(encoding="utf-8"))) if truth.is_file() else list(data)
    items = []
    for pmid in ids:
        row = data.get(pmid) or {}
        label = str(row.get("final_decision", "")).lower()
        if not row.get("QUESTION") or label not in PUBMEDQA_LABELS:
            continue
        items.append(MCQItem(id=str(pmid), question=row["QUESTION"].strip(), options=PUBMEDQA_LABELS,
                             gold=PUBMEDQA_LABELS.index(label), context=" ".join(row.get("CONTEXTS") or []) or None))
    return items


def _json_lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                obj = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                rows.append(obj)
    return rows


def read_medmcqa(path: Path) -> list[MCQItem]:
    """MedMCQA JSON lines; `cop` is 1-based (1 = opa)."""
    items = []
    for n, row in enumerate(_json_lines(path), start=1):
        options = tuple(str(row.get(k) or "").strip() for k in ("opa", "opb", "opc", "opd"))
        cop = row.get("cop")
        if not row.get("question") or not isinstance(cop, int) or not 1 <= cop <= 4 or not all(options):
            continue
        items.append(MCQItem(id=str(row.get("id", n)), question=str(row["question"]).strip(), options=options,
                             gold=cop - 1, subject=row.get("subject_name")))
    return items


def read_mmlu(path: Path) -> list[MCQItem]:
    """MMLU CSVs without header; a folder reads every `*_test.csv` (or `*.csv`) with the file stem as subject."""
    files = (sorted(path.glob("*_test.csv")) or sorted(path.glob("*.csv"))) if path.is_dir() else [path]
    items = []
    for file in files:
        subject = file.stem.removesuffix("_test")
        with file.open(encoding="utf-8", errors="replace", newline="") as fh:
            for n, row in enumerate(csv.reader(fh), start=1):
                if len(row) != 6 or row[5].strip().upper() not in LETTERS[:4]:
                    continue
                items.append(MCQItem(id=f"{subject}-{n}", question=row[0].strip(),
                                     options=tuple(c.strip() for c in row[1:5]),
                                     gold=LETTERS.index(row[5].strip().upper()), subject=subject))
    return items


def read_medqa(path: Path) -> list[MCQItem]:
    """MedQA (USMLE) JSON lines: `options` maps letters to texts, `answer_idx` is the gold letter."""
    items = []
    for n, row in enumerate(_json_lines(path), start=1):
        opts = row.get("options")
        if not row.get("question") or not isinstance(opts, dict):
            continue
        letters = sorted(opts)
        gold = str(row.get("answer_idx", "")).strip().upper()
        if gold not in letters:
            continue
        items.append(MCQItem(id=str(row.get("id", n)), question=str(row["question"]).strip(),
                             options=tuple(str(opts[k]).strip() for k in letters), gold=letters.index(gold),
                             subject=row.get("meta_info")))
    return items


def stratified_sample(items: Sequence[T], n: int | None, key: Callable[[T], Any], seed: int = 0) -> list[T]:
    """A seeded sample of n items whose strata (by `key`) keep their shares (largest remainder), in input order."""
    if n is None or n >= len(items):
        return list(items)
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[str(key(item))].append(i)
    quotas = {k: n * len(v) / len(items) for k, v in groups.items()}
    alloc = {k: int(q) for k, q in quotas.items()}
    by_remainder = sorted(groups, key=lambda k: (-(quotas[k] - alloc[k]), k))
    for k in by_remainder[: n - sum(alloc.values())]:
        alloc[k] += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for k in sorted(groups):
        chosen += rng.sample(groups[k], alloc[k])
    return [items[i] for i in sorted(chosen)]


def item_stratum(item: MCQItem) -> tuple[str, str]:
    """The --limit strata of an MCQ item: subject (when known) and gold letter."""
    return (item.subject or "", item.gold_letter)
