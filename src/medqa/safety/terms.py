"""Term (symptom/context pattern) definitions shared by the lexicon modules.

Why: each lay-language symptom is a named, compiled regex so that triage
decisions can be explained ("cardiac: chest_pain + sweating") and audited in
code review. Optional validators handle the few cases a regex cannot judge
alone (a temperature >= 38 C, an infant younger than 3 months, a pill count
large enough to be an overdose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

Validator = Callable[[str], bool]

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "a dozen": 12, "dozen": 12, "a couple": 2, "a few": 3, "few": 3,
}
_WORDS = sorted(NUMBER_WORDS, key=len, reverse=True)
NUM = r"(?:\d+(?:\.\d+)?|" + "|".join(_WORDS) + r")"
POSS = r"(?:my|his|her|their|our|the|your|a|its)"
# One arbitrary word plus a space, never a negation word, so that a gap in a
# pattern cannot swallow "not"/"no" ("vomiting but there is no blood").
_NOT_NEG = r"(?!(?:not|no|never|without|nor|neither)\b)"
GAP = rf"(?:{_NOT_NEG}\S+ )"
W = rf"(?:{_NOT_NEG}\w+ )"


def near(a: str, b: str, gap: int = 3) -> str:
    """Pattern for concept ``a`` and concept ``b`` within ``gap`` words.

    Either order is accepted ("chest ... tight" / "tightness in my chest");
    the gap words can never be negations (see ``W``).
    """
    g = rf"(?:\w+ ){{0,{gap}}}?"
    return (rf"\b(?:{a})\b {g}(?:{b})\b"
            rf"|\b(?:{b})\b {g}(?:{a})\b")


@dataclass(frozen=True)
class Term:
    """A named pattern; ``immune`` terms ignore informational framing."""

    name: str
    pattern: re.Pattern[str]
    immune: bool = False
    validator: Optional[Validator] = None
    mild_name: Optional[str] = None  # renamed to this after "a bit", "mild"
    unless: Optional[re.Pattern[str]] = None  # benign explanation in sentence


def term(name: str, *patterns: str, immune: bool = False,
         validator: Optional[Validator] = None,
         mild_name: Optional[str] = None, unless: Optional[str] = None) -> Term:
    """Compile alternative patterns into one named Term.

    Generic word gaps written as ``(?:\\w+ )`` / ``(?:\\S+ )`` are compiled
    as negation-free gaps (see ``W`` / ``GAP``).
    """
    joined = "|".join(f"(?:{p})" for p in patterns)
    joined = joined.replace(r"(?:\w+ )", W).replace(r"(?:\S+ )", GAP)
    return Term(name, re.compile(joined), immune, validator, mild_name,
                re.compile(unless) if unless else None)


def first_number(text: str) -> Optional[float]:
    """Return the first number (digits or number word) in ``text``."""
    match = re.search(rf"\b{NUM}\b", text)
    if not match:
        return None
    token = match.group(0)
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    return float(token)


def is_fever_value(text: str) -> bool:
    """True for a temperature reading of at least 38 C / 100.4 F."""
    value = first_number(text)
    if value is None:
        return False
    return 38.0 <= value <= 43.5 or 100.4 <= value <= 110.0


def is_young_infant_age(text: str) -> bool:
    """True when an age phrase is under 3 months (13 weeks / 90 days)."""
    value = first_number(text)
    if value is None:
        return False
    if "day" in text:
        return value < 90
    if "week" in text or "wk" in text:
        return value < 13
    return value < 3  # months


def is_overdose_count(text: str) -> bool:
    """True when an ingestion phrase names 8+ tablets or a vague large amount."""
    value = first_number(text)
    if value is None:
        return True  # "a handful", "loads of", "too many"
    return value >= 8


def is_preterm_weeks(text: str) -> bool:
    """True for a gestation between 12 and 36 completed weeks."""
    value = first_number(text)
    return value is not None and 12 <= value < 37
