"""Grounded answers: retrieved passages into the prompt, every answer sentence checked against them afterwards.

A sentence is *supported* by a passage when one of the passage's sentences gives `support = (cosine + overlap) / 2`
of at least `index.support_threshold`, where `cosine` is the all-MiniLM-L6-v2 similarity of the two sentences and
`overlap` the share of the answer sentence's content words (lower-cased, stop words removed) found in the passage
sentence, and the two agree in polarity (a negation on one side only, "antibiotics do not treat the flu" against
"the flu is treated with antibiotics", counts as no support). Why sentence against sentence and both measures:
embeddings alone rate a sentence on the right topic that states the wrong fact as close, and whole passages dilute
one supporting sentence; word overlap alone is fooled by paraphrase. A supported sentence keeps
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
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|without|neither|nor|none)\b|n't\b", re.IGNORECASE)
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

    _units: Any = None  # (passage number, sentence, vector, content words, negated) of every passage sentence

    def fresh(self) -> Grounding:
        """The same passages with no citations yet (for shaping another answer to the same question)."""
        return Grounding(self.hits, self.abstain)

    def support(self, claim: str, encoder: Any) -> np.ndarray:
        """How well each passage supports `claim` (its best sentence's support; see the module docstring)."""
        from medqa.retrieval.chunking import sentences

        if self._units is None:
            units = [(n, s) for n, h in enumerate(self.hits) for s in sentences(h.chunk.text)]
            vectors = encoder.encode([s for _, s in units]) if units else np.zeros((0, 1), dtype=np.float32)
            self._units = [(n, v, content_words(s), bool(_NEGATION.search(s))) for (n, s), v in zip(units, vectors)]
        best = np.zeros(len(self.hits), dtype=np.float32)
        own, negated = content_words(claim), bool(_NEGATION.search(claim))
        if not self._units:
            return best
        vector = encoder.encode([claim])[0]
        for n, unit_vector, words, unit_negated in self._units:
            if unit_negated != negated:
                continue
            overlap = len(own & words) / len(own) if own else 0.0
            best[n] = max(best[n], (max(float(vector @ unit_vector), 0.0) + overlap) / 2)
        return best

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


def ground_stream(sentences: Iterable[str], grounding: Grounding, encoder: Any, cfg: Any,
                  stats: dict[str, int] | None = None) -> Iterator[str]:
    """Checked sentences, cited: one embedding call per sentence as it completes (streaming). When no sentence is
    supported the assistant says it found no answer in its sources, as when retrieval finds nothing. `stats`, when
    given, counts sentences, supported ones, and the model's own citations and how many of them were right."""
    counts = stats if stats is not None else {}
    for key in ("sentences", "supported", "model_citations", "model_citations_supported"):
        counts.setdefault(key, 0)
    shown = False
    for sentence in sentences:
        claim = _CITATION.sub("", sentence).strip()
        if not claim:
            continue
        scores = grounding.support(claim, encoder)
        best = int(np.argmax(scores)) if len(scores) else -1
        written = [int(n) for n in _CITATION.findall(sentence)]
        counts["sentences"] += 1
        counts["model_citations"] += len(written)
        counts["model_citations_supported"] += sum(0 < n <= len(scores) and scores[n - 1] >= cfg.support_threshold
                                                   for n in written)
        if best >= 0 and scores[best] >= cfg.support_threshold:
            counts["supported"] += 1
            cited = [n for n in written if 0 < n <= len(scores) and scores[n - 1] >= cfg.support_threshold] or [best + 1]
            for n in cited:
                if n not in grounding.cited:
                    grounding.cited.append(n)
            shown = True
            yield cite(claim, cited)
        elif cfg.unsupported == "mark":
            shown = True
            yield claim + UNSUPPORTED_MARK
        # else: dropped, as the safe default
    if not shown:
        yield ABSTAIN_MESSAGE


def check_answer(text: str, grounding: Grounding, encoder: Any, cfg: Any) -> tuple[str, dict[str, Any]]:
    """A whole answer as grounding shows it (before the safety policy), and what the check found (for eval)."""
    from medqa.safety.policy import stream_sentences

    fresh = grounding.fresh()
    stats: dict[str, Any] = {"abstained": fresh.abstain}
    if fresh.abstain:
        return ABSTAIN_MESSAGE, {**stats, "sentences": 0, "supported": 0, "model_citations": 0,
                                 "model_citations_supported": 0, "citations": []}
    shown = " ".join(ground_stream(stream_sentences([text]), fresh, encoder, cfg, stats))
    return shown, {**stats, "cited": len(fresh.cited), "citations": fresh.citations()}


def cite(claim: str, numbers: list[int]) -> str:
    """`claim` with its citations before the closing punctuation: 'Rest helps [1].'"""
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
