"""Post-generation answer policy: urgent message first, no clinician claims.

Why: a small fine-tuned model can still write "I am a doctor" or "no need
to see a doctor". Whatever the model says, the final answer shown to a user
(1) leads with the fixed urgent-care message when triage says urgent,
(2) has sentences that claim to replace a clinician removed, and
(3) always contains a referral to clinical evaluation. The detector
functions are also used by evaluation code to score model answers.
"""

from __future__ import annotations

import re

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
    r"wait (?:and see|it out)|should (?:go away|pass) on its own)\b",
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
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text or "") if s.strip()]


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


def _clean(answer: str, urgent: bool) -> str:
    kept = []
    for line in (answer or "").splitlines():
        parts = _sentences(line)
        keep = [s for s in parts if not replaces_clinician_claim(s)
                and not (urgent and _REASSURANCE.search(s))]
        if keep or not parts:
            kept.append(" ".join(keep))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def apply_policy(answer: str, result: TriageResult) -> str:
    """Return the answer made safe to show, given the triage result."""
    body = _clean(answer, result.urgent)
    if not has_referral(body):
        body = f"{body}\n\n{REFERRAL_SENTENCE}".strip()
    if result.urgent and result.message:
        if body.startswith(result.message):
            return body
        return f"{result.message}\n\n{body}"
    return body


def sentence_allowed(sentence: str, urgent: bool) -> bool:
    """Whether one sentence of a streamed answer may be shown (the streaming form of `apply_policy`)."""
    return not replaces_clinician_claim(sentence) and not (urgent and _REASSURANCE.search(sentence))
