"""Reader for MedQuAD's XML layout: a folder of sub-folders of `Document` files, one per topic page.

    medqa prepare --source ../shared/data/medquad --output data/medquad

Each `Document` (id, source site, url) has a `Focus` and `QAPairs/QAPair` elements holding a `Question`
(qid, qtype) and an `Answer`. Rows carry question, answer, focus, qtype, the document id as `group` (so that
all questions about one page share a split) and the site and url. The authors emptied the answers of folders
10-12 (MedlinePlus copyright), so those folders are skipped without parsing; an empty answer elsewhere comes
through and is dropped as `empty_answer`. A file that is not well-formed XML becomes one quarantined row.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from medqa.data.sources import RawRow

LICENSE = "CC BY 4.0 (cite Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019)"
# Folders whose answers were removed upstream ("Answers from the A.D.A.M. medical encyclopedia were removed").
REMOVED_ANSWER_FOLDERS = re.compile(r"^1[0-2]_MPlus")


def is_medquad_dir(path: Path) -> bool:
    """A folder holding MedQuAD-style XML files, directly or one level down."""
    if not path.is_dir():
        return False
    return any(True for _ in path.glob("*.xml")) or any(True for _ in path.glob("*/*.xml"))


def medquad_files(root: Path) -> Iterator[Path]:
    """The XML files under `root` in a stable order, skipping the folders whose answers were removed."""
    for path in sorted(root.rglob("*.xml")):
        rel = path.relative_to(root).parts
        if any(REMOVED_ANSWER_FOLDERS.match(part) for part in rel[:-1]):
            continue
        yield path


_ROOTS = {"document", "doc", "diseasefile"}  # a few files use <doc> (NINDS) or <DiseaseFile> (CDC)
_FOCUS, _PAIR, _QUESTION, _ANSWER = {"focus", "doctitle-focus"}, {"qapair", "pair"}, {"question"}, {"answer"}


def _text(elem: ET.Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _child(elem: ET.Element, names: set[str]) -> ET.Element | None:
    return next((c for c in elem if c.tag.lower() in names), None)


def _attr(elem: ET.Element, *names: str) -> str | None:
    return next((elem.get(n) for n in names if elem.get(n)), None)


def parse_document(xml: bytes, source: str) -> Iterator[RawRow]:
    """Yield one row per QAPair of a MedQuAD `Document`; `line` is the pair's position in the file."""
    try:
        doc = ET.fromstring(xml)
    except ET.ParseError as err:
        yield RawRow(source, 0, None, f"malformed XML: {err}")
        return
    if doc.tag.lower() not in _ROOTS:
        yield RawRow(source, 0, None, f"expected a MedQuAD <Document>, got <{doc.tag}>")
        return
    doc_id = _attr(doc, "id", "docid", "fid")
    base = {"focus": _text(_child(doc, _FOCUS)), "group": doc_id or source, "document_id": doc_id,
            "site": _attr(doc, "source", "corpus"), "url": doc.get("url")}
    pairs = (e for e in doc.iter() if e.tag.lower() in _PAIR)
    for n, pair in enumerate(pairs, start=1):
        question = _child(pair, _QUESTION)
        fields = {**base, "question": _text(question), "answer": _text(_child(pair, _ANSWER)),
                  "qtype": question.get("qtype") if question is not None else None,
                  "id": question.get("qid") if question is not None else None}
        yield RawRow(source, n, fields)


def iter_medquad(root: Path) -> Iterator[RawRow]:
    """Stream the question/answer pairs of a MedQuAD folder, one file at a time."""
    for path in medquad_files(root):
        try:
            data = path.read_bytes()
        except OSError as err:
            yield RawRow(str(path), 0, None, f"unreadable file: {err.strerror or err}")
            continue
        yield from parse_document(data, str(path))
