"""medqa.safety: red-flag triage and answer policy, pure standard library.

Why a separate, dependency-free package: safety checks must run before any
model is loaded or any text is generated, must be deterministic and
auditable, and must never pull in torch. Importing this package is cheap.

Typical use::

    from medqa.safety import triage, apply_policy
    result = triage(user_message)
    answer = apply_policy(model_answer, result)
"""

from __future__ import annotations

from .evaluation import evaluate_triage
from .messages import DEFAULT_SYSTEM_PROMPT, DISCLAIMER, REFERRAL_SENTENCE, URGENT_MESSAGES
from .policy import (apply_policy, has_referral, mentions_urgent_care, policy_stream,
                     replaces_clinician_claim, sentence_allowed)
from .triage import TriageResult, triage, triage_conversation

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "DISCLAIMER",
    "REFERRAL_SENTENCE",
    "URGENT_MESSAGES",
    "TriageResult",
    "apply_policy",
    "evaluate_triage",
    "has_referral",
    "mentions_urgent_care",
    "policy_stream",
    "replaces_clinician_claim",
    "sentence_allowed",
    "triage",
    "triage_conversation",
]
