"""Text repair rules: mojibake, lost apostrophes, HTML entities and tags, control characters.

Pure `str -> str` functions used by medqa.data.cleaning. Each first checks cheaply whether its problem can be
present at all, because most rows are clean and `prepare` runs every rule on 100k+ rows.

- Mojibake is UTF-8 that was decoded as Windows-1252 ("â€™" for "’", "Ã©" for "é"). A run of characters
  that could be such a misreading is encoded back to Windows-1252 bytes and decoded as UTF-8; the run is
  replaced only when that succeeds (the idea of ftfy's `fix_encoding`, for the common case only).
- Lost apostrophes: some exports replaced an apostrophe and the letter after it with "??" ("I??e been",
  "don??t"...). Inside a word, "??" is rebuilt from the contraction it must have been; "??" after a
  word ("Is it serious??") is left alone unless the word is a pronoun that takes "'s" or "'m".
"""

from __future__ import annotations

import html
import re

# Characters that Windows-1252 gives to bytes 0x80-0xBF, i.e. what UTF-8 continuation bytes look like
# after a wrong decode (0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined there and survive as C1 controls).
_CONT = "\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d" \
        "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
# A lead byte's character followed by as many continuation characters as that lead byte needs.
_MOJIBAKE = re.compile(rf"[\xc2-\xdf][{_CONT}]|[\xe0-\xef][{_CONT}]{{2}}|[\xf0-\xf4][{_CONT}]{{3}}")
_MOJIBAKE_HINT = re.compile(r"[\xc2-\xf4]")
_CP1252_UNDEFINED = {"\x81": b"\x81", "\x8d": b"\x8d", "\x8f": b"\x8f", "\x90": b"\x90", "\x9d": b"\x9d"}
_LOST_RIGHT_QUOTE = re.compile("\u00e2\u20ac(?=[\\s.,;:!?)]|$)")  # "â€" + lost 0x9D byte: a closing ”


def _cp1252_bytes(text: str) -> bytes | None:
    out = bytearray()
    for ch in text:
        if ch in _CP1252_UNDEFINED:
            out += _CP1252_UNDEFINED[ch]
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


def _unmangle(match: re.Match[str]) -> str:
    raw = _cp1252_bytes(match.group(0))
    if raw is None:
        return match.group(0)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Windows-1252, run by run, where the round trip is valid UTF-8."""
    if text.isascii() or not _MOJIBAKE_HINT.search(text):
        return text
    text = _MOJIBAKE.sub(_unmangle, text)
    return _LOST_RIGHT_QUOTE.sub("\u201d", text)


_N_T = {"don", "can", "won", "isn", "aren", "wasn", "weren", "doesn", "didn", "hasn", "haven", "hadn", "couldn",
        "wouldn", "shouldn", "mustn", "needn", "ain"}
_TAKES_S = {"it", "that", "there", "what", "here", "he", "she", "let", "who", "where", "how", "everything",
            "nothing", "something", "someone", "everyone", "today", "doctor", "patient", "child", "baby"}
_VE_NEXT = re.compile(r"^(?:been|had|got|gotten|done|seen|taken|tried|noticed|\w+ed|\w+en|\w+wn)$", re.I)
_I_D_NEXT = {"like", "love", "be", "recommend", "suggest", "advise", "say", "rather", "prefer", "appreciate"}
_QUESTION_BEFORE = re.compile(r"\b(?:is|was|are|am|does|did)\s+$", re.I)  # "is it?? please help" is a question
_INNER = re.compile(r"\b(\w+)\?\?(\w)(\w*)")  # "I??e", "you??e", "I??l", "we??e"
_TRAILING = re.compile(r"\b(\w+)\?\?( +)([a-z]\w*)")  # "don?? worry", "It?? possible", "I?? going"


def _inner(match: re.Match[str]) -> str:
    word, letter, rest = match.group(1), match.group(2), match.group(3)
    # "??" stands for the apostrophe and one lost letter: 'v' before "e" (I've) or 'r' (you're), 'l' (I'll).
    if letter == "e" and not rest:
        following = match.string[match.end():].lstrip().split(" ", 1)[0]
        if word.lower() == "i" or _VE_NEXT.match(following or ""):
            return f"{word}'ve"
        return f"{word}'re"
    if letter == "l" and rest in ("", "l"):
        return f"{word}'ll"
    if letter in "stdm" and not rest:
        return f"{word}'{letter}"
    return match.group(0)


def _trailing(match: re.Match[str]) -> str:
    word, space, following = match.group(1), match.group(2), match.group(3)
    low = word.lower()
    if low in _N_T:
        return f"{word}'t{space}{following}"
    if low == "i":
        return f"{word}'{'d' if following.lower() in _I_D_NEXT else 'm'}{space}{following}"
    if low in _TAKES_S and not _QUESTION_BEFORE.search(match.string, 0, match.start()):
        return f"{word}'s{space}{following}"
    return match.group(0)


def restore_apostrophes(text: str) -> str:
    """Rebuild contractions whose apostrophe and next letter were lost as '??'."""
    if "??" not in text:
        return text
    return _TRAILING.sub(_trailing, _INNER.sub(_inner, text))


_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BREAK_TAG = re.compile(r"<\s*(?:br|/p|p|/div|div|/li|li)\b[^<>]{0,80}>", re.I)
_INLINE_TAG = re.compile(r"<\s*/?\s*(?:b|i|u|em|strong|span|font|a|ul|ol|sup|sub)\b[^<>]{0,200}>", re.I)


def decode_html(text: str) -> str:
    """Decode entities ("&amp;", "&#39;") and drop simple formatting tags; "<5 mm" and "BP <120" stay."""
    if "&" in text:
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    if "<" in text:
        text = _INLINE_TAG.sub("", _BREAK_TAG.sub("\n", text))
    return text


# C0 controls except tab/newline/carriage return, DEL, C1 controls, zero-width characters, BOM, U+FFFD.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ufffd]")
_C1 = re.compile("[\x80-\x9f]")


def _c1_as_cp1252(match: re.Match[str]) -> str:
    try:  # a cp1252 byte read as Latin-1 ("\x92" is a right quote)
        return match.group(0).encode("latin-1").decode("cp1252")
    except UnicodeDecodeError:
        return ""


def remove_control_chars(text: str) -> str:
    """Drop stray control and invisible characters; C1 controls that are Windows-1252 punctuation are mapped.
    Idempotent."""
    if text.isascii() and text.replace("\n", "").replace("\t", " ").replace("\r", "").isprintable():
        return text
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", _C1.sub(_c1_as_cp1252, text))
