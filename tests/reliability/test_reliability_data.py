"""Reliability of `medqa prepare` under hostile input (issue #8, data part).

Hypothesis builds whole input files in every supported format (.jsonl, .json, .csv, .parquet) and schema
(instruction/input/output, question/answer, chat messages), mixing valid rows with random Unicode, control
characters, lone surrogates, truncated lines, binary garbage, wrong encodings, wrong types, missing fields and
megabyte rows, and runs the real `run_prepare` on them (the CLI, in a subprocess, for a few files). For every
file: no exception but a clear `DataError` for a file that cannot be used at all; every row known to be bad is
in quarantine.jsonl under its line and no good row is; every good row comes out; and rows read = rows kept +
rows dropped (by reason), overall, per source and against the rows physically in the file. The cleaning rules
are called directly on arbitrary text too.

    pytest -q tests/reliability/test_reliability_data.py

The number of generated cases is printed at the end ("fuzz cases tried").
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from medqa.config import build_config
from medqa.data import sources
from medqa.data.cleaning import RULES, clean_example, clean_text
from medqa.data.prepare import run_prepare
from medqa.data.schema import Example
from medqa.data.sources import iter_rows
from medqa.errors import DataError

pytestmark = pytest.mark.reliability

FUZZ: Counter = Counter()  # hypothesis cases run, per test
FAST = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def fuzz(n: int) -> settings:
    explore = os.environ.get("HYPOTHESIS_PROFILE") == "explore"  # see tests/conftest.py
    return settings(FAST, max_examples=n * 10 if explore else n)


@pytest.fixture(scope="module", autouse=True)
def _report_fuzz_cases(request):
    yield
    line = f"fuzz cases tried: {sum(FUZZ.values())} ({', '.join(f'{k} {v}' for k, v in sorted(FUZZ.items()))})"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print("\n" + line)


# ---------------------------------------------------------------------------------------------- text pieces

FRAGMENTS = ["Hi,", "Thanks for your query.", "Welcome to Chat Doctor.", "ChatDoctor.com", "Regards, Dr. Ravi Kumar",
             "Take care.", "www.x.com/a?b=1", "a@b.co", "+1 (555) 123-4567", "120/80", "â€™", "Ã©", "I??e", "&amp;",
             "<br>", "\x00", "\x92", "\u200b", "\ufffd", "\ufeff", "As an AI language model,", "Patient:",
             "Please generate a dialogue", "??169,X,['y'],", "\ud800", "\udfff", "😀", "\u2028", "\x1c", "\r", "\t"]
any_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=200),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=10)), max_size=20).map(" ".join),
)
arrow_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=120)  # Arrow strings are UTF-8
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3), max_leaves=8)
random_fields = st.dictionaries(
    st.sampled_from(["question", "answer", "input", "output", "instruction", "messages", "conversations", "topic",
                     "statements", "id", "group", "role", "content", "x"]), json_values, max_size=5)
meta_fields = st.dictionaries(st.sampled_from(["id", "topic", "focus", "group", "statements", "url", "x"]), json_values,
                              max_size=3)
# Valid rows: distinct topics (so that none is a near duplicate of another) and a unique tag word per row.
TOPICS = [
    ("I have had a dry cough for two weeks and it gets worse at night, what could be causing it",
     "A cough that lingers after a cold is often post-viral, but a night cough can also be asthma or reflux."),
    ("My three year old son has a rash on his tummy after a fever, he is playing normally, should I worry",
     "A rash that appears as a fever settles is often viral and harmless in a child who is playing well."),
    ("I twisted my ankle playing football yesterday and it is swollen and blue, do I need an x-ray",
     "If you cannot walk four steps or the bone is tender at the back of the ankle, an x-ray is worth having."),
    ("What is a normal blood pressure for a woman of sixty who takes no medicines at all",
     "Below about 130 over 80 is a good target for most adults; readings are best taken at home over a week."),
    ("My mother gets dizzy every time she stands up from the sofa, is that something serious",
     "Dizziness on standing is often a drop in blood pressure; her doctor should check her medicines and pulse."),
    ("How long should I wait before I run again after a bad bout of the flu this winter",
     "Wait until you have been free of fever for a few days and start with short, easy runs for the first week."),
    ("I get a burning pain in my chest after big meals and when I lie down in the evening",
     "That pattern suggests acid reflux; smaller meals, no late eating and raising the head of the bed can help."),
    ("Is it safe to take ibuprofen together with my blood pressure tablets for a sore back",
     "Ibuprofen can raise blood pressure and strain the kidneys with some tablets, so ask your pharmacist first."),
    ("My daughter has had a sore throat and swollen glands for five days with white spots",
     "White spots with swollen glands can be tonsillitis or glandular fever, so she should be seen by a doctor."),
    ("I keep waking up at four in the morning and cannot get back to sleep, what can I do",
     "Keep a fixed wake time, avoid screens and caffeine late in the day, and see your doctor if it lasts weeks."),
    ("There is a small lump under the skin of my arm that moves when I press it, what is it",
     "A soft lump that moves is often a lipoma, which is harmless, but any lump that grows should be checked."),
    ("My feet tingle and feel numb at night and I have had diabetes for ten years now",
     "Tingling feet in diabetes can be nerve damage; tell your doctor and check your feet every day for sores."),
]
INSTRUCTION = "If you are a doctor, please answer the medical questions based on the patient's description."
DECORATIONS = ["", " \u200bcafé", " 38 °C", " 😀", " \ufeffnaïve", " (see below)", " \x00", "\t "]


def tagged(topic: int, n: int, decoration: str = "") -> tuple[str, str, str]:
    """Tag, question and answer of a valid row; the tag (one word) is unique for distinct topics."""
    tag = f"t{topic}case{n}x"
    q, a = TOPICS[topic]
    return tag, f"{q} ({tag}){decoration}?", f"{a} Reference {tag}."


def as_row(schema: str, q: str, a: str, meta: dict) -> dict:
    if schema == "qa":
        return {**meta, "question": q, "answer": a}
    if schema == "instruction":
        return {**meta, "instruction": INSTRUCTION, "input": q, "output": a}
    if schema == "sharegpt":
        return {**meta, "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
    system = [{"role": "system", "content": "Answer carefully."}] if len(q) % 2 else []
    return {**meta, "messages": [*system, {"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def bad_rows(q: str, a: str) -> st.SearchStrategy[dict]:
    """Rows that are JSON objects but cannot be mapped: wrong types, missing fields, broken messages."""
    wrong = st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    return st.one_of(
        wrong.map(lambda v: {"question": v, "answer": a}), wrong.map(lambda v: {"question": q, "answer": v}),
        wrong.map(lambda v: {"instruction": INSTRUCTION, "input": v, "output": a}),
        st.sampled_from([{"question": q}, {"answer": a}, {}, {"body": q, "reply": a}, {"input": q, "instruction": q},
                         {"messages": q}, {"messages": []}, {"messages": None}, {"messages": [q, a]},
                         {"messages": [{"role": "user", "content": q}]},
                         {"messages": [{"role": "robot", "content": q}, {"role": "assistant", "content": a}]},
                         {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": a}]},
                         {"messages": [{"role": "assistant", "content": a}, {"role": "user", "content": q}]}]))


# ---------------------------------------------------------------------------------------------- expectations

@dataclass
class Expect:
    """What a generated file must give: rows read, lines that must be quarantined, rows that must come out."""

    path: Path
    rows: int | None = 0  # rows physically in the file (None: unknown, for chaotic CSV)
    good: dict[str, int] = field(default_factory=dict)  # tag -> line of rows that must be kept
    bad: set[int] = field(default_factory=set)  # lines that must be quarantined
    dropped: Counter = field(default_factory=Counter)  # at least these drops, by reason
    notes: int = 0  # at least this many repaired lines (encoding fallbacks, lone surrogates)


@dataclass
class Cell:
    kind: str  # good | bad | drop:<reason> | any | blank
    data: bytes | str  # bytes: written as is (UTF-8 files only); str: encoded with the file
    tag: str | None = None
    note: bool = False


def _prepare(expects: list[Expect], tmp: Path, *overrides: str, tokenizer=None, histograms: bool = False):
    if len(expects) == 1:
        src = [f"data.source={expects[0].path}"]
    else:
        src = [f"data.sources={json.dumps([{'source': str(e.path)} for e in expects])}"]
    cfg = build_config({}, [*src, "data.val_fraction=0", "data.test_fraction=0", "data.max_bad_fraction=1.0",
                            "data.workers=0", *overrides])
    out = tmp / "out"
    if histograms:
        return run_prepare(cfg, out, tokenizer=tokenizer), out
    with mock.patch("medqa.data.datacard._histograms", return_value=[]):  # matplotlib: 3/4 of a small run
        return run_prepare(cfg, out, tokenizer=tokenizer), out


def check_prepared(res, out: Path, expects: list[Expect]) -> None:
    """The accounting identity, the quarantine file and the fate of every known row."""
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert res.rows_in == sum(res.rows_out.values()) + sum(res.dropped.values())
    assert stats["rows_in"] == stats["rows_out"] + stats["dropped_total"] == res.rows_in
    assert stats["dropped"] == dict(res.dropped) and all(isinstance(v, int) and v > 0 for v in res.dropped.values())
    for expect, src in zip(expects, stats["sources"]):
        assert src["rows_in"] == src["rows_out"] + sum(src["dropped"].values())
        if expect.rows is not None:
            assert src["rows_in"] == expect.rows, (expect.path, src)
    records = [json.loads(line) for line in (out / "quarantine.jsonl").read_text(encoding="utf-8").split("\n") if line]
    assert len(records) == res.dropped["malformed"] == stats["quarantined"]
    kept = [json.loads(line) for s in ("train", "validation", "test")
            for line in (out / f"{s}.jsonl").read_text(encoding="utf-8").split("\n") if line]
    assert len(kept) == sum(res.rows_out.values())
    assert all(isinstance(r["question"], str) and isinstance(r["answer"], str) and r["question"] for r in kept)
    assert all(isinstance(r["line"], int) and r["line"] >= 1 and r["reason"] for r in records)
    for expect in expects:
        lines = [r["line"] for r in records if r["source"] == str(expect.path)]
        assert len(lines) == len(set(lines)), "a line quarantined twice"
        assert expect.bad <= set(lines), f"bad lines not quarantined: {sorted(expect.bad - set(lines))}"
        assert not set(expect.good.values()) & set(lines), f"a good row was quarantined: {records}"
        for tag in expect.good:
            assert sum(tag in r["question"] for r in kept) == 1, f"good row {tag} lost"
    for reason, n in sum((e.dropped for e in expects), Counter()).items():
        assert res.dropped[reason] >= n, (reason, dict(res.dropped))
    assert sum(stats["encoding_fallbacks"].values()) >= sum(e.notes for e in expects)


# ---------------------------------------------------------------------------------------------- JSON Lines

def _write_encoded(path: Path, encoding: str, body: str | bytes) -> None:
    """Write a fuzz file: a text body as UTF-16 or UTF-8 (lone surrogates kept), a byte body as it is (it may mix
    encodings line by line); utf-8-sig adds a BOM."""
    if isinstance(body, str):
        body = body.encode("utf-16" if encoding == "utf-16" else "utf-8", "surrogatepass")
    path.write_bytes((codecs.BOM_UTF8 if encoding == "utf-8-sig" else b"") + body)


def _without_boms(line: bytes) -> bytes:
    while line.startswith(codecs.BOM_UTF8):
        line = line[3:]
    return line


def _blank(line: bytes | str) -> bool:
    """A line the readers skip: JSON whitespace only (a UTF-8 BOM, in a UTF-8 file, does not count)."""
    if isinstance(line, bytes):
        line = _without_boms(line).decode("latin-1")
    return not line.strip(" \t\r\n")


def _encode(data: bytes | str) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")


def _oneline(data: bytes | str) -> bytes | str:
    return data.replace(b"\n", b" ") if isinstance(data, bytes) else data.replace("\n", " ")


@st.composite
def good_cells(draw, max_rows: int = 6, raw: bool = True) -> list[Cell]:
    """Valid rows of any schema, some with repairs to make: another encoding, lone surrogates, a BOM."""
    topics = draw(st.lists(st.integers(0, len(TOPICS) - 1), min_size=1, max_size=max_rows, unique=True))
    cells = []
    for topic in topics:
        variant = draw(st.sampled_from(["plain", "plain", "cp1252", "surrogate", "bom"] if raw else ["plain"]))
        tag, q, a = tagged(topic, draw(st.integers(0, 9999)), draw(st.sampled_from(DECORATIONS)))
        if variant == "cp1252":  # a Windows-1252 line in a UTF-8 file: read as such, counted
            q = q.replace("?", " at 38 °C in the café?")
        row = as_row(draw(st.sampled_from(["qa", "instruction", "messages", "sharegpt"])), q, a, draw(meta_fields))
        if variant == "surrogate":
            row["answer" if "answer" in row else "id"] = a + "\ud800"
        ascii_only = variant == "surrogate" or (variant != "cp1252" and draw(st.booleans()))
        text = json.dumps(row, ensure_ascii=ascii_only)
        data: bytes | str = text
        if variant == "cp1252":
            data = text.encode("cp1252", errors="replace")
        elif variant == "bom":
            data = codecs.BOM_UTF8 + text.encode("utf-8", "surrogatepass")
        cells.append(Cell("good", data, tag, note=variant in ("cp1252", "surrogate")))
    return cells


@st.composite
def bad_json_cells(draw, raw: bool = True) -> Cell:
    _, q, a = tagged(draw(st.integers(0, len(TOPICS) - 1)), 0)
    kinds = ["truncated", "not_object", "unmappable", "nested", "big_int"] + (["binary", "utf16", "garbage"] if raw else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "truncated":
        text = json.dumps(as_row(draw(st.sampled_from(["qa", "instruction", "messages"])), q, a, {}))
        return Cell("bad", text[:draw(st.integers(1, len(text) - 1))])
    if kind == "not_object":
        value = draw(st.one_of(st.integers(), st.floats(), any_text, st.none(), st.booleans(), st.lists(json_values)))
        return Cell("bad", json.dumps(value))
    if kind == "unmappable":
        return Cell("bad", json.dumps(draw(bad_rows(q, a))))
    if kind == "nested":
        n = draw(st.integers(1, 5000))
        return Cell("bad", draw(st.sampled_from(["[" * n, '{"a":' * n, "[" * n + "]" * n])))
    if kind == "big_int":
        return Cell("bad", '{"question": 1' + "7" * draw(st.integers(4300, 6000)) + f', "answer": "{a}"}}')
    if kind == "binary":
        return Cell("bad", b"\x01" + _oneline(draw(st.binary(max_size=300))))
    if kind == "utf16":  # a line written in UTF-16 inside a UTF-8 file
        return Cell("bad", _oneline(json.dumps({"question": q, "answer": a}).encode("utf-16")))
    return Cell("bad", b"\xfe\x00 not json \xff" * draw(st.integers(1, 120_000)))  # up to 1.8 MB of garbage


@st.composite
def any_cells(draw, raw: bool = True) -> Cell:
    """Rows of unknown fate: random fields, random text, random bytes, text in other encodings."""
    text = st.one_of(random_fields.map(json.dumps), any_text)
    if not raw:
        return Cell("any", _oneline(draw(text)))
    kind = draw(st.sampled_from(["fields", "text", "bytes", "latin1", "utf16"]))
    if kind == "fields":
        return Cell("any", draw(random_fields.map(json.dumps)))
    if kind == "text":
        return Cell("any", _oneline(draw(any_text).encode("utf-8", "surrogatepass")))
    if kind == "bytes":
        return Cell("any", _oneline(draw(st.binary(max_size=200))))
    encoding = "latin-1" if kind == "latin1" else "utf-16"
    return Cell("any", _oneline(draw(text).encode(encoding, "replace" if kind == "latin1" else "surrogatepass")))


def oversized_cell(draw, n: int) -> Cell:
    tag, q, a = tagged(draw(st.integers(0, len(TOPICS) - 1)), n)
    schema = draw(st.sampled_from(["qa", "instruction", "messages"]))
    huge = "Why does my knee hurt so much when I climb the stairs? " * draw(st.integers(2_000, 50_000))
    return Cell("drop:oversized", json.dumps(as_row(schema, q + huge, a, {})))


@st.composite
def jsonl_files(draw, tmp: Path, suffix: str = ".jsonl") -> Expect:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    raw = encoding != "utf-16"  # lines in other encodings only make sense in a UTF-8 file
    cells = draw(good_cells(raw=raw))
    cells += draw(st.lists(bad_json_cells(raw=raw), max_size=6))
    cells += draw(st.lists(any_cells(raw=raw), max_size=6))
    cells += [Cell("blank", b) for b in draw(st.lists(st.sampled_from(["", " ", "\t", "\r", " \r"]), max_size=3))]
    if draw(st.integers(0, 4)) == 0:
        cells.append(oversized_cell(draw, 9999))
    cells = draw(st.permutations(cells))
    if suffix == ".json":  # a JSON Lines file named .json: its first line must not look like an array's start
        first = next(i for i, c in enumerate(cells) if c.kind == "good")
        cells.insert(0, cells.pop(first))
    return write_lines(tmp / f"in{suffix}", cells, encoding, final_newline=draw(st.booleans()))


def write_lines(path: Path, cells: list[Cell], encoding: str, final_newline: bool) -> Expect:
    expect = Expect(path)
    parts = []
    for n, cell in enumerate(cells, start=1):
        data = cell.data if encoding == "utf-16" else _encode(cell.data)
        parts.append(data)
        if cell.kind == "blank" or (cell.kind == "any" and _blank(data)):
            continue
        expect.rows += 1
        if cell.kind == "good":
            expect.good[cell.tag] = n
        elif cell.kind == "bad":
            expect.bad.add(n)
        elif cell.kind.startswith("drop:"):
            expect.dropped[cell.kind[5:]] += 1
        expect.notes += cell.note
    if encoding == "utf-16":
        _write_encoded(path, encoding, "\n".join(parts) + ("\n" if final_newline else ""))
    else:
        _write_encoded(path, encoding, b"\n".join(parts) + (b"\n" if final_newline else b""))
    return expect


def _tmp(factory) -> Path:
    return factory.mktemp("fuzz")


@fuzz(90)
@given(st.data())
def test_prepare_jsonl_files(tmp_path_factory, data):
    FUZZ["jsonl"] += 1
    tmp = _tmp(tmp_path_factory)
    expect = data.draw(jsonl_files(tmp, data.draw(st.sampled_from([".jsonl", ".json"]))))
    res, out = _prepare([expect], tmp)
    check_prepared(res, out, [expect])


# ---------------------------------------------------------------------------------------------- CSV

@st.composite
def csv_files(draw, tmp: Path) -> Expect:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    raw, chaos = encoding != "utf-16", draw(st.integers(0, 4)) == 0  # chaos: stray quotes may swallow rows
    header = draw(st.sampled_from([["question", "answer"], ["instruction", "input", "output"],
                                   ["id", "question", "answer", "topic"]]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))

    def record(values: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=terminator).writerow(values)
        return buf.getvalue()

    def values(q: str, a: str) -> list[str]:
        by_name = {"question": q, "answer": a, "instruction": INSTRUCTION, "input": q, "output": a, "id": "7",
                   "topic": "general"}
        return [by_name[h] for h in header]

    cells: list[Cell] = []
    for topic in draw(st.lists(st.integers(0, len(TOPICS) - 1), min_size=1, max_size=6, unique=True)):
        tag, q, a = tagged(topic, draw(st.integers(0, 9999)), draw(st.sampled_from(DECORATIONS[:6])))
        a = a + draw(st.sampled_from(["", "\nSecond line, with \"quotes\".", ", and a comma"]))
        text = record(values(q, a))
        if raw and draw(st.booleans()):
            data = text.replace("?", " at 38 °C in the café?").encode("cp1252", errors="replace")
            cells.append(Cell("good", data, tag, note=True))
        else:
            cells.append(Cell("good", text, tag))
    for _ in range(draw(st.integers(0, 4))):  # more cells than the header: quarantined
        cells.append(Cell("bad", record(values("a b c", "d e f")[:1] + ["x"] * len(header))))
    for _ in range(draw(st.integers(0, 3))):  # cells missing: the answer is empty
        _, q, _ = tagged(draw(st.integers(0, len(TOPICS) - 1)), -1)
        cells.append(Cell("drop:empty_answer", record(values(q, "")[:1 if header[0] != "id" else 2])))
    if draw(st.integers(0, 5)) == 0:
        _, q, a = tagged(draw(st.integers(0, len(TOPICS) - 1)), -2)
        cells.append(Cell("drop:oversized", record(values(q, a + " more words here" * 150_000))))
    strip = "" if chaos else "\"\r\n"
    for data in draw(st.lists(st.one_of(any_text, st.binary(max_size=120)) if raw else any_text, max_size=6)):
        if isinstance(data, bytes):
            data = bytes(b for b in data if chr(b) not in strip + "\n")
        else:
            data = "".join(ch for ch in data if ch not in strip + "\n")
        cells.append(Cell("any", data))
    cells = draw(st.permutations(cells))
    return write_csv(tmp / "in.csv", header, cells, encoding, terminator, chaos)


def write_csv(path: Path, header: list[str], cells: list[Cell], encoding: str, terminator: str, chaos: bool) -> Expect:
    expect = Expect(path, rows=None if chaos else 0)
    parts: list[bytes | str] = [",".join(header) + terminator]
    line = 1
    for cell in cells:
        data = cell.data if encoding == "utf-16" else _encode(cell.data)
        if cell.kind == "any":
            data = data + (b"\n" if isinstance(data, bytes) else "\n")
        text = data.decode("latin-1") if isinstance(data, bytes) else data
        end = line + text.count("\n")  # csv reports the last line of a record
        line = end
        parts.append(data)
        if chaos:
            continue
        if cell.kind == "any":  # a line holding nothing but NUL bytes (which the reader drops) is skipped
            if isinstance(data, bytes):
                text = _without_boms(data).decode("latin-1")
            expect.rows += bool(text.replace("\x00", "").strip("\r\n"))
            continue
        expect.rows += 1
        if cell.kind == "good":
            expect.good[cell.tag] = end
        elif cell.kind == "bad":
            expect.bad.add(end)
        else:
            expect.dropped[cell.kind[5:]] += 1
        expect.notes += cell.note
    _write_encoded(path, encoding, "".join(parts) if encoding == "utf-16" else b"".join(_encode(p) for p in parts))
    return expect


@fuzz(60)
@given(st.data())
def test_prepare_csv_files(tmp_path_factory, data):
    FUZZ["csv"] += 1
    tmp = _tmp(tmp_path_factory)
    expect = data.draw(csv_files(tmp))
    try:
        res, out = _prepare([expect], tmp)
    except DataError as err:  # a stray quote may have swallowed every good row into one field
        assert expect.rows is None and "no usable training rows" in str(err)
        return
    check_prepared(res, out, [expect])


# ---------------------------------------------------------------------------------------------- JSON arrays

@st.composite
def json_array_files(draw, tmp: Path) -> Expect:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    indent = draw(st.sampled_from([None, None, 1, 2]))
    elements: list[tuple[str, object, str | None]] = []  # kind, value, tag
    for topic in draw(st.lists(st.integers(0, len(TOPICS) - 1), min_size=1, max_size=6, unique=True)):
        tag, q, a = tagged(topic, draw(st.integers(0, 9999)), draw(st.sampled_from(DECORATIONS)))
        row = as_row(draw(st.sampled_from(["qa", "instruction", "messages", "sharegpt"])), q, a, draw(meta_fields))
        elements.append(("good", row, tag))
    _, q, a = tagged(0, 0)
    for value in draw(st.lists(st.one_of(st.integers(), st.floats(), any_text, st.none(), st.lists(json_values),
                                         bad_rows(q, a)), max_size=5)):
        elements.append(("bad", value, None))
    for value in draw(st.lists(random_fields, max_size=4)):
        elements.append(("any", value, None))
    if draw(st.integers(0, 3)) == 0:  # a megabyte element: the reader's 1 MB chunks end inside it
        elements.append(("drop:oversized", {"question": q + " knee" * draw(st.integers(200_000, 600_000)), "answer": a},
                         None))
    elements = draw(st.permutations(elements))
    texts = [json.dumps(v, indent=indent, ensure_ascii=draw(st.booleans())) for _, v, _ in elements]
    if draw(st.integers(0, 4)) == 0:
        texts.append("1" + "2" * draw(st.integers(4300, 5000)))  # over Python's int-string limit: a float now
        elements.append(("bad", None, None))
    truncate = draw(st.integers(0, 3)) == 0 and len(texts[-1]) > 1
    expect, line, pieces = Expect(tmp / "in.json"), 2, ["[\n"]
    for i, ((kind, _, tag), text) in enumerate(zip(elements, texts)):
        last = i == len(texts) - 1
        if last and truncate:
            text = text[:draw(st.integers(1, len(text) - 1))]
            kind, tag = "bad", None
        pieces.append(text + ("" if last else ",\n"))
        expect.rows += 1
        if kind == "good":
            expect.good[tag] = line
        elif kind == "bad":
            expect.bad.add(line)
        elif kind.startswith("drop:"):
            expect.dropped[kind[5:]] += 1
        line += text.count("\n") + 1
    if not truncate:
        pieces.append("\n]\n")
    _write_encoded(expect.path, encoding, "".join(pieces))
    return expect


@fuzz(60)
@given(st.data())
def test_prepare_json_array_files(tmp_path_factory, data):
    FUZZ["json_array"] += 1
    tmp = _tmp(tmp_path_factory)
    expect = data.draw(json_array_files(tmp))
    try:
        res, out = _prepare([expect], tmp)
    except DataError as err:  # the only good element may be the one cut short
        assert not expect.good and "no usable training rows" in str(err)
        return
    check_prepared(res, out, [expect])


json_arrays = st.lists(st.one_of(json_values, random_fields), max_size=8)


@fuzz(200)
@given(json_arrays, st.integers(1, 64), st.sampled_from([None, 0, 2]))
def test_array_reader_agrees_with_json_loads_at_any_chunk_size(tmp_path_factory, values, chunk, indent):
    """Chunk edges may fall anywhere: inside strings, escapes, numbers ("12" | "3") or between elements."""
    FUZZ["array_reader"] += 1
    path = _tmp(tmp_path_factory) / "a.json"
    path.write_text(json.dumps(values, indent=indent), encoding="utf-8", errors="surrogatepass")
    expected = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    with path.open(encoding="utf-8", errors="replace") as fh:
        reader, got = sources._ArrayReader(fh, str(path), chunk_chars=chunk), []
        while reader.next_element():
            got.append(reader.row())
    assert len(got) == len(expected)
    for row, value in zip(got, expected):
        if isinstance(value, dict):
            assert row.error is None and json.dumps(row.fields, sort_keys=True) \
                == json.dumps(sources._scrub(value, []), sort_keys=True)
        else:
            assert row.fields is None and row.error.startswith("expected a JSON object")


# ---------------------------------------------------------------------------------------------- Parquet

@st.composite
def parquet_files(draw, tmp: Path, name: str) -> Expect:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = draw(st.sampled_from(["qa", "instruction", "messages"]))
    string = draw(st.sampled_from([pa.string(), pa.large_string()]))
    rows: list[tuple[str, dict, str | None]] = []
    for topic in draw(st.lists(st.integers(0, len(TOPICS) - 1), min_size=1, max_size=6, unique=True)):
        tag, q, a = tagged(topic, draw(st.integers(0, 9999)), draw(st.sampled_from(DECORATIONS)))
        rows.append(("good", as_row(schema, q, a, {}), tag))
    _, q, a = tagged(0, 3)
    for _ in range(draw(st.integers(0, 3))):  # a null answer: empty, or (a message without text) bad
        rows.append(("bad" if schema == "messages" else "drop:empty_answer", as_row(schema, q, None, {}), None))
    if schema == "messages":
        for msgs in draw(st.lists(st.sampled_from([[], None, [{"role": "user", "content": q}],
                                                   [{"role": "robot", "content": q}, {"role": "assistant", "content": a}],
                                                   [{"role": "user", "content": None}, {"role": "assistant", "content": a}],
                                                   [{"role": None, "content": q}, {"role": "assistant", "content": a}]]),
                                  max_size=4)):
            rows.append(("bad", {"messages": msgs}, None))
    for q2, a2 in draw(st.lists(st.tuples(st.none() | arrow_text, st.none() | arrow_text), max_size=5)):
        rows.append(("any", as_row(schema, q2, a2, {}) if schema != "messages" else {"messages": [
            {"role": "user", "content": q2}, {"role": "assistant", "content": a2}]}, None))
    if draw(st.integers(0, 4)) == 0:
        rows.append(("drop:oversized", as_row(schema, q + " knee" * draw(st.integers(30_000, 400_000)), a, {}), None))
    rows = draw(st.permutations(rows))
    if schema == "messages":
        types = {"messages": pa.list_(pa.struct([("role", string), ("content", string)]))}
    else:
        types = {k: string for k in ("question", "answer", "instruction", "input", "output")}
    columns = sorted({k for _, r, _ in rows for k in r})
    table = pa.Table.from_pylist([r for _, r, _ in rows], schema=pa.schema([(c, types[c]) for c in columns]))
    expect = Expect(tmp / name, rows=len(rows))
    pq.write_table(table, expect.path, row_group_size=draw(st.integers(1, 8)))
    for n, (kind, _, tag) in enumerate(rows, start=1):
        if kind == "good":
            expect.good[tag] = n
        elif kind == "bad":
            expect.bad.add(n)
        elif kind.startswith("drop:"):
            expect.dropped[kind[5:]] += 1
    return expect


@st.composite
def wrong_type_parquet(draw, tmp: Path) -> Expect:
    """A question column that is not text (numbers, bytes, lists, structs): every row is quarantined."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = draw(st.sampled_from(["int", "float", "binary", "list", "struct", "bool"]))
    value = {"int": st.integers(-2**63, 2**63 - 1), "float": st.floats(), "binary": st.binary(max_size=20),
             "list": st.lists(arrow_text, max_size=2), "struct": st.fixed_dictionaries({"a": st.integers(0, 9)}),
             "bool": st.booleans()}[kind]
    values = draw(st.lists(value, min_size=1, max_size=6))
    _, _, a = tagged(1, 5)
    table = pa.Table.from_pylist([{"question": v, "answer": a} for v in values])
    expect = Expect(tmp / "wrong.parquet", rows=len(values), bad=set(range(1, len(values) + 1)))
    pq.write_table(table, expect.path)
    return expect


@fuzz(45)
@given(st.data())
def test_prepare_parquet_files_and_mixes(tmp_path_factory, data):
    FUZZ["parquet"] += 1
    tmp = _tmp(tmp_path_factory)
    expects = [data.draw(parquet_files(tmp, "a.parquet"))]
    if data.draw(st.booleans()):
        expects.append(data.draw(wrong_type_parquet(tmp)))
    res, out = _prepare(expects, tmp)
    check_prepared(res, out, expects)


# ---------------------------------------------------------------------------------------------- any bytes

SUFFIXES = [".jsonl", ".json", ".csv", ".parquet"]


@fuzz(90)
@given(st.data())
def test_any_bytes_or_cut_file_in_any_format_is_prepared_or_clearly_refused(tmp_path_factory, data):
    """Random bytes, or a valid file cut at a random byte, under any suffix: success with the identity, or a
    DataError that names the problem; nothing else."""
    FUZZ["any_bytes"] += 1
    tmp = _tmp(tmp_path_factory)
    suffix = data.draw(st.sampled_from(SUFFIXES))
    path = tmp / f"in{suffix}"
    if data.draw(st.booleans()):
        path.write_bytes(data.draw(st.binary(max_size=3000)))
    else:
        valid = {".jsonl": lambda: data.draw(jsonl_files(tmp, ".jsonl")), ".json": lambda: data.draw(json_array_files(tmp)),
                 ".csv": lambda: data.draw(csv_files(tmp)), ".parquet": lambda: data.draw(parquet_files(tmp, "in.parquet"))}
        whole = valid[suffix]().path.read_bytes()
        path.write_bytes(whole[:data.draw(st.integers(0, len(whole)))])
    expect = Expect(path, rows=None)
    try:
        res, out = _prepare([expect], tmp)
    except DataError as err:
        assert str(err)
        return
    check_prepared(res, out, [expect])


# ---------------------------------------------------------------------------------------------- other paths

@fuzz(2)
@given(st.data())
def test_worker_processes_give_the_same_output(tmp_path_factory, data):
    """Large inputs are cleaned in spawned workers: same outcome, same accounting."""
    FUZZ["workers"] += 1
    tmp = _tmp(tmp_path_factory)
    expect = data.draw(jsonl_files(tmp))
    res, out = _prepare([expect], tmp)
    check_prepared(res, out, [expect])
    tmp2 = tmp / "w"
    tmp2.mkdir()
    res2, out2 = _prepare([expect], tmp2, "data.workers=1")
    check_prepared(res2, out2, [expect])
    assert res2.dropped == res.dropped and res2.rows_out == res.rows_out
    for name in ("train.jsonl", "quarantine.jsonl"):
        assert (out2 / name).read_bytes() == (out / name).read_bytes()


@fuzz(5)
@given(st.data())
def test_prepare_with_the_real_tokenizer(tmp_path_factory, tokenizer, data):
    """The CLI counts tokens by default: the tokenizer must get only valid text (no lone surrogates)."""
    FUZZ["tokenizer"] += 1
    tmp = _tmp(tmp_path_factory)
    expect = data.draw(jsonl_files(tmp))
    res, out = _prepare([expect], tmp, tokenizer=tokenizer, histograms=data.draw(st.booleans()))
    check_prepared(res, out, [expect])


def _write_unreadable(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Files that cannot be prepared at all, with a word the error message must contain."""
    good = [json.dumps({"question": q, "answer": a}) for q, a in TOPICS[:3]]
    files = {
        "parquet_garbage": ("x.parquet", b"PAR1" + bytes(range(256)) * 4, "Parquet"),
        "json_syntax": ("x.json", ("[\n" + ",\n".join(good[:2] + ['{"question": tru}'] + good[2:]) + "\n]").encode(),
                        "line 4"),
        "json_nested": ("n.json", ("[\n" + good[0] + ",\n" + "[" * 100_000 + "]" * 100_000 + "\n]").encode(), "line 3"),
        "all_bad_lines": ("bad.jsonl", b"\x00\xff\n{\n[1]\n\"text\"\n", "malformed"),
        "empty": ("e.jsonl", b"", "empty"),
        "blank_lines": ("b.jsonl", b"\n \n\r\n\t\n", "empty"),
        "csv_header_only": ("h.csv", b"question,answer\n", "empty"),
        "wrong_suffix": ("w.txt", b"question,answer\n", "unsupported"),
    }
    out = {}
    for key, (name, content, word) in files.items():
        (tmp / name).write_bytes(content)
        out[key] = (tmp / name, word)
    return out


def test_unreadable_files_are_clear_errors(tmp_path):
    paths = _write_unreadable(tmp_path)
    for key, (path, word) in paths.items():
        cfg = build_config({}, [f"data.source={path}", "data.workers=0"])
        with pytest.raises(DataError) as err:
            run_prepare(cfg, tmp_path / f"out-{key}")
        assert word in str(err.value), (key, str(err.value))
        assert not (tmp_path / f"out-{key}").exists()  # a failed run leaves nothing behind


def test_truncated_parquet_is_a_clear_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": q, "answer": a} for q, a in TOPICS]), path)
    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 3, 10):
        path.write_bytes(whole[:cut])
        with pytest.raises(DataError, match="Parquet"):
            run_prepare(build_config({}, [f"data.source={path}"]), tmp_path / "out")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", "prepare", *args, "--no-token-stats", "--set",
                           "data.workers=0"], capture_output=True, text=True, timeout=120)


def test_cli_exit_codes_and_messages(tmp_path):
    """Through the real CLI: bad rows are quarantined with their lines and exit 0; unusable files exit 2 with
    one message and no traceback."""
    good = [json.dumps(as_row(s, *tagged(i, i)[1:], {})) for i, s in enumerate(["qa", "instruction", "messages"])]
    lines = [good[0], '{"question": "cut', good[1], "\x00\xff garbage", good[2], "[1, 2]"]
    src = tmp_path / "mixed.jsonl"
    src.write_text("\n".join(lines), encoding="utf-8")
    done = _cli("--source", str(src), "--output", str(tmp_path / "ok"), "--set", "data.val_fraction=0",
                "--set", "data.test_fraction=0")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    quarantined = [json.loads(x) for x in (tmp_path / "ok" / "quarantine.jsonl").read_text().splitlines()]
    assert [q["line"] for q in quarantined] == [2, 4, 6] and all(q["reason"] for q in quarantined)
    stats = json.loads((tmp_path / "ok" / "stats.json").read_text())
    assert stats["rows_in"] == 6 and stats["rows_out"] == 3 and stats["dropped"] == {"malformed": 3}

    utf16 = tmp_path / "excel.csv"
    utf16.write_bytes(("question,answer\r\n" + "".join(f'"{q}","{a}"\r\n' for q, a in TOPICS[:4])).encode("utf-16"))
    done = _cli("--source", str(utf16), "--output", str(tmp_path / "csv"), "--set", "data.val_fraction=0",
                "--set", "data.test_fraction=0")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert json.loads((tmp_path / "csv" / "stats.json").read_text())["rows_out"] == 4

    for key, (path, word) in _write_unreadable(tmp_path).items():
        if key not in ("parquet_garbage", "json_syntax", "all_bad_lines", "empty"):
            continue
        done = _cli("--source", str(path), "--output", str(tmp_path / f"out-{key}"))
        assert done.returncode == 2, (key, done.stdout, done.stderr)
        assert done.stderr.startswith("medqa prepare: error:") and word in done.stderr, (key, done.stderr)
        assert "Traceback" not in done.stderr


def test_iter_rows_counts_every_physical_row(tmp_path):
    """A row per non-blank line, whatever the line holds; a UTF-8 BOM, a UTF-16 file and CR line ends are read."""
    src = tmp_path / "x.jsonl"
    src.write_bytes(codecs.BOM_UTF8 + b'{"a": 1}\n\x1c\n\n  \n\xa0\n' + codecs.BOM_UTF8 + b'{"b": 2}\r\n[')
    rows = list(iter_rows(str(src)))
    assert [(r.line, r.fields is not None) for r in rows] == [(1, True), (2, False), (5, False), (6, True), (7, False)]
    csv_path = tmp_path / "x.csv"
    csv_path.write_bytes("question,answer\r1 2 3,4 5 6 7 8\r\"multi\nline\",x\r".encode("utf-16"))
    rows = list(iter_rows(str(csv_path)))
    assert [(r.line, r.fields) for r in rows] == [(2, {"question": "1 2 3", "answer": "4 5 6 7 8"}),
                                                  (4, {"question": "multi\nline", "answer": "x"})]
    lines_json = tmp_path / "rows.json"  # JSON Lines named .json, whose first row is an array: not an array file
    lines_json.write_text('[1, 2]\n{"question": "q"}\n')
    assert [(r.line, r.fields) for r in iter_rows(str(lines_json))] == [(1, None), (2, {"question": "q"})]
    array = tmp_path / "array.json"  # text after the closing bracket is a row, not silently ignored
    array.write_text('[\n{"a": 1},\n{"b": 2}\n]\n{"c": 3}\n')
    assert [(r.line, r.fields is not None) for r in iter_rows(str(array))] == [(2, True), (3, True), (5, False)]
    big = tmp_path / "big.jsonl"  # a number past Python's 4300-digit limit does not end the run
    big.write_text('{"id": 1' + "0" * 5000 + ', "question": "q"}\n{"id": [' + "[" * 3000 + "}\n")
    rows = list(iter_rows(str(big)))
    assert rows[0].fields["question"] == "q" and rows[1].error.startswith("malformed JSON")


# ---------------------------------------------------------------------------------------------- cleaning rules

# The rules whose docstrings say they are idempotent (privacy placeholders, whitespace, control characters).
# Others are not, on purpose: mojibake and HTML entities are undone one layer per pass ("&amp;amp;" → "&amp;"),
# greetings are stripped at most six at a time.
IDEMPOTENT = ("whitespace", "control_chars", "emails", "urls", "phones", "names")
texts = st.one_of(any_text, st.lists(st.sampled_from(FRAGMENTS + ["Dr. ", "Mr ", "@", ".com", "www.", "12345", " ",
                                                                   "\n", "[email]", "[url]"]), max_size=30).map("".join))


@fuzz(400)
@given(texts)
@example("ChatDoctor.comwww.Hi,")  # found by the explore profile: a replaced URL exposed the domain before it
def test_every_rule_returns_text_for_any_text(text):
    FUZZ["rules"] += 1
    for rule in RULES:
        out = rule.fn(text)
        assert isinstance(out, str), rule.name
        if rule.name in IDEMPOTENT:
            assert rule.fn(out) == out, (rule.name, text, out)
    assert isinstance(clean_text(text), str)


roles = st.sampled_from(["user", "assistant", "system"])


@fuzz(100)
@given(texts, texts, st.none() | texts, st.lists(st.tuples(roles, texts), max_size=3))
def test_clean_example_never_raises(question, answer, system, history):
    FUZZ["clean_example"] += 1
    ex = clean_example(Example(question, answer, system, tuple(history)))
    assert isinstance(ex.question, str) and isinstance(ex.answer, str) and len(ex.history) == len(history)


@fuzz(12)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map(" ".join) | st.text(min_size=1, max_size=30))
def test_rules_stay_fast_on_long_repetitive_text(unit):
    """Texts up to the oversize limit (100k characters) reach the rules: none may go quadratic on them."""
    FUZZ["rules_long"] += 1
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    for rule in RULES:
        start = time.perf_counter()
        assert isinstance(rule.fn(text), str)
        assert time.perf_counter() - start < 5, (rule.name, unit)
