"""Where rows come from: the embedded set, local files (.json, .jsonl, .csv, .parquet) or a Hub dataset id.

Readers stream: each yields `RawRow`s one at a time, so a 100k-row file is never held twice. A row that
cannot be parsed is yielded with an `error` instead of stopping the run; the caller quarantines it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from medqa.errors import DataError

EMBEDDED_DIR = Path(str(files("medqa.data").joinpath("embedded")))
EMBEDDED_FILES = ("part1.jsonl", "part2.jsonl")
LOCAL_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class RawRow:
    source: str
    line: int  # 1-based line (JSONL/CSV) or record number (JSON array, parquet, Hub)
    fields: dict[str, Any] | None
    error: str | None = None


def embedded_paths() -> list[Path]:
    return [EMBEDDED_DIR / name for name in EMBEDDED_FILES]


def iter_rows(source: str, hub_split: str = "train") -> Iterator[RawRow]:
    """Yield raw rows from `source`: 'embedded', a local file, or a Hub dataset id."""
    if source == "embedded":
        for path in embedded_paths():
            yield from _iter_jsonl(path)
        return
    path = Path(source)
    if path.exists():
        yield from _iter_local(path)
        return
    if path.suffix.lower() in LOCAL_SUFFIXES or not _HUB_ID.match(source):
        raise DataError(f"data source {source!r} does not exist: pass an existing {'/'.join(LOCAL_SUFFIXES)} file, "
                        "'embedded', or a Hugging Face dataset id such as lavita/ChatDoctor-HealthCareMagic-100k")
    yield from _iter_hub(source, hub_split)


def _iter_local(path: Path) -> Iterator[RawRow]:
    suffix = path.suffix.lower()
    if path.is_dir() or suffix not in LOCAL_SUFFIXES:
        raise DataError(f"{path}: unsupported data file; use one of {', '.join(LOCAL_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: give a file with at least one question/answer row")
    if suffix == ".jsonl":
        yield from _iter_jsonl(path)
    elif suffix == ".json":
        yield from _iter_json(path)
    elif suffix == ".csv":
        yield from _iter_csv(path)
    else:
        yield from _iter_parquet(path)


def _decode(raw: bytes) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        # Keep the row (a latin-1 reading never fails) but say so; cleaning repairs what it can.
        return raw.decode("latin-1"), "not valid UTF-8 (read as Latin-1)"


def _iter_jsonl(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            text, _ = _decode(raw)
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                yield RawRow(str(path), n, None, f"malformed JSON: {err.msg}")
                continue
            if not isinstance(obj, dict):
                yield RawRow(str(path), n, None, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield RawRow(str(path), n, obj)


def _iter_json(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
    if not head.startswith(b"["):  # many ".json" files are JSON Lines (MedMCQA's dev.json is)
        yield from _iter_jsonl(path)
        return
    try:
        data = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); fix the file or convert it "
                        "to JSON Lines so that bad rows can be skipped one by one") from None
    for n, obj in enumerate(data, start=1):
        if isinstance(obj, dict):
            yield RawRow(str(path), n, obj)
        else:
            yield RawRow(str(path), n, None, f"expected a JSON object, got {type(obj).__name__}")


def _iter_csv(path: Path) -> Iterator[RawRow]:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        for n, row in enumerate(reader, start=2):
            if None in row:  # more cells than header columns
                yield RawRow(str(path), n, None, "row has more cells than the header")
                continue
            yield RawRow(str(path), n, dict(row))


def _iter_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for obj in batch.to_pylist():
            n += 1
            yield RawRow(str(path), n, obj)


def _iter_hub(dataset_id: str, split: str) -> Iterator[RawRow]:
    try:
        from datasets import load_dataset

        ds = load_dataset(dataset_id, split=split, streaming=True)
        for n, obj in enumerate(ds, start=1):
            yield RawRow(dataset_id, n, dict(obj))
    except Exception as err:  # network, auth, missing split: all end the same way for the user
        raise DataError(f"could not read Hub dataset {dataset_id!r} (split {split!r}): {err}. Check the id and "
                        "your network/HF_TOKEN, or download it and pass the local file instead") from None
