"""Row filters: which cleaned rows to drop, and why (the reason is the key counted in `stats.json`).

Pure functions of a row and its config. `drop_reason` runs per row in the reading loop; `length_reason` runs
per chunk once lengths are known (tokens of the chosen tokenizer, or words without one).

The language check is a cheap heuristic for English, good enough to catch rows in another language or
script, not to grade English: a text passes when at least `min_ascii_letter_share` of its letters are
ASCII and at least `min_stopword_share` of its first 80 words (normalised: lower case, no punctuation) are
common English function words ("the", "and", "is", "of", "I", ...). Real English prose has 35-55 % such words; a German or Spanish sentence has
almost none of them, a list of lab values has few, and texts shorter than `min_words` words are kept
because they are too short to judge.
"""

from __future__ import annotations

import re

from medqa.config import DataConfig, LanguageConfig, LengthFilterConfig
from medqa.data.fingerprints import words
from medqa.data.schema import Example

STOPWORDS_EN = frozenset(
    "a about after all also am an and any are as at be because been before being but by can could did do does doing "
    "for from had has have having he her here him his how i if in into is it its just me more most my no not now of "
    "on once only or other our out over same she should so some such than that the their them then there these they "
    "this those through to too under until up very was we were what when where which while who why will with would "
    "you your i'm i've it's don't can't".split()
)
_STOPWORDS_BYTES = frozenset(w.encode() for w in STOPWORDS_EN if "'" not in w)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
JUDGED_WORDS = 80


def ascii_letter_share(text: str) -> float:
    """Share of letters that are ASCII (1.0 for an ASCII text or one without letters)."""
    if text.isascii():
        return 1.0
    other = sum(1 for ch in _NON_ASCII.findall(text) if ch.isalpha())
    ascii_letters = len(_ASCII_LETTERS.findall(text))
    total = ascii_letters + other
    return ascii_letters / total if total else 1.0


def stopword_share(ws: list[bytes]) -> float:
    """Share of normalised words (`fingerprints.words`) that are English function words."""
    return sum(map(_STOPWORDS_BYTES.__contains__, ws)) / len(ws) if ws else 0.0


def language_reason(text: str, cfg: LanguageConfig, ws: list[bytes] | None = None) -> str | None:
    """'language' when `text` does not look like English, else None (see the module docstring).
    `ws`: the normalised words of `text` when the caller has them already."""
    if not cfg.enabled:
        return None
    ws = (words(text) if ws is None else ws)[:JUDGED_WORDS]
    if len(ws) < cfg.min_words:
        return None
    if ascii_letter_share(text) < cfg.min_ascii_letter_share or stopword_share(ws) < cfg.min_stopword_share:
        return "language"
    return None


def drop_reason(ex: Example, cfg: DataConfig, ws: list[bytes] | None = None) -> str | None:
    """Why a cleaned row is dropped before deduplication, or None to keep it (`ws`: words of question + answer)."""
    if not ex.question.strip():
        return "empty_question"
    if not ex.answer.strip():
        return "empty_answer"
    if len(ex.question.split()) < cfg.min_question_words:
        return "short_question"
    if len(ex.answer.split()) < cfg.min_answer_words:
        return "short_answer"
    return language_reason(f"{ex.question}\n{ex.answer}", cfg.language, ws)


def _out_of(value: int, low: int | None, high: int | None) -> str | None:
    if low is not None and value < low:
        return "short"
    if high is not None and value > high:
        return "long"
    return None


def length_reason(question_len: int, answer_len: int, cfg: LengthFilterConfig) -> str | None:
    """'short_question', 'long_answer', ... when a length is outside the configured range, else None."""
    if not cfg.enabled:
        return None
    q = _out_of(question_len, cfg.min_question_tokens, cfg.max_question_tokens)
    if q:
        return f"{q}_question"
    a = _out_of(answer_len, cfg.min_answer_tokens, cfg.max_answer_tokens)
    return f"{a}_answer" if a else None
