"""Post-generation answer policy: urgent message first, no clinician claims.

Why: a small fine-tuned model can still write "I am a doctor" or "no need
to see a doctor". Whatever the model says, the final answer shown to a user
(1) leads with the fixed urgent-care message when triage says urgent,
(2) has sentences that claim to replace a clinician removed, and, under an
urgent flag, sentences that reassure ("can be treated at home"),
(3) shows no characters that are not text (replacement glyphs, controls), and
(4) always contains a referral to clinical evaluation.

There is one policy and it streams (``policy_stream``): streaming cannot
take text back, so each sentence is judged before it is shown. The whole
answer (``apply_policy``) is that stream joined, so ``ask``, ``chat``,
``serve``, ``eval`` and the demo show exactly the same text. The detector
functions are also used by evaluation code to score model answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .messages import REFERRAL_SENTENCE
from .triage import TriageResult

_CLAIM = re.compile(
    r"\b(?:i am|i'm|im) (?:a|an|your) (?:\w+ )?(?:doctor|physician|nurse|"
    r"clinician|gp|medical professional|surgeon)\b"
    r"|\bas (?:a|an|your) (?:\w+ )?(?:doctor|physician|clinician|gp)\b"
    r"|\b(?:no|there is no|there's no|theres no) need (?:for you )?(?:to )?"
    r"(?:see|visit|consult|call|contact|go to|seek) (?:a |an |the |your |any )?"
    r"(?:doctor|gp|physician|clinician|hospital|emergency|er|a&e|medical|"
    r"healthcare|professional|nurse|ambulance)"
    r"|\byou (?:do not|don't|dont|won't|will not) need (?:to (?:see|go to|"
    r"visit|call) )?(?:a |an |the |any )?(?:doctor|gp|physician|clinician|"
    r"medical (?:attention|care|help|advice)|hospital|emergency|er|ambulance|"
    r"professional help|to see anyone)"
    r"|\b(?:instead of|rather than|without) (?:seeing|visiting|consulting) "
    r"(?:a|your|the) (?:doctor|gp|physician|clinician)\b"
    r"|\b(?:i can|let me) (?:diagnose|prescribe)\b"
    r"|\bskip (?:seeing |the |going to )?(?:the |a )?(?:doctor|gp|hospital|er)\b",
    re.IGNORECASE,
)
_REASSURANCE = re.compile(
    r"\b(?:nothing to worry about|probably nothing serious|nothing serious|"
    r"no cause for concern|(?:it|this) is not serious|just wait and see|"
    r"wait (?:and see|it out)|should (?:go away|pass) on its own"
    # home care offered for what triage called an emergency
    r"|can (?:usually |often |safely |easily )?be (?:treated|managed|looked after|cared for|handled) at home"
    r"|(?:treat|manage|look after|care for) (?:it|this|him|her|them|the \w+) at home"
    r"|home (?:remedies|treatment) (?:can|will|should|are)"
    r"|no need to (?:worry|panic|rush|be alarmed)"
    r"|(?:is|are) (?:usually |often |generally )?(?:not|rarely) (?:an emergency|serious|dangerous)"
    r"|should (?:settle|improve|get better|clear up|resolve) (?:on its own|by itself|with rest|in a few days))\b",
    re.IGNORECASE,
)
_REFERRAL = re.compile(
    r"\b(?:doctor|doctors|physician|clinician|gp|general practitioner|"
    r"health ?care (?:professional|provider|team)|medical (?:professional|"
    r"attention|care|help|advice|evaluation|assessment)|nurse|pharmacist|"
    r"midwife|paediatrician|pediatrician|specialist|emergency|urgent care|"
    r"a&e|hospital|911|999|112|988|crisis line|samaritans|poison control|"
    r"clinic)\b",
    re.IGNORECASE,
)
_URGENT = re.compile(
    r"\bcall (?:911|999|112|000|988|an ambulance|for an ambulance|"
    r"emergency services|your (?:local )?emergency (?:number|services))\b"
    r"|\b(?:911|999|112)\b|\bemergenc(?:y|ies)\b|\burgent care\b|\burgently\b"
    r"|\bgo (?:straight )?to (?:the |a |your )?(?:nearest )?(?:hospital|er|"
    r"a&e|emergency)\b|\bambulance\b|\ba&e\b|\bER\b"
    r"|\bseek (?:immediate|urgent|emergency) (?:medical )?(?:help|care|"
    r"attention)\b|\b(?:medical )?(?:help|attention|care) (?:immediately|"
    r"right away|straight away|now)\b",
    re.IGNORECASE,
)
# The one sentence splitter of the answer path: a sentence ends after . ! ? plus space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
# Not text: the replacement glyph, C0/C1 controls (tab and line breaks kept), zero-width and bidi marks.
_NOT_TEXT = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060\ufeff]")


def _sentences(text: str) -> list[str]:
    return [s for s in stream_sentences([text or ""]) if s.strip()]


def replaces_clinician_claim(text: str) -> bool:
    """True if the text claims to be, or to make unnecessary, a clinician."""
    return bool(_CLAIM.search(text or ""))


def has_referral(text: str) -> bool:
    """True if some sentence refers the user to clinical care.

    Sentences that dismiss clinical care ("no need to see a doctor") do
    not count as referrals even though they mention a doctor.
    """
    return any(_REFERRAL.search(s) and not replaces_clinician_claim(s)
               for s in _sentences(text))


def mentions_urgent_care(text: str) -> bool:
    """True if the text contains escalation language (911, ER, ambulance...)."""
    return any(_URGENT.search(s) and not replaces_clinician_claim(s)
               for s in _sentences(text))


def sentence_allowed(sentence: str, urgent: bool) -> bool:
    """Whether one sentence of an answer may be shown."""
    return not replaces_clinician_claim(sentence) and not (urgent and _REASSURANCE.search(sentence))


def stream_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Re-chunk text pieces (tokens, or one whole answer) into sentences, keeping their whitespace."""
    buf = ""
    for piece in pieces:
        buf += _NOT_TEXT.sub("", piece)
        while (m := _SENTENCE_END.search(buf)) is not None:
            sentence, buf = buf[: m.end()], buf[m.end():]
            yield sentence
    if buf:
        yield buf


def policy_stream(pieces: Iterable[str], result: TriageResult) -> Iterator[str]:
    """The answer as shown, as it is generated: the urgent message first when triage says urgent, then each
    model sentence the policy allows, then a referral when the answer has none."""
    lead = result.message if result.urgent and result.message else ""
    if lead:
        yield f"{lead}\n\n"
    echoed = {s.strip() for s in _sentences(lead)}  # the model (or an earlier pass) repeating the urgent message
    shown: list[str] = []
    for sentence in stream_sentences(pieces):
        if sentence.strip() in echoed or not sentence_allowed(sentence, result.urgent):
            continue
        if sentence.strip() or shown:
            shown.append(sentence)
            yield sentence
    answer = "".join(shown).strip()
    if not has_referral(answer):
        yield f"\n\n{REFERRAL_SENTENCE}" if answer or lead else REFERRAL_SENTENCE


def apply_policy(answer: str, result: TriageResult) -> str:
    """The whole answer made safe to show: ``policy_stream`` over the answer, joined."""
    return "".join(policy_stream([answer or ""], result)).strip()
