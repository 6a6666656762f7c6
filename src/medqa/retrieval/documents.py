"""Documents for the retrieval index, read from what people have: MedQuAD's XML folders, tables of text rows
(JSONL, JSON, CSV, Parquet with `text` plus optional `title`, `url`, `source`), and folders of Markdown, HTML or
plain-text files (a clinic's own guidelines).

Readers yield `Document`s and, for what they cannot read, `Problem`s naming the file and line, so one bad file or
row is counted and reported while the rest is indexed.

    medqa index build ../shared/data/medquad my-guidelines/ --output indexes/medical
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
TEXT_FIELDS = ("text", "content", "body", "answer", "output")  # the first present names the passage text
TITLE_FIELDS = ("title", "question", "focus", "heading")


@dataclass(frozen=True)
class Document:
    text: str
    title: str
    url: str | None
    source: str  # the file (and, for tables, line) it came from
    doc_id: str  # stable across builds: the source document's id, or a hash of where it came from


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}" if self.line else f"{self.path}: {self.reason}"


def read_source(path: str | Path) -> Iterator[Document | Problem]:
    """Every document of one source path (a MedQuAD folder, a table file, a document file or folder)."""
    from medqa.data.medquad import is_medquad_dir

    p = Path(path)
    if not p.exists():
        yield Problem(str(p), 0, "does not exist")
    elif p.is_dir() and is_medquad_dir(p):
        yield from _medquad(p)
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TABLE_SUFFIXES + TEXT_SUFFIXES)
        if not files:
            yield Problem(str(p), 0, f"no {', '.join(TABLE_SUFFIXES + TEXT_SUFFIXES)} files inside")
        for f in files:
            yield from read_source(f)
    elif p.suffix.lower() in TABLE_SUFFIXES:
        yield from _table(p)
    elif p.suffix.lower() in TEXT_SUFFIXES:
        yield from _text_file(p)
    else:
        yield Problem(str(p), 0, f"unsupported file type {p.suffix!r}: use a MedQuAD folder, "
                                 f"{'/'.join(TABLE_SUFFIXES)} or {'/'.join(TEXT_SUFFIXES)}")


def _medquad(root: Path) -> Iterator[Document | Problem]:
    from medqa.data.medquad import iter_medquad

    for row in iter_medquad(root):
        if row.fields is None:
            yield Problem(row.source, row.line, row.error or "unreadable")
            continue
        f = row.fields
        if not (f.get("answer") or "").strip():
            continue  # MedQuAD withholds some collections' answers (copyright); nothing to index
        # The document's focus and the section's type, not the question: a reader sees where the passage comes
        # from, and held-out MedQuAD questions never match their own text in the index.
        focus = f.get("focus") or Path(row.source).stem
        title = f"{focus} ({f['qtype']})" if f.get("qtype") else focus
        where = f"{row.source}#{row.line}"  # unique: MedQuAD's own ids restart in every collection
        yield Document(f["answer"], title, f.get("url"), where, where)


def _table(path: Path) -> Iterator[Document | Problem]:
    from medqa.data.sources import iter_rows

    for row in iter_rows(str(path)):
        if row.fields is None:
            yield Problem(row.source, row.line, row.error or "unreadable row")
            continue
        fields = row.fields
        text = next((str(fields[k]) for k in TEXT_FIELDS if isinstance(fields.get(k), str) and fields[k].strip()), "")
        if not text:
            yield Problem(row.source, row.line, f"no text: give one of the fields {', '.join(TEXT_FIELDS)}")
            continue
        title = next((str(fields[k]) for k in TITLE_FIELDS if fields.get(k)), "") or path.stem
        source = str(fields.get("source") or f"{path.name}:{row.line}")
        yield Document(text, title, fields.get("url") or None, source,
                       str(fields.get("id") or _digest(f"{path}:{row.line}")))


def _text_file(path: Path) -> Iterator[Document | Problem]:
    try:
        raw = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        yield Problem(str(path), 0, f"unreadable file: {err.strerror or err}")
        return
    if path.suffix.lower() in (".html", ".htm"):
        title, text = html_text(raw)
    else:
        heading = re.search(r"^\s*#+\s+(.+)$", raw, re.MULTILINE) if path.suffix.lower() != ".txt" else None
        title = heading.group(1).strip() if heading else ""
        text = raw[:heading.start()] + raw[heading.end():] if heading else raw  # the title is not passage text
    if not text.strip():
        yield Problem(str(path), 0, "empty document")
        return
    yield Document(text, title or path.stem.replace("_", " ").replace("-", " "), None, str(path), _digest(str(path)))


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, paragraphs kept apart; scripts, styles and navigation dropped."""

    _SKIP = {"script", "style", "nav", "header", "footer", "noscript", "template"}
    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_text(page: str) -> tuple[str, str]:
    """(title, text) of an HTML page."""
    parser = _HTMLText()
    parser.feed(page)
    parser.close()
    text = re.sub(r"[ \t\r\f\v]+", " ", html.unescape("".join(parser.parts)))
    text = re.sub(r"\s*\n\s*\n\s*", "\n\n", text).strip()
    return " ".join("".join(parser.title).split()), text


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents), for the index manifest."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode("utf-8"))
        with open(f, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
