"""Where rows come from: the embedded set, local files (.json, .jsonl, .csv, .parquet), a MedQuAD folder of
XML files (medqa.data.medquad) or a Hub dataset id.

Readers stream: each yields `RawRow`s one at a time, so a 100k-row file is never held twice. A row that
cannot be parsed is yielded with an `error` instead of stopping the run; the caller quarantines it. Lines
that are not UTF-8 are read as Windows-1252 (then Latin-1), and cleaning repairs what it can.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
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
    note: str | None = None  # a repaired problem worth counting, e.g. a line that was not UTF-8


def embedded_paths() -> list[Path]:
    return [EMBEDDED_DIR / name for name in EMBEDDED_FILES]


def iter_rows(source: str, hub_split: str = "train") -> Iterator[RawRow]:
    """Yield raw rows from `source`: 'embedded', a local file, or a Hub dataset id."""
    if source == "embedded":
        for path in embedded_paths():
            yield from _iter_jsonl(path)
        return
    path = Path(source)
    if path.is_dir():
        from medqa.data.medquad import is_medquad_dir, iter_medquad

        if not is_medquad_dir(path):
            raise DataError(f"{source} is a folder without MedQuAD XML files: pass a data file or a MedQuAD folder")
        yield from iter_medquad(path)
        return
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
        return  # nothing to read: in a mix the other sources go on; alone, prepare reports an empty input
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
        pass
    # Keep the row but say so: most non-UTF-8 text in the wild is Windows-1252, and Latin-1 never fails.
    try:
        return raw.decode("cp1252"), "not valid UTF-8 (read as Windows-1252)"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "not valid UTF-8 (read as Latin-1)"


def _iter_jsonl(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            text, note = _decode(raw)
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                yield RawRow(str(path), n, None, f"malformed JSON: {err.msg}")
                continue
            except RecursionError:
                yield RawRow(str(path), n, None, "malformed JSON: nested too deeply")
                continue
            if not isinstance(obj, dict):
                yield RawRow(str(path), n, None, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield RawRow(str(path), n, obj, note=note)


def _iter_json(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
    if not head.startswith(b"["):  # many ".json" files are JSON Lines (MedMCQA's dev.json is)
        yield from _iter_jsonl(path)
        return
    for line, obj in _stream_json_array(path):
        if isinstance(obj, dict):
            yield RawRow(str(path), line, obj)
        else:
            yield RawRow(str(path), line, None, f"expected a JSON object, got {type(obj).__name__}")


def _stream_json_array(path: Path, chunk_chars: int = 1 << 20) -> Iterator[tuple[int, Any]]:
    """Yield (line, element) of a top-level JSON array without loading the whole array as Python objects."""
    decoder = json.JSONDecoder()
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        buf, line, counted, eof = fh.read(chunk_chars), 1, 0, False  # `line` is the line of buf[counted]
        pos = buf.index("[") + 1
        while True:
            while True:  # skip separators, reading more text when the buffer runs out
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buf) or eof:
                    break
                more = fh.read(chunk_chars)
                eof = not more
                buf, line, pos, counted = buf[pos:] + more, line + buf.count("\n", counted, pos), 0, 0
            if pos >= len(buf) or buf[pos] == "]":
                return
            try:
                obj, end = decoder.raw_decode(buf, pos)
            except (json.JSONDecodeError, RecursionError) as err:
                more = "" if eof else fh.read(chunk_chars)
                if not more:
                    at = line + buf.count("\n", counted, pos)
                    raise DataError(f"{path}: not valid JSON near line {at} ({getattr(err, 'msg', 'nested too deeply')}); "
                                    "fix the file or convert it to JSON Lines so that bad rows can be skipped one by "
                                    "one") from None
                eof = False
                buf, line, pos, counted = buf[pos:] + more, line + buf.count("\n", counted, pos), 0, 0
                continue
            line, counted = line + buf.count("\n", counted, pos), pos
            yield line, obj
            pos = end


def _csv_lines(fh: io.TextIOBase) -> Iterator[str]:
    for line in fh:
        yield line.replace("\x00", "")  # the csv module refuses NUL bytes


def _iter_csv(path: Path) -> Iterator[RawRow]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long answers are data, not an attack
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(_csv_lines(fh))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield RawRow(str(path), reader.line_num, None, f"malformed CSV: {err}")
                continue
            if None in row:  # more cells than header columns
                yield RawRow(str(path), reader.line_num, None, "row has more cells than the header")
                continue
            yield RawRow(str(path), reader.line_num, dict(row))


def _iter_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    n = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for obj in batch.to_pylist():
                n += 1
                yield RawRow(str(path), n, obj)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path}: unreadable Parquet after {n} rows ({err}); re-export the file") from None


def _iter_hub(dataset_id: str, split: str) -> Iterator[RawRow]:
    try:
        from datasets import load_dataset

        ds = load_dataset(dataset_id, split=split, streaming=True)
        for n, obj in enumerate(ds, start=1):
            yield RawRow(dataset_id, n, dict(obj))
    except Exception as err:  # network, auth, missing split: all end the same way for the user
        raise DataError(f"could not read Hub dataset {dataset_id!r} (split {split!r}): {err}. Check the id and "
                        "your network/HF_TOKEN, or download it and pass the local file instead") from None
