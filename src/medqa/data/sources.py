"""Where rows come from: the embedded set, local files (.json, .jsonl, .csv, .parquet), a MedQuAD folder of
XML files (medqa.data.medquad) or a Hub dataset id.

Readers stream: each yields `RawRow`s one at a time, so a 100k-row file is never held twice. A row that
cannot be parsed is yielded with an `error` and its line instead of stopping the run; the caller quarantines
it. Lines that are not UTF-8 are read as Windows-1252 (then Latin-1), and cleaning repairs what it can; files
with a UTF-16/32 byte-order mark are read in that encoding, and a UTF-8 mark is dropped. Lone surrogates from
JSON escapes ("\\ud800") become U+FFFD. Such repairs are counted through `RawRow.note`.
"""

from __future__ import annotations

import codecs
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
    line: int  # 1-based line (JSONL; CSV: a record's last line; JSON array: an element's first) or record number
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


def _wide_encoding(path: Path) -> str | None:
    """'utf-16' or 'utf-32' for a file written in it with a byte-order mark (Excel and PowerShell write such
    files), else None: UTF-8, with or without its own mark. A UTF-8 file whose first line happens to start
    with such a mark is told apart by its newline bytes, which do not read as newlines in UTF-16/32 (that
    would take a NUL byte beside each)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    candidates = [name for name, marks in (("utf-32", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),
                                           ("utf-16", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)))
                  if head.startswith(marks)]  # UTF-32-LE's mark starts like UTF-16-LE's
    return next((wide for wide in candidates if _reads_as(head, wide)), None)


def _reads_as(head: bytes, wide: str) -> bool:
    """Most newline bytes of `head` read as newlines in `wide` (a few may belong to characters such as U+200A)."""
    raw = head.count(b"\n")
    return raw == 0 or 2 * head.decode(wide, errors="replace").count("\n") > raw


def _open_text(path: Path) -> io.TextIOWrapper:
    return path.open("r", encoding=_wide_encoding(path) or "utf-8-sig", errors="replace")


def _lines(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(1-based line, text, note) of every line, split at "\n" only, as JSON Lines and CSV define lines. UTF-8
    lines are decoded one by one, so one line in another encoding costs that line only; a UTF-8 byte-order
    mark (also one left mid-file by concatenating files) is dropped."""
    wide = _wide_encoding(path)
    if wide:
        with path.open("r", encoding=wide, errors="replace", newline="\n") as fh:
            for n, text in enumerate(fh, start=1):
                yield n, text, None
        return
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            while raw.startswith(codecs.BOM_UTF8):  # two marks: a file saved "as UTF-8 with BOM" twice
                raw = raw[3:]
            text, note = _decode(raw)
            yield n, text, note


def _parse_int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # past Python's 4300-digit limit: a number, not a reason to stop reading
        return float(text)


_JSON = json.JSONDecoder(parse_int=_parse_int)
_JSON_SPACE = " \t\r\n"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a "\ud800"-style escape, maybe half of a pair
SURROGATE_NOTE = "lone surrogate escape (replaced by U+FFFD)"


def _scrub(value: Any, found: list[int]) -> Any:
    """`value` with lone surrogates (JSON escapes such as "\\ud800" without their pair) replaced by U+FFFD:
    they cannot be written as UTF-8 and the tokenizer refuses them. `found` counts the strings changed."""
    if isinstance(value, str):
        fixed = _SURROGATE.sub("\ufffd", value)
        if fixed != value:
            found.append(1)
        return fixed
    if isinstance(value, list):
        return [_scrub(v, found) for v in value]
    if isinstance(value, dict):
        return {_scrub(k, found): _scrub(v, found) for k, v in value.items()}
    return value


def _json_row(source: str, line: int, obj: Any, escapes: bool, note: str | None = None) -> RawRow:
    """A row from a decoded JSON value; `escapes`: its text holds surrogate escapes worth scrubbing."""
    if not isinstance(obj, dict):
        return RawRow(source, line, None, f"expected a JSON object, got {type(obj).__name__}")
    if escapes:
        found: list[int] = []
        try:
            obj = _scrub(obj, found)
        except RecursionError:
            return RawRow(source, line, None, "malformed JSON: nested too deeply")
        if found:
            note = f"{note}; {SURROGATE_NOTE}" if note else SURROGATE_NOTE
    return RawRow(source, line, obj, note=note)


def _iter_jsonl(path: Path) -> Iterator[RawRow]:
    for n, text, note in _lines(path):
        if not text.strip(_JSON_SPACE):
            continue  # a blank line is no row; any other junk is one, and is quarantined
        try:
            obj = _JSON.decode(text)
        except json.JSONDecodeError as err:
            yield RawRow(str(path), n, None, f"malformed JSON: {err.msg}")
            continue
        except (ValueError, RecursionError):
            yield RawRow(str(path), n, None, "malformed JSON: nested too deeply or unreadable number")
            continue
        yield _json_row(str(path), n, obj, _SURROGATE_ESCAPE.search(text) is not None, note)


def _iter_json(path: Path) -> Iterator[RawRow]:
    if not _is_json_array(path):  # many ".json" files are JSON Lines (MedMCQA's dev.json is)
        yield from _iter_jsonl(path)
        return
    with _open_text(path) as fh:
        reader = _ArrayReader(fh, str(path))
        while reader.next_element():
            yield reader.row()
        trailing = reader.trailing()
        if trailing is not None:
            yield trailing


def _first_line(fh: io.TextIOBase, limit: int = 1 << 20) -> str:
    """The first non-blank line (at most `limit` characters of it), or "" at the end of the file."""
    line = fh.readline(limit)
    while line and not line.strip():
        line = fh.readline(limit)
    return line


def _is_json_array(path: Path) -> bool:
    """True when a .json file holds one array. JSON Lines is told apart by its first line: a whole value with
    more lines after it (an array there is one row, not the start of the file)."""
    with _open_text(path) as fh:
        first = _first_line(fh)
        if not first.lstrip().startswith("["):
            return False
        if not first.endswith("\n"):
            return True  # a long minified array, or the file's only line
        try:
            _JSON.decode(first)
        except (ValueError, RecursionError):
            return True  # the array goes on after its first line
        return not _first_line(fh)


class _ArrayReader:
    """The elements of a top-level JSON array, read a chunk at a time so the array is never held as Python
    objects. An array cut short (a truncated download) gives its complete elements and one bad row for the
    cut one; a syntax error inside the array stops the file with its line, because the next element cannot
    be found reliably after it."""

    def __init__(self, fh: io.TextIOBase, source: str, chunk_chars: int = 1 << 20) -> None:
        self.fh, self.source, self.chunk = fh, source, chunk_chars
        self.buf, self.pos, self.line, self.counted, self.eof = "", 0, 1, 0, False  # line: line of buf[counted]
        self.refill()
        while "[" not in self.buf and not self.eof:
            self.refill()
        self.pos = self.buf.find("[") + 1

    def refill(self) -> None:
        """Drop the text before `pos` (counting its lines) and append the next chunk, as long as what is left:
        an element of many chunks is then decoded a logarithmic number of times, not once per chunk."""
        more = self.fh.read(max(self.chunk, len(self.buf) - self.pos))
        self.line += self.buf.count("\n", self.counted, self.pos)
        self.buf, self.pos, self.counted, self.eof = self.buf[self.pos:] + more, 0, 0, not more

    def next_element(self) -> bool:
        """Move to the start of the next element; False at the closing bracket or the end of the text."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n,":
                self.pos += 1
            if self.pos < len(self.buf) or self.eof:
                break
            self.refill()
        if self.pos >= len(self.buf) or self.buf[self.pos] == "]":
            return False
        self.line, self.counted = self.line + self.buf.count("\n", self.counted, self.pos), self.pos
        return True

    def row(self) -> RawRow:
        """The element at `pos` as a row, reading more text while it runs past the end of the buffer."""
        while True:
            try:
                obj, end = _JSON.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as err:
                if err.pos < len(self.buf) - 16 and not err.msg.startswith("Unterminated string"):
                    self._fail(err.msg, err.pos)
                if self.eof:
                    self.pos = len(self.buf)
                    return RawRow(self.source, self.line, None, f"broken JSON at the end of the file, a truncated "
                                  f"download? ({err.msg})")
                self.refill()
                continue
            except (ValueError, RecursionError):
                self._fail("nested too deeply or unreadable number", self.pos)
            # a number cut at the chunk's edge ("12" | "3", "1" | "e5") decodes early: read on and decode again
            number = isinstance(obj, (int, float)) and not isinstance(obj, bool)
            if self.eof or end < len(self.buf) - (3 if number else 0):
                break
            self.refill()
        escapes = _SURROGATE_ESCAPE.search(self.buf, self.pos, end) is not None
        self.pos = end
        return _json_row(self.source, self.line, obj, escapes)

    def trailing(self) -> RawRow | None:
        """After the last element: a bad row for text after the closing bracket (JSON Lines appended to an
        array, say), so that it is counted rather than silently ignored."""
        if self.pos >= len(self.buf):
            return None  # the text ended without "]": the last element was complete
        self.pos += 1
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.buf) or self.eof:
                break
            self.refill()
        if self.pos >= len(self.buf):
            return None
        line = self.line + self.buf.count("\n", self.counted, self.pos)
        return RawRow(self.source, line, None, "text after the end of the JSON array (the rest is not read)")

    def _fail(self, msg: str, pos: int) -> None:
        at = self.line + self.buf.count("\n", self.counted, pos)
        raise DataError(f"{self.source}: not valid JSON near line {at} ({msg}); fix the file or convert it to JSON "
                        "Lines so that bad rows can be skipped one by one") from None


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


def _csv_lines(path: Path, notes: list[str]) -> Iterator[str]:
    """Lines for the csv module, decoded one by one as in JSON Lines (`notes` collects the fallbacks). A lone
    "\r" ends a line as it does in text mode, and NUL bytes go: the csv module refuses them."""
    for _, text, note in _lines(path):
        if note:
            notes.append(note)
        for piece in _LONE_CR.split(text) if "\r" in text[:-2] else (text,):
            if piece:
                yield piece.replace("\x00", "")


def _iter_csv(path: Path) -> Iterator[RawRow]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long answers are data, not an attack
    notes: list[str] = []
    reader = csv.DictReader(_csv_lines(path, notes))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield RawRow(str(path), reader.line_num, None, f"malformed CSV: {err}")
            continue
        note = notes[0] if notes else None
        notes.clear()
        if None in row:  # more cells than header columns
            yield RawRow(str(path), reader.line_num, None, "row has more cells than the header")
            continue
        yield RawRow(str(path), reader.line_num, dict(row), note=note)


def _iter_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for obj in batch.to_pylist():
                n += 1
                yield RawRow(str(path), n, obj)
    except (OSError, ValueError, TypeError, OverflowError, NotImplementedError, pa.ArrowException) as err:
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
