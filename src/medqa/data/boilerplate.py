"""HealthCareMagic boilerplate rules: the site's name, opening greetings and thanks, closings and signatures.

Pure `str -> str` functions used by medqa.data.cleaning. Greetings and closings are removed only at the edges
of an answer, one whole clause or sentence at a time, and only when the clause is boilerplate from end to end:
"Thanks for your query, your cough is viral." loses "Thanks for your query," and keeps the rest, and "Take care
not to lift heavy things." stays because it is advice.

"Chat Doctor" (the site, its greetings and sign-offs) is handled first: a whole greeting clause that mentions
the site is removed, a mention inside a sentence becomes "a doctor", and orphaned punctuation is tidied later.
"""

from __future__ import annotations

import re

_CD = r"chat\s*-?\s*doctor(?:\.com)?(?:\s+forum)?"
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
_CD_HINT = re.compile(r"chat\s*-?\s*doctor(?:\.com)?", re.I)
_SENTENCE_END = re.compile(r"[.!?\n]+\s*")


def _chatdoctor_sentence(sentence: str) -> str:
    sentence = _CD_GREETING.sub("", sentence)
    sentence = _CD_SIGNOFF.sub("", sentence)
    sentence = _CD_ARTICLE.sub(lambda m: "a doctor" if m.group(1).lower() in ("a", "an") else f"{m.group(1)} doctor",
                               sentence)
    return _CD_ANY.sub("", sentence)


def _is_title(text: str, cut: int) -> bool:
    """The period at `cut` ends a title ("Dr."), not a sentence."""
    return text[max(0, cut - 2):cut].lower() in ("dr", "mr", "ms") or text[max(0, cut - 3):cut].lower() == "mrs"


def _sentence_end(text: str, pos: int) -> int:
    """End of the sentence holding `pos` (after the punctuation and the spaces that follow it)."""
    while True:
        m = _SENTENCE_END.search(text, pos)
        if m is None:
            return len(text)
        if m.group(0).rstrip() != "." or not _is_title(text, m.start()):
            return m.end()
        pos = m.end()


def _sentence_start(text: str, pos: int, lo: int = 0) -> int:
    """Start of the sentence holding `pos`, not before `lo`; the period of a title ("Dr. Chat Doctor") does not
    end a sentence. Each boundary character is searched for once, then only further back: linear time."""
    last = {ch: text.rfind(ch, lo, pos) for ch in ".!?\n"}
    while True:
        ch = max(last, key=last.__getitem__)
        cut = last[ch]
        if cut < 0:
            return lo
        if text[cut] != "." or not _is_title(text, cut):
            return cut + 1
        last[ch] = text.rfind(ch, lo, cut)


def remove_chatdoctor(text: str) -> str:
    """The site's greetings, sign-offs and mentions; only the sentences that name it are searched, each once.
    The sentences are found in the original text, left to right (one that ends inside the next mention, as
    at the period of "ChatDoctor.com", runs on to that mention's end), so the rule stays linear."""
    if "chat" not in text.lower():
        return text
    spans: list[list[int]] = []
    for m in _CD_HINT.finditer(text):
        if spans and m.start() < spans[-1][1]:
            if m.end() > spans[-1][1]:  # else the sentence already reaches past this mention
                spans[-1][1] = _sentence_end(text, m.end())
        else:
            lo = spans[-1][1] if spans else 0
            spans.append([_sentence_start(text, m.start(), lo), _sentence_end(text, m.end())])
    out, cursor = [], 0
    for start, end in spans:
        out += [text[cursor:start], _chatdoctor_sentence(text[start:end])]
        cursor = end
    return "".join(out) + text[cursor:]


_ADDRESS = r"(?:there|dear|sir|madam|ma'?am|friend|user|patient|doctor|all|and|welcome|mr\.?|mrs\.?|ms\.?|(?-i:[A-Z][a-z]+))"
_OPENERS = (
    # "Hi", "Hello dear", "Dear Sir,", "Good morning": a greeting word, up to two address words, then a clause end
    # or the capital letter that starts the next sentence ("Hi Thanks for ...").
    rf"(?:hi+|hello|hey|dear|greetings|good\s+(?:morning|afternoon|evening|day))(?:\s+{_ADDRESS}){{0,2}}"
    r"(?:\s*[,.!:;-]+|\s+(?=(?-i:[A-Z]))|\s*$)",
    # "Thanks for your query," "Thank you for posting your question here." "Thanks for asking on ...."
    r"(?:many\s+)?(?:thanks?|thank\s+you|thankyou)(?:\s+(?:a\s+lot|very\s+much|so\s+much))?\s+for\s+"
    r"(?:your|the|ur|posting|writing|asking|using|sharing|choosing|contacting|trusting|the\s+query)\b[^.!?\n,]{0,80}"
    r"(?:[.!,]+|\n|$)",
    r"(?:thanks?|thank\s+you)\s*[.!,]+",
    r"welcome(?:\s+(?:to|on|at)\s+[^.!?\n,]{1,60})?\s*(?:[.!,]+|\n|$)",
    # "I have gone through your query (in detail) (and understand your concern)."
    r"i\s+(?:have|'ve)\s+(?:carefully\s+|thoroughly\s+)?(?:gone\s+through|read|reviewed|noted)\s+(?:your|the)\s+"
    r"(?:query|question|history|post|details|message|concern|case)(?:\s+(?:in\s+detail|carefully|thoroughly))?"
    r"(?:\s*(?:,|and)\s*(?:i\s+)?(?:can\s+)?understand\s+your\s+(?:concerns?|worry|problem))?\s*(?:[.!,]+|\n|$)",
)
_OPENING = re.compile(r"\s*(?:" + "|".join(_OPENERS) + r")\s*", re.I)
_CLOSERS = (
    r"hope\s+(?:this|that|it|i\s+have|i've|my\s+(?:answer|reply|advice)|the\s+(?:above|information|answer))"
    r"[^.!?\n]{0,100}",
    r"take\s+care(?:\s+of\s+(?:yourself|your\s+health|him|her|your\s+(?:child|baby|son|daughter)))?",
    r"wish(?:ing)?\s+you\s+(?:a\s+|the\s+)?(?:good|best|speedy|quick|fast|early|all\s+the\s+best|happy|great|"
    r"healthy|wonderful)[^.!?\n]{0,40}",
    r"(?:with\s+)?(?:best\s+|kind\s+|warm\s+|thanks\s+(?:and|&)\s+)?regards\b(?!\s+to\b)[^\n]{0,100}",
    r"(?:best\s+wishes|good\s+luck|get\s+well\s+soon|all\s+the\s+best|stay\s+(?:healthy|safe)|god\s+bless(?:\s+you)?)"
    r"[^.!?\n]{0,30}",
    r"(?:thanks?|thank\s+you)(?:\s+(?:again|and\s+regards|&\s+regards))?",
    r"(?:please\s+)?(?:feel\s+free|do\s+not\s+hesitate|don'?t\s+hesitate)\s+to\s+(?:ask|contact|write|revert|get\s+back|"
    r"consult|follow|reach)[^.!?\n]{0,100}",
    r"(?:please\s+)?(?:let\s+me\s+know|you\s+can\s+(?:ask|contact|write|revert))\s+(?:if|for|in\s+case)[^.!?\n]{0,100}",
    r"(?:in\s+case\s+of|for)\s+(?:any\s+)?(?:further|more|other)\s+(?:quer(?:y|ies)|questions?|doubts?|clarifications?)"
    r"[^.!?\n]{0,100}",
    r"(?:dr|doctor)\.?\s+(?-i:(?:[A-Z][\w.'-]*|\[name\])(?:[ ,]+[A-Z&(][\w.'()&-]*){0,8})",  # a signature line
)
_CLOSING = re.compile(r"\s*(?:" + "|".join(_CLOSERS) + r")[\s.!?,;:-]*\Z", re.I)
_CLOSING_WORDS = ("hope", "care", "wish", "regards", "luck", "well soon", "the best", "stay", "bless", "thank",
                  "hesitate", "free to", "let me know", "you can", "quer", "question", "doubt", "clarif")
_BOUNDARY = re.compile(r"[.!?\n:]")
_TAIL = 400  # closings are looked for in the last characters only: this runs on every answer of 100k+ rows


def remove_greetings(text: str) -> str:
    """Strip greeting and thanks clauses from the start of an answer, one after another."""
    stripped = False
    for _ in range(6):
        m = _OPENING.match(text)
        if not m or not m.group(0).strip():
            break
        text, stripped = text[m.end():], True
    if stripped and text[:1].islower():
        text = text[0].upper() + text[1:]  # "Thanks for your query, your cough ..." → "Your cough ..."
    return text


def _closing_start(text: str) -> int | None:
    """Where the earliest sentence that is closing boilerplate to the very end begins, if any."""
    start = max(0, len(text) - _TAIL)
    tail = text[start:]
    low = tail.lower()
    for word in _CLOSING_WORDS:  # a plain loop: cheaper than any() over a generator, and this runs per answer
        if word in low:
            break
    else:
        if "Dr" not in tail and "Doctor" not in tail:
            return None
    starts = [0] if start == 0 else []
    starts += [m.end() for m in _BOUNDARY.finditer(text, start)]
    for pos in starts:
        if _CLOSING.match(text, pos):
            return pos
    return None


def remove_closings(text: str) -> str:
    """Strip closing sentences and signatures from the end of an answer, one after another."""
    for _ in range(8):
        pos = _closing_start(text)
        if pos is None:
            return text
        text = text[:pos].rstrip()
    return text
