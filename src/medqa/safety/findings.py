"""Turn a message into findings: which features are mentioned, and how.

Why: separating *what* is mentioned (lexicon terms) from *how* it is
mentioned (current, negated, past, hypothetical) keeps both halves simple
and testable. Each finding records its status so the rule layer can use
context features such as "pregnant" from a question clause while still
requiring at least one currently reported symptom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import (continues_history, is_historical, is_hypothetical, is_negated,
                      message_has_purpose_frame)
from .lexicon import ALL_TERMS, CONTEXT_TERMS
from .normalize import Sentence, normalize, split_sentences
from .terms import Term

ACTIVE = "active"
NEGATED = "negated"
HISTORICAL = "historical"
HYPOTHETICAL = "hypothetical"
USABLE = frozenset({ACTIVE, HYPOTHETICAL})

_MILD = re.compile(r"\b(?:bit|little|slight\w*|mild\w*|tiny|some|"
                   r"barely)\b")


@dataclass(frozen=True)
class Finding:
    """One mention of a feature with its context status."""

    name: str
    text: str
    status: str
    source: int = 0  # index of the conversation turn it came from


def _clause_flags(sentence: Sentence, purpose: bool) -> list[tuple[int, int, bool, bool]]:
    flags, past = [], False
    for c in sentence.clauses:
        past = is_historical(c.text) or (past and continues_history(c.text))
        flags.append((c.start, c.end, past, is_hypothetical(c.text, purpose)))
    return flags


def _status(term: Term, sentence: str, start: int,
            flags: list[tuple[int, int, bool, bool]]) -> str:
    if is_negated(sentence, start):
        return NEGATED
    historical = hypothetical = False
    for c_start, c_end, hist, hypo in flags:
        if c_start <= start < c_end:
            historical, hypothetical = hist, hypo
            break
    if historical and term.name not in CONTEXT_TERMS:  # "had a c-section 2 weeks ago" still describes now
        return HISTORICAL
    if hypothetical and not term.immune:
        return HYPOTHETICAL
    return ACTIVE


def _effective_name(term: Term, sentence: str, start: int) -> str:
    """Downgrade mild-qualified terms ("a bit of trouble breathing")."""
    if term.mild_name:
        before = " ".join(sentence[:start].split()[-3:])
        if _MILD.search(before):
            return term.mild_name
    return term.name


def _scan_sentence(sentence: Sentence, purpose: bool, source: int) -> list[Finding]:
    flags = _clause_flags(sentence, purpose)
    found: list[Finding] = []
    for term in ALL_TERMS:
        for match in term.pattern.finditer(sentence.text):
            if term.validator and not term.validator(match.group(0)):
                continue
            if term.unless and term.unless.search(sentence.text):
                continue
            status = _status(term, sentence.text, match.start(), flags)
            name = _effective_name(term, sentence.text, match.start())
            found.append(Finding(name, match.group(0), status, source))
    return found


def extract_findings(text: str, source: int = 0) -> list[Finding]:
    """Return every finding in ``text`` (raw user text) with its status."""
    norm = normalize(text)
    purpose = message_has_purpose_frame(norm)
    findings: list[Finding] = []
    for sentence in split_sentences(norm):
        findings.extend(_scan_sentence(sentence, purpose, source))
    return findings
