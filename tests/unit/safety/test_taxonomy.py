"""The taxonomy is data, and every category in it must be reachable: by a rule, by exemplars and in the sets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from medqa.safety import URGENT_MESSAGES, triage
from medqa.safety.evaluation import load_set
from medqa.safety.messages import EMERGENCY_CALL
from medqa.safety.rules import RULES
from medqa.safety.semantic import EMERGENCY, ROUTINE, load_exemplars
from medqa.safety.taxonomy import CATEGORIES, CATEGORY_IDS

HERE = Path(__file__).resolve().parent
HELDOUT = HERE.parents[2] / "benchmarks" / "data"
TRAINING = HERE.parents[2] / "src" / "medqa" / "safety" / "training"

# One lay message per category, written for this test; the rules alone must send each to its category.
EXAMPLES = {
    "anaphylaxis": "my lips and tongue are swelling up after eating peanuts",
    "airway": "my son is choking on a grape and can't breathe",
    "carbon_monoxide": "we all have headaches and feel sick and the boiler is making a funny noise",
    "smoke_inhalation": "there was a kitchen fire and my dad breathed in thick smoke, now he is coughing and hoarse",
    "drowning": "we pulled my daughter out of the pool, she keeps coughing and seems sleepy",
    "electric_shock": "my husband got an electric shock from a cable in the garage and his heart is racing",
    "heat_stroke": "after the marathon in the heat my friend is confused and stopped sweating",
    "hypothermia": "grandma was outside all night in the cold, she has stopped shivering and is drowsy",
    "poisoning": "I took the whole bottle of my sleeping pills",
    "swallowed_object": "my 2 year old swallowed a button battery from the remote",
    "envenomation": "I was bitten by a snake on my ankle while hiking",
    "self_harm": "I don't want to be here anymore",
    "mental_health_crisis": "my brother is hearing voices telling him to hurt our mum",
    "infant": "baby is 6 weeks old and burning hot",
    "pregnancy": "I'm 30 weeks pregnant and bleeding",
    "ectopic": "I'm 6 weeks pregnant with sharp pain on my left side and shoulder tip pain",
    "postpartum": "I gave birth 5 days ago and I'm soaking a pad every hour with clots the size of a lemon",
    "hypoglycaemia": "my dad is diabetic on insulin and he is confused and sweaty, sugar reading 2.1",
    "diabetic_ketoacidosis": "I'm type 1, my sugar is 28 and I keep vomiting and my breath smells like pear drops",
    "adrenal_crisis": "I have Addison's disease and I have been vomiting all day and feel very weak",
    "neutropenic_sepsis": "I'm on chemo and my temperature is 38.4",
    "seizure": "my wife is having a seizure and it won't stop",
    "unconscious": "my dad collapsed and isn't breathing",
    "stroke": "my face droops on one side and my words come out wrong",
    "thunderclap_headache": "I suddenly got the worst headache of my life while lifting weights",
    "meningitis": "my teenager has a fever and a stiff neck and hates the light",
    "cardiac": "feels like an elephant sitting on my chest and I'm sweating",
    "aortic": "sudden tearing pain in my chest going through to my back",
    "pulmonary_embolism": "since my knee operation I'm short of breath and my calf is swollen",
    "breathing": "can't catch my breath even sitting still, lips look bluish",
    "bleeding": "I'm vomiting blood",
    "head_injury": "my son hit his head on the floor and has been sick twice",
    "trauma": "my friend has been stabbed in the arm",
    "burns": "my toddler pulled a kettle over and the burn on his chest looks white and leathery",
    "cauda_equina": "I have back pain and numbness around my bottom and genitals",
    "limb_ischaemia": "my leg suddenly went cold and white and it really hurts",
    "eye": "I splashed bleach in my eye",
    "urological": "sudden severe pain in my left testicle and I feel sick",
    "acute_abdomen": "my stomach is rock hard and hurts to touch",
    "sepsis": "mum has a urine infection and is now confused and her skin is mottled",
    "severe_pain": "I'm in agony, the worst pain I've ever had",
}


def test_taxonomy_fields_and_sources() -> None:
    assert len(CATEGORIES) >= 40
    groups = {c.group for c in CATEGORIES}
    for needed in ("environmental", "pregnancy and gynaecology", "urology and genitals", "neurological", "eyes",
                   "metabolic and endocrine", "poisoning and ingestions", "injuries and burns", "infection",
                   "airway and allergy", "mental health crisis"):
        assert needed in groups
    for c in CATEGORIES:
        assert c.sources and c.discriminators and c.applies_to, c.id


def test_every_category_has_a_rule_and_an_example() -> None:
    assert {r.category for r in RULES} == set(CATEGORY_IDS)
    assert set(EXAMPLES) == set(CATEGORY_IDS)


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_rules_reach_each_category(category: str) -> None:
    result = triage(EXAMPLES[category])
    assert result.urgent and category in result.categories, result
    assert result.signals == ("rules",)


@pytest.mark.parametrize("text", [
    "what are the signs of carbon monoxide poisoning?",
    "I had a snake bite in 2010 and recovered fully",
    "small burn on my hand from the oven, red but no blisters",
    "my type 1 diabetes is well controlled, question about travel insurance",
    "no saddle numbness, just a stiff lower back after gardening",
    "What happens if a child swallows a button battery?",
])
def test_new_categories_keep_context_handling(text: str) -> None:
    assert not triage(text).urgent


def test_every_category_has_an_urgent_message() -> None:
    for category in CATEGORY_IDS:
        message = URGENT_MESSAGES[category]
        assert category == "self_harm" or message.startswith(EMERGENCY_CALL)
        assert len(message) > len(EMERGENCY_CALL) + 40


def test_exemplar_bank_covers_every_category() -> None:
    bank = load_exemplars()
    for category in CATEGORY_IDS:
        assert sum(e.label == EMERGENCY and e.category == category for e in bank) >= 10, category
        assert sum(e.label == ROUTINE and e.category == category for e in bank) >= 5, category
    assert sum(e.category == "general" for e in bank) >= 100


def test_dev_set_covers_every_category_with_both_labels() -> None:
    rows = load_set(TRAINING / "taxonomy_dev.jsonl")
    for category in CATEGORY_IDS:
        labels = {r["urgent"] for r in rows if r["category"] == category}
        assert labels == {True, False}, category
    assert any("messages" in r for r in rows)


def test_heldout_set_is_frozen_and_covers_the_taxonomy() -> None:
    provenance = (HELDOUT / "TRIAGE_HELDOUT.md").read_text(encoding="utf-8")
    rows = []
    for path in sorted(HELDOUT.glob("triage_*_*.jsonl")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert re.search(rf"\| {path.name} \| {digest} \|", provenance), f"{path.name} changed after freezing"
        rows += load_set(path)
    assert len(rows) >= 1150  # v3 (four writers x 250) and the everyday set (150)
    for category in CATEGORY_IDS:
        urgent = [r for r in rows if r["category"] == category and r["urgent"] and "text" in r]
        assert len(urgent) >= 5, category
    assert sum(r["urgent"] for r in rows) >= 200
