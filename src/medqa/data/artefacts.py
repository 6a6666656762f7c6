"""Generation-artefact rules for synthetic answers (GenMedGPT-5k was written by ChatGPT).

Pure `str -> str` functions used by medqa.data.cleaning:

- `remove_ai_disclaimers`: the whole sentence holding "As an AI language model …" / "As a language model AI …"
  (with a leading "Note:"), so the advice around it stays. The phrase is found first and then widened to its
  sentence, which keeps the rule linear on long texts.
- `cut_invented_turn`: an answer that runs on into the next turn of an invented dialogue ("… intravenously.
  Patient: Okay, doctor.") is cut where that turn starts.
- `remove_prompt_echo`: the generation prompt or the data set's instruction echoed inside an answer ("…
  ??169,Amyloidosis,['Nailbiting'],Please generate a dialogue between a doctor and a patient …") is cut, with
  the CSV debris in front of it.
"""

from __future__ import annotations

import re

_AI = re.compile(
    r"\b(?:as\s+an?\s+(?:ai(?:\s+language)?\s+model|language\s+model(?:\s+ai)?|ai\s+(?:assistant|chatbot))"
    r"|i\s+am\s+(?:just\s+|only\s+)?an?\s+(?:ai|language\s+model)\b|i'm\s+(?:just\s+|only\s+)?an?\s+(?:ai|language\s+model)\b)",
    re.I,
)
_END = re.compile(r"[.!?]+|\n|$")
_AI_HINT = re.compile(r"\b(?:language\s+model|ai\s+(?:model|assistant|chatbot)|an?\s+ai\b)", re.I)
_TURN = re.compile(r"(?:^|(?<=[\s.!?,;:\"')\]]))(?:patient|user|human)\s*:", re.I)
_TURN_HINT = re.compile(r"(?:patient|user|human)\s*:", re.I)
_PROMPT = re.compile(
    r"please\s+generate\s+(?:a|an|the)\s+(?:dialogue|dialog|conversation)"
    r"|if\s+you\s+are\s+a\s+doctor,\s+please\s+answer\s+the\s+medical\s+questions\s+based\s+on\s+the\s+patient'?s\s+description\.?",
    re.I,
)
_PROMPT_HINT = re.compile(r"please\s+(?:generate|answer\s+the\s+medical)", re.I)
_CSV_DEBRIS = re.compile(r"(?:\?\?)?\s*\d+,[^.!?\n]*\[[^\]]*\][,\s]*$")  # "??169,Amyloidosis,['Nailbiting'],"


def remove_ai_disclaimers(text: str) -> str:
    """Drop sentences in which the writer calls itself an AI or a language model."""
    low = text.lower()
    if "language model" not in low and " ai" not in low or not _AI_HINT.search(text):
        return text
    for m in reversed(list(_AI.finditer(text))):  # found by phrase, then widened to its sentence: linear time
        start = max(text.rfind(ch, 0, m.start()) for ch in ".!?\n") + 1  # a "Note:" label goes with it
        end = _END.search(text, m.end()).end()
        text = text[:start] + " " + text[end:]
    return text.strip()


def cut_invented_turn(text: str) -> str:
    """Cut the answer where an invented next speaker ("Patient:", "User:") starts talking."""
    if ":" not in text:
        return text
    low = text.lower()
    if "patient" not in low and "user" not in low and "human" not in low or not _TURN_HINT.search(text):
        return text
    m = _TURN.search(text)
    return text[:m.start()].rstrip() if m else text


def remove_prompt_echo(text: str) -> str:
    """Remove an echoed instruction; a generation prompt is cut together with everything after it."""
    if "lease" not in text or not _PROMPT_HINT.search(text):
        return text
    m = _PROMPT.search(text)
    if not m:
        return text
    if m.group(0).lower().startswith("if you are"):  # the data set's instruction sentence: remove it, keep the rest
        return (text[:m.start()] + text[m.end():]).strip()
    head = text[:m.start()]
    cut = max(0, len(head) - 300)  # the debris is short: searching only the tail keeps this linear
    return (head[:cut] + _CSV_DEBRIS.sub("", head[cut:])).rstrip(" ,;:?")
