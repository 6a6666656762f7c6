"""The full term table: every lay-language feature the triage can see.

Why: one import point keeps ``findings.py`` independent of how the lexicon
is split into topical modules (each kept small enough to review).
"""

from __future__ import annotations

from .lexicon_acute import ACUTE
from .lexicon_allergy import ALLERGY_BLEEDING_TERMS
from .lexicon_cardio import CARDIO_TERMS
from .lexicon_crisis import CRISIS_TERMS
from .lexicon_family import FAMILY_TERMS
from .lexicon_systems import SYSTEMS_TERMS
from .terms import Term

ALL_TERMS: tuple[Term, ...] = (CARDIO_TERMS + ALLERGY_BLEEDING_TERMS
                               + CRISIS_TERMS + FAMILY_TERMS + ACUTE
                               + SYSTEMS_TERMS)


# Who or what a message is about, never the emergency itself: a rule needs an active finding outside
# these ("my baby is 5 weeks old, what temperature is a fever?" asks, it does not report).
CONTEXT_TERMS = frozenset({
    "child_context", "young_infant_age", "newborn", "pregnancy_context", "early_pregnancy",
    "postpartum_context", "diabetes_context", "steroid_dependent", "chemo", "clot_risk", "aneurysm",
    "blood_thinner", "asthma_copd"})


def _check_unique() -> None:
    names = [t.name for t in ALL_TERMS]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate term names: {duplicates}")


_check_unique()
