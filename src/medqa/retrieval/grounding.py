"""Grounded answers: retrieved passages into the prompt, every answer sentence checked against them afterwards.

A sentence is *supported* by a passage when `support = (cosine + overlap) / 2` reaches `index.support_threshold`,
where `cosine` is the all-MiniLM-L6-v2 similarity of sentence and passage and `overlap` the share of the sentence's
content words (lower-cased, stop words removed) that occur in the passage. Why both: embeddings alone rate a
sentence that names the right topic but states the wrong fact ("the flu is treated with antibiotics" vs a passage
saying antibiotics do not treat it) as close; word overlap alone is fooled by paraphrase. A supported sentence keeps
(or gets) the citation `[n]` of its best passage; a citation to a passage that does not support its sentence is
replaced; unsupported sentences are dropped (or marked, `index.unsupported: mark`). The reply ends with the sources
it cited. When no passage is relevant at all (best cosine below `index.min_relevance`), the engine is not asked:
the assistant says it could not find the answer in its sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ABSTAIN_MESSAGE = "I could not find an answer to this in my sources, so I will not guess."
UNSUPPORTED_MARK = " [unsupported: no source found for this]"
_CITATION = re.compile(r"\s*\[(\d{1,2})\]")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being it its this
that these those you your i my me we our they them their he she his her can could may might will would should do does
did have has had not no so than then there here what which who whom how when where why also about into over under
such very more most some any all each other only own same too just s t""".split())


@dataclass
class Grounding:
    """One request's passages (numbered from 1 in the prompt) and whether the assistant abstains."""

    hits: list[Any]  # medqa.retrieval.index.Hit
    abstain: bool = False
    cited: list[int] = field(default_factory=list)  # passage numbers the shown answer cites, in order of first use

    def fresh(self) -> Grounding:
        """The same passages with no citations yet (for shaping another answer to the same question)."""
        return Grounding(self.hits, self.abstain)

    def citations(self) -> list[dict[str, Any]]:
        """The cited passages as structured data (what `serve` returns beside the content)."""
        return [{"index": n, "title": self.hits[n - 1].chunk.title, "url": self.hits[n - 1].chunk.url,
                 "source": self.hits[n - 1].chunk.source, "text": self.hits[n - 1].chunk.text} for n in self.cited]


def retrieve(index: Any, conversation: list[dict[str, str]], cfg: Any) -> Grounding:
    """Passages for the latest user turn; abstain when even the best is not relevant."""
    query = next(m["content"] for m in reversed(conversation) if m["role"] == "user")
    hits = index.search(query, cfg.k)
    relevant = bool(hits) and max(h.similarity for h in hits) >= cfg.min_relevance
    return Grounding(hits if relevant else [], abstain=not relevant)


def with_passages(conversation: list[dict[str, str]], grounding: Grounding) -> list[dict[str, str]]:
    """The conversation with the numbered passages appended to its system message (one is added if absent)."""
    if not grounding.hits:
        return conversation
    listing = "\n\n".join(f"[{n}] {h.chunk.title}: {h.chunk.text}" for n, h in enumerate(grounding.hits, start=1))
    note = ("Answer from these sources only and cite the source of each statement as [n]. If they do not answer "
            f"the question, say so.\n\nSources:\n{listing}")
    if conversation and conversation[0]["role"] == "system":
        return [{"role": "system", "content": f"{conversation[0]['content']}\n\n{note}"}, *conversation[1:]]
    return [{"role": "system", "content": note}, *conversation]


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def support_scores(sentences: list[str], passages: list[str], encoder: Any) -> np.ndarray:
    """(sentences x passages) support in [0, 1]: the mean of embedding cosine and content-word overlap."""
    if not sentences or not passages:
        return np.zeros((len(sentences), len(passages)), dtype=np.float32)
    vectors = encoder.encode(sentences + passages)
    cosine = np.clip(vectors[: len(sentences)] @ vectors[len(sentences):].T, 0.0, 1.0)
    words = [content_words(p) for p in passages]
    overlap = np.zeros_like(cosine)
    for i, sentence in enumerate(sentences):
        own = content_words(sentence)
        if own:
            overlap[i] = [len(own & w) / len(own) for w in words]
    return (cosine + overlap) / 2


def ground_stream(sentences: Iterable[str], grounding: Grounding, encoder: Any, cfg: Any) -> Iterator[str]:
    """Checked sentences, cited: one embedding call per sentence as it completes (streaming)."""
    passages = [h.chunk.text for h in grounding.hits]
    for sentence in sentences:
        claim = _CITATION.sub("", sentence).strip()
        if not claim:
            continue
        scores = support_scores([claim], passages, encoder)[0]
        best = int(np.argmax(scores)) if len(scores) else -1
        if best >= 0 and scores[best] >= cfg.support_threshold:
            cited = [int(n) for n in _CITATION.findall(sentence) if 0 < int(n) <= len(passages)
                     and scores[int(n) - 1] >= cfg.support_threshold] or [best + 1]
            for n in cited:
                if n not in grounding.cited:
                    grounding.cited.append(n)
            yield _cite(claim, cited)
        elif cfg.unsupported == "mark":
            yield _cite(claim, []) + UNSUPPORTED_MARK
        # else: dropped, as the safe default


def _cite(claim: str, numbers: list[int]) -> str:
    tail = "".join(f"[{n}]" for n in numbers)
    if not tail:
        return claim
    end = len(claim.rstrip(".!?"))
    return f"{claim[:end]} {tail}{claim[end:]}"


def sources_footer(grounding: Grounding) -> str:
    """'Sources:' and one line per cited passage (title, URL or source), numbered as in the answer."""
    if not grounding.cited:
        return ""
    lines = [f"[{n}] {grounding.hits[n - 1].chunk.title}" + (f" — {where}" if (where := (
        grounding.hits[n - 1].chunk.url or grounding.hits[n - 1].chunk.source)) else "") for n in grounding.cited]
    return "Sources:\n" + "\n".join(lines)
