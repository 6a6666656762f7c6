"""Documents → passages: split on paragraph and sentence boundaries, pack up to `max_words`, overlap by whole
sentences, then drop exact and near duplicates. Pure functions; `medqa.retrieval.index` calls them.

Why words and sentences, not tokens: passages are read by people (they are the cited sources) and by two
different tokenizers (BM25's and the embedder's); a passage of ~150 words fits the embedder's 256 word pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from medqa.retrieval.documents import Document

_PARAGRAPH = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? (optionally closed by a quote or bracket) before a capital, digit or opening mark; list
# items on their own lines are sentences too.
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])|\n+(?=\s*(?:[-*•]|\d+[.)])\s)")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Chunk:
    text: str
    title: str
    url: str | None
    source: str
    doc_id: str
    position: int  # the chunk's place in its document

    def to_dict(self) -> dict:
        return {"text": self.text, "title": self.title, "url": self.url, "source": self.source,
                "doc_id": self.doc_id, "position": self.position}


_ABBREVIATION = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|St|vs|No|Fig|approx|e\.g|i\.e|etc)|\b[A-Z])\.$")


def sentences(text: str) -> list[str]:
    """The sentences of one paragraph, whitespace collapsed ("Dr. Smith" and "e.g. rest" stay whole)."""
    out: list[str] = []
    for part in _SENTENCE.split(text.strip()):
        part = " ".join(part.split()) if part else ""
        if not part:
            continue
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += " " + part
        else:
            out.append(part)
    return out


def chunk_text(text: str, max_words: int = 150, overlap: int = 1) -> list[str]:
    """Passages of whole sentences, at most `max_words` each (a longer sentence is cut at word boundaries), each
    after the first repeating the previous passage's last `overlap` sentences. A paragraph end closes a passage
    that is already half full, so passages follow the document's own structure."""
    units: list[tuple[str, bool]] = []  # (sentence, ends its paragraph)
    for paragraph in _PARAGRAPH.split(text):
        parts = [p for s in sentences(paragraph) for p in _cut(s, max_words)]
        units += [(s, i == len(parts) - 1) for i, s in enumerate(parts)]
    chunks: list[str] = []
    current: list[str] = []
    fresh = 0  # sentences in `current` that no earlier chunk holds
    for sentence, ends_paragraph in units:
        if current and fresh and _words(current) + len(sentence.split()) > max_words:
            chunks.append(" ".join(current))
            current = current[-overlap:] if overlap else []
            while current and _words(current) + len(sentence.split()) > max_words:
                current = current[1:]
            fresh = 0
        current.append(sentence)
        fresh += 1
        if ends_paragraph and _words(current) >= max_words // 2:
            chunks.append(" ".join(current))
            current, fresh = (current[-overlap:] if overlap else []), 0
    if current and fresh:
        chunks.append(" ".join(current))
    return chunks


def _words(parts: list[str]) -> int:
    return sum(len(p.split()) for p in parts)


def _cut(sentence: str, max_words: int) -> list[str]:
    words = sentence.split()
    return [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)] or [sentence]


def chunk_documents(docs: Iterable[Document], max_words: int = 150, overlap: int = 1) -> Iterator[Chunk]:
    for doc in docs:
        for i, text in enumerate(chunk_text(doc.text, max_words, overlap)):
            yield Chunk(text, doc.title, doc.url, doc.source, doc.doc_id, i)


def normalized(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def dedupe(chunks: list[Chunk], threshold: float = 0.9, seed: int = 0) -> tuple[list[Chunk], dict[str, int]]:
    """Chunks without exact (same normalised words) or near duplicates (MinHash Jaccard of word 3-grams ≥
    `threshold`); the first of each group is kept. Returns the kept chunks and how many of each kind were dropped."""
    seen: set[str] = set()
    unique: list[Chunk] = []
    dropped = {"exact": 0, "near": 0}
    for chunk in chunks:
        key = normalized(chunk.text)
        if key in seen:
            dropped["exact"] += 1
        else:
            seen.add(key)
            unique.append(chunk)
    if threshold >= 1.0 or len(unique) < 2:
        return unique, dropped
    from medqa.config import NearDupConfig
    from medqa.data.dedup import NearDuplicateIndex
    from medqa.data.fingerprints import hash_words, words

    index = NearDuplicateIndex(NearDupConfig(threshold=threshold, seed=seed))
    signatures = index.signatures_of([hash_words(words(c.text)) for c in unique])
    kept = []
    for chunk, signature in zip(unique, signatures):
        if index.add_if_new(signature) is not None:
            dropped["near"] += 1
        else:
            kept.append(chunk)
    return kept, dropped
