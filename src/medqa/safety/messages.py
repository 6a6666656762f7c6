"""Fixed, pre-written safety text: urgent-care messages, disclaimer, prompt.

Why: when a message is triaged as urgent, what the user reads first must not
depend on a small fine-tuned model getting it right. These strings are
written once, reviewed like code, and inserted verbatim by
``policy.apply_policy``. Each category's first steps live in
``taxonomy.json`` beside its sources; they are deliberately short and always
follow "call your emergency number / go to the emergency department now".
"""

from __future__ import annotations

from .taxonomy import CATEGORIES

EMERGENCY_CALL = (
    "This could be a medical emergency. Call your local emergency number now "
    "(for example 911 in the US and Canada, 112 in the EU, 999 in the UK, "
    "000 in Australia) or go to the nearest emergency department. Do not "
    "wait to see if it gets better, and do not drive yourself if you feel "
    "unwell."
)

CRISIS_LINES = (
    "If you are thinking about suicide or harming yourself or someone else, "
    "please reach out now: call or text 988 in the US, call 116 123 "
    "(Samaritans) in the UK and Ireland, or contact your local crisis line. "
    "If you are in immediate danger, call your local emergency number "
    "(911 / 112 / 999)."
)


def _build_messages() -> dict[str, str]:
    # self_harm speaks to the person first and carries its own crisis lines
    return {c.id: c.steps if c.id == "self_harm" else f"{EMERGENCY_CALL} {c.steps}" for c in CATEGORIES}


URGENT_MESSAGES: dict[str, str] = _build_messages()

DISCLAIMER = (
    "This information is for general education only and is not a substitute "
    "for advice, diagnosis or treatment from a qualified clinician."
)

REFERRAL_SENTENCE = (
    "Please discuss your symptoms with a doctor or another qualified "
    "healthcare professional, who can examine you and give advice specific "
    "to you."
)

# Kept short on purpose: it precedes every training row and every prompt, and a small model learns the
# structure from the answers themselves. Longer policies cost tokens without changing what a 270M model does.
DEFAULT_SYSTEM_PROMPT = (
    "You are a careful medical information assistant, not a doctor, and you never replace one. "
    "If there are emergency warning signs, first tell the user to call their local emergency number or go "
    "to emergency care now. Then explain the likely causes without a definitive diagnosis, what to do now, "
    "what a doctor may check, and when to seek care. Be cautious and recommend evaluation by a clinician."
)
