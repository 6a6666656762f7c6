"""Red-flag decision rules: which features (alone or combined) are urgent.

Why: a single table maps clinical red flags to categories, so a reviewer can
read exactly why a message was escalated and a clinician can edit the
criteria without touching the matching machinery. A rule lists groups of
term names; it fires when every group (or ``min_groups`` of them) has at
least one usable finding and at least one of those findings is *active*
(current, not negated, not past, not merely asked about). Context-only
features (e.g. "pregnant", an infant's age) therefore never fire alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Rule:
    """A named red-flag rule for one category."""

    name: str
    category: str
    groups: tuple[tuple[str, ...], ...]
    min_groups: Optional[int] = None
    min_findings: int = 1  # distinct mentions needed (e.g. arm AND leg weak)


def _single(category: str, *names: str) -> tuple[Rule, ...]:
    return tuple(Rule(f"{category}.{n}", category, ((n,),)) for n in names)


# Order of precedence when several categories fire: the most specific,
# most time-critical pathway leads the message.
CATEGORY_PRIORITY: tuple[str, ...] = (
    "anaphylaxis", "poisoning", "self_harm", "infant", "pregnancy", "seizure",
    "unconscious", "stroke", "cardiac", "breathing", "bleeding",
    "head_injury", "trauma", "sepsis", "severe_pain",
)

_YOUNG = ("young_infant_age", "newborn")
_FEVER = ("fever", "fever_value")
_CHILD = ("child_context",)

RULES: tuple[Rule, ...] = (
    # cardiac
    Rule("cardiac.chest_pain_plus", "cardiac", (("chest_pain",), (
        "crushing", "radiation", "arm_symptom", "sweating", "pale_grey",
        "breathless", "breathing_severe", "nausea", "faint", "persistent",
        "tearing", "doom"))),
    Rule("cardiac.palpitations_plus", "cardiac", (("palpitations",), (
        "faint", "chest_pain", "breathless", "breathing_severe"))),
    *_single("cardiac", "reported_heart_attack"),
    # stroke (FAST: any one clear sign is enough)
    *_single("stroke", "face_droop", "speech_problem", "cannot_lift",
             "reported_stroke", "sudden_vision_loss"),
    Rule("stroke.two_soft_signs", "stroke", (
        ("face_numb",), ("limb_weak",), ("vision_one_eye",),
        ("sudden_neuro",), ("confusion",)), min_groups=2),
    Rule("stroke.two_weak_limbs", "stroke", (("limb_weak",),), min_findings=2),
    # breathing
    *_single("breathing", "breathing_severe", "blue_lips", "choking"),
    Rule("breathing.obstruction", "breathing", (("gagging", "choking"), (
        "silent_airway", "blue_lips", "breathing_severe"))),
    Rule("breathing.breathless_at_rest", "breathing", (
        ("breathless", "wheeze", "noisy_breathing", "asthma_copd"), (
            "rest_marker", "blue_lips", "confusion", "cannot_speak",
            "pale_grey"))),
    # anaphylaxis
    *_single("anaphylaxis", "throat_swelling", "anaphylaxis_named"),
    Rule("anaphylaxis.swelling_plus", "anaphylaxis", (("lip_face_swelling",), (
        "allergen_trigger", "hives", "wheeze", "breathing_severe",
        "breathless", "cough", "faint", "voice_change"))),
    Rule("anaphylaxis.hives_plus", "anaphylaxis", (("hives",), (
        "faint", "breathless", "breathing_severe", "wheeze",
        "throat_swelling", "lip_face_swelling", "voice_change"))),
    Rule("anaphylaxis.trigger_airway", "anaphylaxis", (
        ("allergen_trigger",), ("wheeze", "breathing_severe", "voice_change",
                                "noisy_breathing"))),
    # bleeding
    *_single("bleeding", "bleeding_severe", "blood_vomit_cough",
             "black_stool"),
    Rule("bleeding.nosebleed_plus", "bleeding", (("nosebleed",), (
        "persistent", "blood_thinner", "faint"))),
    Rule("bleeding.with_faintness", "bleeding", (("bleeding_any",), (
        "faint", "pale_grey"))),
    # mental-health crisis
    *_single("self_harm", "suicidal_ideation", "self_harm_act",
             "harm_others", "lethality_question", "suicide_word"),
    # poisoning / overdose
    *_single("poisoning", "overdose_amount", "overdose_count",
             "overdose_word", "chemical_ingest", "poisoned_named"),
    Rule("poisoning.child_ingestion", "poisoning", (_CHILD, ("med_ingest",))),
    Rule("poisoning.double_dose_unwell", "poisoning", (("double_dose",), (
        "faint", "nausea", "confusion", "drowsy", "palpitations",
        "breathing_severe", "breathless", "unresponsive"))),
    Rule("poisoning.found_unwell", "poisoning", (("empty_packets",
                                                     "med_ingest"), (
        "loss_of_consciousness", "unresponsive", "drowsy", "confusion",
        "collapsed", "nausea"))),
    Rule("poisoning.gas", "poisoning", (("gas_exposure",), (
        "alarm_or_symptoms", "nausea", "faint", "confusion", "headache"))),
    # infants and children
    Rule("infant.young_fever", "infant", (_YOUNG, _FEVER)),
    Rule("infant.young_unwell", "infant", (_YOUNG, (
        "not_feeding", "grunting", "breathing_fast", "floppy"))),
    Rule("infant.floppy_unresponsive", "infant", (_CHILD, (
        "floppy", "unresponsive"))),
    Rule("infant.blue", "infant", (_CHILD, ("blue_lips",))),
    Rule("infant.choking", "infant", (_CHILD, ("choking",))),
    Rule("infant.obstruction", "infant", (_CHILD, ("gagging",), (
        "silent_airway", "blue_lips", "breathing_severe"))),
    Rule("infant.dehydration", "infant", (_CHILD, ("no_urine",))),
    Rule("infant.nonblanching_rash", "infant", (_CHILD, ("nonblanching_rash",))),
    Rule("infant.seizure", "infant", (_CHILD, ("seizure",))),
    Rule("infant.breathing", "infant", (_CHILD, (
        "grunting", "breathing_severe"))),
    # pregnancy
    *_single("pregnancy", "reduced_fetal_movement"),
    Rule("pregnancy.baby_not_moving", "pregnancy", (("pregnancy_context",), (
        "baby_not_moved",))),
    Rule("pregnancy.bleeding", "pregnancy", (("pregnancy_context",), (
        "bleeding_severe", "bleeding_any"))),
    Rule("pregnancy.severe_pain", "pregnancy", (("pregnancy_context",), (
        "severe_abdo", "unbearable_pain", "rigid_abdomen"))),
    Rule("pregnancy.vision", "pregnancy", (("pregnancy_context",), (
        "vision_change",))),
    Rule("pregnancy.headache_swelling", "pregnancy", (("pregnancy_context",), (
        "headache",), ("hands_face_swelling", "lip_face_swelling"))),
    Rule("pregnancy.preterm_labour", "pregnancy", (("waters", "contractions"), (
        "preterm", "preterm_word"))),
    Rule("pregnancy.collapse_or_trauma", "pregnancy", (("pregnancy_context",), (
        "collapsed", "loss_of_consciousness", "seizure", "abdominal_trauma",
        "trauma_mechanism"))),
    # sepsis / meningitis
    Rule("sepsis.infection_confusion", "sepsis", (
        ("infection",) + _FEVER, ("confusion",))),
    Rule("sepsis.meningism", "sepsis", (
        _FEVER + ("photophobia", "nonblanching_rash"), ("stiff_neck",))),
    Rule("sepsis.fever_photophobia", "sepsis", (_FEVER, ("photophobia",))),
    *_single("sepsis", "nonblanching_rash", "mottled", "named_sepsis"),
    Rule("sepsis.blotchy_skin", "sepsis", (("skin_blotchy",), (
        "infection", "doom", "no_urine", "confusion") + _FEVER)),
    Rule("sepsis.infection_plus", "sepsis", (("infection",) + _FEVER, (
        "no_urine", "doom", "mottled"))),
    # head injury
    Rule("head_injury.plus", "head_injury", (("head_injury",), (
        "nausea", "confusion", "loss_of_consciousness", "blood_thinner",
        "csf_leak", "seizure", "drowsy", "thunderclap", "limb_weak",
        "speech_problem", "vision_change", "unresponsive",
        "bleeding_severe"))),
    # serious injury (added category): possible spinal injury, open fracture
    Rule("trauma.spinal", "trauma", (("limb_loss",), (
        "trauma_mechanism", "spine_pain"))),
    *_single("trauma", "open_fracture"),
    # seizure, collapse
    *_single("seizure", "seizure"),
    *_single("unconscious", "unresponsive", "not_breathing", "collapsed"),
    # severe pain
    *_single("severe_pain", "thunderclap", "rigid_abdomen", "unbearable_pain"),
    Rule("severe_pain.testicular", "severe_pain", (("testicular",), (
        "acute_marker", "swelling_any", "nausea"))),
    Rule("severe_pain.abdominal_plus", "severe_pain", (("severe_abdo",), (
        "nausea", "unable_to_move", "rigid_abdomen") + _FEVER)),
    Rule("severe_pain.cold_limb", "severe_pain", (
        ("limb_cold",), ("acute_marker",), ("pain_any",))),
    Rule("severe_pain.eye", "severe_pain", (("eye_pain",), (
        "vision_change", "acute_marker", "nausea"))),
)
