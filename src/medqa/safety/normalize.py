"""Text normalisation and clause splitting for the rule-based triage.

Why: patient messages are informal ("cant breath", "my babys 5 weeks old n
got a fever"). Every downstream regex is written against one canonical form
(lowercase, expanded contractions, no apostrophes or hyphens, a handful of
frequent misspellings fixed) so the patterns stay short and auditable.
Clause splitting exists because negation, history and "just asking"
framing are local: "no chest pain, but my lips are swelling" negates only
the first clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNICODE = {
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
    "\u2014": "-", "\u00b0": " degrees ", "\u00a0": " ",
}

# Order matters: specific forms before the generic n't rule.
_CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bcan'?t\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bwon'?t\b", "will not"),
    (r"\bshan'?t\b", "shall not"),
    (r"\bain'?t\b", "is not"),
    (r"\b(do|does|did|is|are|was|were|have|has|had|could|would|should|"
     r"must|need)n'?t\b", r"\1 not"),
    (r"n't\b", " not"),
    (r"\bi'?m\b", "i am"),
    (r"\bi'?ve\b", "i have"),
    (r"'re\b", " are"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"\bi'd\b", "i would"),
    (r"\b(it|he|she|that|what|there|who|where|here|this|everything|nothing)'s\b", r"\1 is"),
    (r"\b(that|what|he|she)s\b", r"\1 is"),
    (r"\bwanna\b", "want to"),
    (r"\bgonna\b", "going to"),
    (r"\bgotta\b", "got to"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"\br\b", "are"),
    (r"\bn\b", "and"),
)

# Frequent misspellings seen in patient messages (cheap typo tolerance).
_TYPOS: dict[str, str] = {
    "cheast": "chest", "chesst": "chest", "brething": "breathing",
    "breating": "breathing", "breth": "breath", "stomache": "stomach",
    "unconcious": "unconscious", "unconsious": "unconscious",
    "siezure": "seizure", "seizue": "seizure", "seisure": "seizure",
    "siezures": "seizures", "bleading": "bleeding", "bleedin": "bleeding",
    "vomitting": "vomiting", "vommiting": "vomiting", "vomiting": "vomiting",
    "swolen": "swollen", "headach": "headache", "temprature": "temperature",
    "temperture": "temperature", "feaver": "fever", "fevar": "fever",
    "alergic": "allergic", "anaphalaxis": "anaphylaxis",
    "suicidle": "suicidal", "sucidal": "suicidal", "suicidial": "suicidal",
    "poisen": "poison", "pregant": "pregnant", "pregnent": "pregnant",
    "preganant": "pregnant", "concusion": "concussion",
    "paracetemol": "paracetamol", "paracetomol": "paracetamol",
    "droping": "drooping", "slured": "slurred", "tounge": "tongue",
    "throut": "throat", "babby": "baby", "diarrhoea": "diarrhea",
    "nappys": "nappies", "numbb": "numb", "dizzey": "dizzy",
}
_TYPO_RE = re.compile(r"\b(" + "|".join(map(re.escape, _TYPOS)) + r")\b")

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|[\n\r]+|(?<=\?)(?=\S)|\.(?=\s*$)")

# Clause boundaries: punctuation, contrastive/causal conjunctions, and "and"
# when it introduces a new subject or time ("... years ago and now my ...").
_CLAUSE_SPLIT = re.compile(
    r"\s*[,;:()]\s*|\s+-\s+"
    r"|\s+(?=(?:but|however|although|though|whereas|except|because|so that|"
    r"which is why|yet)\b)"
    r"|\s+and\s+(?=(?:i|he|she|they|it|my|his|her|we|our|their|now|then|"
    r"today|suddenly|since|is|was|has|am)\b)"
)


@dataclass(frozen=True)
class Clause:
    """A clause with its character span inside its sentence."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """A normalised sentence and its clauses."""

    text: str
    clauses: tuple[Clause, ...]


def normalize(text: str) -> str:
    """Return the canonical lowercase form used by every triage pattern."""
    out = text or ""
    for src, dst in _UNICODE.items():
        out = out.replace(src, dst)
    out = out.lower().replace("`", "'")
    for pattern, repl in _CONTRACTIONS:
        out = re.sub(pattern, repl, out)
    out = _TYPO_RE.sub(lambda m: _TYPOS[m.group(1)], out)
    out = out.replace("'", "")
    out = re.sub(r"(?<=\w)-(?=\w)", " ", out)
    out = re.sub(r"[ \t]+", " ", out)
    return out.strip()


def split_clauses(sentence: str) -> tuple[Clause, ...]:
    """Split one sentence into clauses, keeping character offsets."""
    clauses: list[Clause] = []
    pos = 0
    for match in _CLAUSE_SPLIT.finditer(sentence):
        if match.start() > pos:
            clauses.append(Clause(sentence[pos:match.start()], pos, match.start()))
        pos = match.end()
    if pos < len(sentence):
        clauses.append(Clause(sentence[pos:], pos, len(sentence)))
    return tuple(c for c in clauses if c.text.strip())


MAX_SENTENCE_WORDS = 80  # an unpunctuated wall of text is read in pieces, so triage stays linear in its length


def _pieces(sentence: str) -> list[str]:
    words = sentence.split()
    if len(words) <= MAX_SENTENCE_WORDS:
        return [sentence]
    # half-overlapping windows: a phrase cut by one window's edge is whole in the next
    step = MAX_SENTENCE_WORDS // 2
    return [" ".join(words[i:i + MAX_SENTENCE_WORDS]) for i in range(0, len(words) - step, step)]


def split_sentences(text: str) -> tuple[Sentence, ...]:
    """Split normalised text into sentences, each with its clauses."""
    parts = [p.strip() for p in _SENTENCE_SPLIT.split(text) if p and p.strip()]
    return tuple(Sentence(piece, split_clauses(piece)) for p in parts for piece in _pieces(p))
