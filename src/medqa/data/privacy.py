"""Personal-data rules: e-mail addresses, links, phone numbers and names after titles become placeholders.

Pure `str -> str` functions used by medqa.data.cleaning. Placeholders ("[email]", "[url]", "[phone]",
"Dr. [name]") keep the sentence readable and show that something was there. Clinical numbers stay: a phone
number needs 9 to 15 digits in phone-like groups, so ages ("34 years"), doses ("500 mg"), lab values
("HbA1c 6.5%", "TSH 4.5"), dates ("12-03-2019", "3 days") and blood pressure ("120/80") are not touched.
Each rule is idempotent: a placeholder is never matched again, so cleaning prepared text changes nothing.
"""

from __future__ import annotations

import re

EMAIL, URL, PHONE, NAME = "[email]", "[url]", "[phone]", "[name]"

# Bounded repeats keep the patterns linear on long runs of word characters and dots.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s)\]>]*[^\s)\]>.,;:!?'\"]|(?<![\w.-])[\w-]{1,63}(?:\.[\w-]{1,63}){0,6}\.(?:com|org|net|co\.uk|gov|edu|info)"
                  r"(?:/[^\s)\]>]*)?\b", re.I)
_URL_HINTS = (".com", "www.", "://", ".org", ".net", ".co.uk", ".gov", ".edu", ".info")
_URL_HINT = re.compile(r"://|www\.|\.(?:com|org|net|co\.uk|gov|edu|info)\b", re.I)
_PHONE = re.compile(
    r"(?<![\w/.,+-])"  # not the tail of a longer number, a ratio (120/80) or a decimal
    r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{2,15}(?:[\s.-]\d{2,6}){0,4}"
    r"(?![\w/]|[.,]\d)"
)
_PHONE_HINT = re.compile(r"\d[\d\s().-]{7,}\d")  # nine or more characters of digits and separators
_DATE = re.compile(r"(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?!\d)")
_NAME_PART = r"(?:(?:[A-Z]\.){1,3}|[A-Z][a-z'\u2019-]+)"  # "M.M." or "Cohen"
_TITLE = re.compile(rf"\b(Dr|Mr|Mrs|Ms|Miss|Mx|Prof)(\.?\s+)({_NAME_PART}(?:\s*{_NAME_PART}){{0,2}})")
# Capitalised words that follow a title without being a name ("see a Dr. If it hurts", "Dr. Google").
_NOT_NAMES = {"If", "The", "It", "I", "In", "As", "And", "But", "Or", "So", "You", "Your", "This", "That", "For", "On",
              "At", "To", "My", "We", "He", "She", "They", "Please", "Thanks", "Thank", "Regards", "Hope", "Take"}


def replace_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL, text) if "@" in text else text


def replace_urls(text: str) -> str:
    low = text.lower()
    for hint in _URL_HINTS:  # a plain loop: cheaper than any() over a generator, and this runs per text
        if hint in low:
            break
    else:
        return text
    if not _URL_HINT.search(text):
        return text
    for _ in range(4):  # a replacement can expose a domain glued to it ("a.comwww.b" -> "a.com[url]"): repeat
        out = _URL.sub(URL, text)
        if out == text:
            break
        text = out
    return text


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if not 9 <= digits <= 15:
        return found
    groups = re.split(r"[\s.()+-]+", found.strip("+( "))
    spaced_only = not re.search(r"[().+-]", found)
    if spaced_only and len(groups) > 1 and (len(groups) > 3 or min(len(g) for g in groups) < 3):
        return found  # "10 20 30 40 50" is a list of numbers, not a phone number
    if _DATE.match(found):
        return found  # "2019-12-03 10" is a date and a time
    if "." in found and not re.fullmatch(r"\+?[\d.]+", found.replace(" ", "")):
        return found
    return PHONE


def replace_phones(text: str) -> str:
    """Phone numbers with 9-15 digits ("+1 (555) 123-4567", "98765 43210", "555.123.4567") → [phone]."""
    if sum(map(text.count, "0123456789")) < 9 or not _PHONE_HINT.search(text):  # str.count is far cheaper than a scan
        return text
    return _PHONE.sub(_phone, text)


def _name(match: re.Match[str]) -> str:
    title, gap, name = match.groups()
    if name.split()[0] in _NOT_NAMES:
        return match.group(0)
    return f"{title}{gap}{NAME}"


def replace_names(text: str) -> str:
    """The name after a title becomes a placeholder: "Dr. Ravi Kumar" → "Dr. [name]"."""
    if "Dr" not in text and "Mr" not in text and "Ms" not in text and "Mx" not in text and "Miss" not in text \
            and "Prof" not in text:
        return text
    return _TITLE.sub(_name, text)
