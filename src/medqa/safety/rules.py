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

from .taxonomy import CATEGORY_IDS


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


# Order of precedence when several categories fire: the taxonomy lists the
# most specific, most time-critical pathway first, and its message leads.
CATEGORY_PRIORITY: tuple[str, ...] = CATEGORY_IDS

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
    *_single("breathing", "breathing_severe", "blue_lips"),
    *_single("airway", "choking"),
    Rule("airway.obstruction", "airway", (("gagging", "choking"), (
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
             "lethality_question", "suicide_word"),
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
    Rule("carbon_monoxide.gas", "carbon_monoxide", (("gas_exposure",), (
        "alarm_or_symptoms", "nausea", "faint", "confusion", "headache"))),
    # infants and children
    Rule("infant.young_fever", "infant", (_YOUNG, _FEVER)),
    Rule("infant.young_unwell", "infant", (_YOUNG, (
        "not_feeding", "grunting", "breathing_fast", "floppy"))),
    Rule("infant.floppy_unresponsive", "infant", (_CHILD, (
        "floppy", "unresponsive"))),
    Rule("infant.blue", "infant", (_CHILD, ("blue_lips",))),
    Rule("airway.child_choking", "airway", (_CHILD, ("choking",))),
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
    Rule("meningitis.meningism", "meningitis", (
        _FEVER + ("photophobia", "nonblanching_rash"), ("stiff_neck",))),
    Rule("meningitis.fever_photophobia", "meningitis", (_FEVER, ("photophobia",))),
    *_single("meningitis", "nonblanching_rash"),
    *_single("sepsis", "mottled", "named_sepsis"),
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
    *_single("thunderclap_headache", "thunderclap"),
    *_single("acute_abdomen", "rigid_abdomen"),
    *_single("severe_pain", "unbearable_pain"),
    Rule("urological.testicular", "urological", (("testicular",), (
        "acute_marker", "swelling_any", "nausea"))),
    Rule("acute_abdomen.severe_plus", "acute_abdomen", (("severe_abdo",), (
        "nausea", "unable_to_move", "rigid_abdomen") + _FEVER)),
    # taxonomy categories with their own pathways (lexicon_systems.py)
    *_single("mental_health_crisis", "harm_others", "commanding_voices", "weapon_threat"),
    Rule("mental_health_crisis.psychosis_risk", "mental_health_crisis", (("psychosis",), (
        "harm_others", "suicidal_ideation", "confusion", "not_feeding", "collapsed"))),
    Rule("heat_stroke.exposure", "heat_stroke", (("heat_exposure", "no_sweat"), (
        "confusion", "collapsed", "unresponsive", "seizure", "loss_of_consciousness", "drowsy",
        "no_sweat", "speech_problem"))),
    Rule("hypothermia.exposure", "hypothermia", (("cold_exposure", "stopped_shivering"), (
        "confusion", "drowsy", "stopped_shivering", "speech_problem", "unresponsive", "collapsed",
        "frostbite_severe", "loss_of_consciousness"))),
    Rule("carbon_monoxide.source", "carbon_monoxide", (("co_source", "co_alarm", "several_ill"), (
        "headache", "nausea", "faint", "confusion", "drowsy", "collapsed", "unresponsive")),
        min_findings=2),
    Rule("smoke_inhalation.fire", "smoke_inhalation", (("fire_smoke", "soot"), (
        "cough", "voice_change", "breathless", "breathing_severe", "wheeze", "soot", "confusion",
        "drowsy", "headache", "noisy_breathing")), min_findings=2),
    Rule("drowning.water", "drowning", (("water_incident",), (
        "cough", "breathless", "breathing_severe", "drowsy", "confusion", "nausea", "unresponsive",
        "blue_lips", "not_breathing", "loss_of_consciousness", "wheeze", "persistent"))),
    *_single("electric_shock", "high_voltage"),
    Rule("electric_shock.symptoms", "electric_shock", (("electric_shock",), (
        "burn", "palpitations", "confusion", "loss_of_consciousness", "collapsed", "chest_pain",
        "breathless", "limb_weak", "unresponsive", "seizure", "faint"))),
    *_single("envenomation", "snake_bite"),
    Rule("envenomation.sting", "envenomation", (("venomous_sting",), (
        "pain_any", "swelling_any", "breathless", "faint", "nausea", "sweating", "confusion",
        "breathing_severe", "seizure"))),
    Rule("burns.serious", "burns", (("burn",), ("burn_serious", "electric_shock", "voice_change",
                                              "soot", "fire_smoke"))),
    Rule("burns.child", "burns", (("burn",), _CHILD, ("swelling_any", "pain_any", "bleeding_any")),
         min_groups=3),
    *_single("swallowed_object", "swallow_hazard"),
    *_single("trauma", "penetrating_injury", "limb_severed"),
    *_single("eye", "eye_chemical", "eye_penetrating", "eye_curtain"),
    Rule("eye.glaucoma", "eye", (("eye_pain", "red_eye"), ("halos", "nausea", "headache"))),
    *_single("urological", "priapism"),
    Rule("urological.retention", "urological", (("urinary_retention",), (
        "pain_any", "swelling_any", "persistent", "acute_marker"))),
    *_single("cauda_equina", "saddle_numb"),
    Rule("cauda_equina.back_plus", "cauda_equina", (("back_pain", "spine_pain"), (
        "bladder_loss", "urinary_retention", "both_legs"))),
    Rule("aortic.tearing", "aortic", (("tearing",), ("chest_pain", "back_pain", "severe_abdo",
                                                      "shoulder_blades", "pain_any"))),
    Rule("aortic.aneurysm", "aortic", (("aneurysm",), ("pain_any", "faint", "collapsed",
                                                       "acute_marker"))),
    Rule("pulmonary_embolism.breathless_plus", "pulmonary_embolism", (
        ("breathless", "pleuritic", "blood_vomit_cough"), ("calf_swelling", "clot_risk"))),
    Rule("pulmonary_embolism.pleuritic_breathless", "pulmonary_embolism", (
        ("pleuritic",), ("breathless", "blood_vomit_cough", "faint"))),
    Rule("limb_ischaemia.numb_cold", "limb_ischaemia", (("limb_cold",), ("limb_weak", "pain_any",
                                                                          "acute_marker"))),
    Rule("acute_abdomen.obstruction", "acute_abdomen", (("green_vomit", "nausea"), (
        "no_stool_wind", "distended"))),
    *_single("acute_abdomen", "green_vomit"),
    Rule("neutropenic_sepsis.fever", "neutropenic_sepsis", (("chemo",), _FEVER + (
        "infection", "confusion", "faint"))),
    Rule("hypoglycaemia.symptoms", "hypoglycaemia", (("low_sugar", "diabetes_context"), (
        "confusion", "drowsy", "unresponsive", "seizure", "collapsed", "speech_problem",
        "loss_of_consciousness"))),
    Rule("diabetic_ketoacidosis.symptoms", "diabetic_ketoacidosis", (
        ("high_sugar", "diabetes_context", "thirst_wee"), ("nausea", "drowsy", "confusion",
                                                          "fruity_breath", "deep_breathing",
                                                          "breathing_fast"))),
    Rule("adrenal_crisis.symptoms", "adrenal_crisis", (("steroid_dependent",), (
        "nausea", "collapsed", "faint", "confusion", "drowsy", "very_weak", "unresponsive"))),
    Rule("ectopic.early_pain", "ectopic", (("early_pregnancy",), (
        "one_sided_pain", "shoulder_tip", "faint", "severe_abdo", "collapsed"))),
    Rule("postpartum.after_birth", "postpartum", (("postpartum_context",), (
        "bleeding_severe", "clots_soaking", "foul_discharge", "psychosis", "harm_baby",
        "confusion", "breathless", "chest_pain", "seizure", "collapsed", "thunderclap",
        "vision_change"))),
    Rule("postpartum.fever", "postpartum", (("postpartum_context",), _FEVER, (
        "foul_discharge", "pain_any", "infection")), min_groups=3),
    *_single("postpartum", "harm_baby"),
    Rule("poisoning.alcohol", "poisoning", (("alcohol_heavy",), (
        "unresponsive", "drowsy", "nausea", "confusion", "seizure", "breathing_severe",
        "loss_of_consciousness", "blue_lips"))),
    Rule("limb_ischaemia.cold_limb", "limb_ischaemia", (
        ("limb_cold",), ("acute_marker",), ("pain_any",))),
    Rule("eye.painful", "eye", (("eye_pain",), (
        "vision_change", "acute_marker", "nausea"))),
)
