"""Cleaning rules: pure text → text functions, each with a name so that `stats.json` can count what it changed.

The reference recipe stripped URLs and "Chat Doctor" tokens with bare substitutions and left debris such
as "Welcome to ," behind. Here a whole greeting clause that mentions the site is removed, a mention inside a
sentence becomes "a doctor", and orphaned punctuation is tidied afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_CD = r"chat\s*-?\s*doctor(?:\.com)?(?:\s+forum)?"
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s)\]>]+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|co\.uk)(?:/[^\s)\]>]*)?\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CD_GREETING = re.compile(
    rf"(?:(?:hi|hello|dear|hey)(?:\s+there)?[\s,.!]*)?"
    rf"(?:(?:thanks?(?:\s+you)?|thank\s+you)\s+for\s+[^.!?\n]{{0,60}}?\b(?:on|in|to|at|with|using)\s+{_CD}"
    rf"|welcome\s+to\s+{_CD}"
    rf"|i\s+am\s+(?:dr\.?\s+)?{_CD}(?:\s+(?:and|,)?\s*i\s+will\s+[^.!?\n]*)?)[\s.,!:;-]*",
    re.I,
)
_CD_ARTICLE = re.compile(rf"\b(a|an|the|your)\s+{_CD}\b", re.I)
_CD_SIGNOFF = re.compile(rf"(?:(?:thanks\s+(?:and|&)\s+)?regards|best\s+wishes|take\s+care|thanks?)[\s,.]*(?:dr\.?\s+)?{_CD}[.!]?", re.I)
_CD_ANY = re.compile(rf"\b(?:dr\.?\s+)?{_CD}\b[.,]?", re.I)


@dataclass(frozen=True)
class Rule:
    name: str
    fn: Callable[[str], str]


def remove_urls(text: str) -> str:
    return _URL.sub("", text)


def remove_emails(text: str) -> str:
    return _EMAIL.sub("", text)


def remove_chatdoctor(text: str) -> str:
    text = _CD_GREETING.sub("", text)
    text = _CD_SIGNOFF.sub("", text)
    text = _CD_ARTICLE.sub(lambda m: "a doctor" if m.group(1).lower() in ("a", "an") else f"{m.group(1)} doctor", text)
    return _CD_ANY.sub("", text)


def tidy_punctuation(text: str) -> str:
    """Mend the debris that removals leave: orphan commas, empty brackets, space before punctuation."""
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"[ \t]+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r",\s*([.!?])", r"\1", text)
    text = re.sub(r"(?m)^[ \t,.;:!-]+(?=\w)", "", text)
    return text


def normalise_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


RULES: tuple[Rule, ...] = (
    Rule("chatdoctor", remove_chatdoctor),  # first: "ChatDoctor.com" is a site name, not a link to keep
    Rule("emails", remove_emails),  # before URLs, whose domain pattern would eat an address's tail
    Rule("urls", remove_urls),
    Rule("punctuation", tidy_punctuation),
    Rule("whitespace", normalise_whitespace),
)


def clean_text(text: str, rules: tuple[Rule, ...] = RULES, changed: dict[str, int] | None = None) -> str:
    """Apply each rule in order; when `changed` is given, count the rules that altered the text."""
    for rule in rules:
        new = rule.fn(text)
        if changed is not None and new != text:
            changed[rule.name] = changed.get(rule.name, 0) + 1
        text = new
    return text


def normalise_key(text: str) -> str:
    """The comparison form of a text for duplicates and split hashing: case, spacing and punctuation ignored."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()
