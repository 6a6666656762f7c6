"""Behaviour tests for medqa.safety.triage: the cases keyword lists get wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medqa.safety import TriageResult, URGENT_MESSAGES, triage, triage_conversation

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.mark.parametrize("text", [
    "no chest pain",
    "I don't have any trouble breathing",
    "Patient denies shortness of breath",
    "Sore throat without fever, what should I take?",
    "No chest pain or shortness of breath, but I've had heartburn after meals",
    "I hit my head yesterday, no vomiting, no confusion, just a small bump",
    "I'm not suicidal, I just want tips for sleeping better",
])
def test_negated_red_flags_are_not_urgent(text: str) -> None:
    assert triage(text).urgent is False


@pytest.mark.parametrize("text", [
    "my father had a stroke years ago",
    "I had a heart attack in 2015 and I'm doing well, question about diet",
    "My son had a febrile seizure when he was 2, he's now 6",
    "I used to self-harm in high school, I'm now in recovery",
])
def test_history_is_not_urgent(text: str) -> None:
    assert triage(text).urgent is False


@pytest.mark.parametrize("text", [
    "what are the signs of a stroke?",
    "how do I know if chest pain is serious?",
    "what should I do if someone is choking?",
    "What happens if a child swallows a button battery?",
    "my friend asked what the suicide hotline number is for a school project",
])
def test_informational_questions_are_not_urgent(text: str) -> None:
    assert triage(text).urgent is False


@pytest.mark.parametrize("text,category", [
    ("my face droops on one side and my words come out wrong", "stroke"),
    ("feels like an elephant sitting on my chest and I'm sweating", "cardiac"),
    ("my lips are swelling and my throat feels tight after eating shrimp",
     "anaphylaxis"),
    ("I took the whole bottle of my sleeping pills", "poisoning"),
    ("I don't want to be here anymore", "self_harm"),
    ("baby is 6 weeks old and burning hot", "infant"),
    ("can't catch my breath even sitting still, lips look bluish", "breathing"),
])
def test_lay_language_emergencies(text: str, category: str) -> None:
    result = triage(text)
    assert result.urgent is True
    assert result.category == category
    assert result.matched


def test_informational_framing_does_not_hide_current_emergency() -> None:
    result = triage("I have crushing chest pain right now, what are the signs "
                    "of a heart attack?")
    assert result.urgent is True
    assert result.category == "cardiac"


def test_current_emergency_after_past_history_is_urgent() -> None:
    result = triage("She had a stroke 3 years ago and now her face is drooping")
    assert result.urgent and result.category == "stroke"


@pytest.mark.parametrize("text", [
    "I've been thinking about ending it",
    "what's the point of living, I just want to sleep and not wake up",
    "I'm not suicidal but I keep thinking about ending it all",
])
def test_self_harm_errs_on_urgent(text: str) -> None:
    result = triage(text)
    assert result.urgent and result.category == "self_harm"


def test_self_harm_message_has_crisis_lines() -> None:
    message = triage("I want to kill myself").message
    assert "988" in message
    assert "116 123" in message
    assert "emergency number" in message


def test_intentional_overdose_message_mentions_crisis_support() -> None:
    result = triage("I want to die so I took 30 of my sleeping pills")
    assert result.category == "poisoning"
    assert "self_harm" in result.categories
    assert "988" in result.message


@pytest.mark.parametrize("category", sorted(URGENT_MESSAGES))
def test_urgent_messages_say_to_get_emergency_help(category: str) -> None:
    message = URGENT_MESSAGES[category]
    assert "emergency" in message.lower()
    assert any(num in message for num in ("911", "112", "999"))


def test_category_specific_first_steps() -> None:
    assert "time" in URGENT_MESSAGES["stroke"].lower()
    assert "auto-injector" in URGENT_MESSAGES["anaphylaxis"]
    poison = URGENT_MESSAGES["poisoning"].lower()
    assert "poison" in poison and "container" in poison


def test_not_urgent_result_is_empty() -> None:
    result = triage("I have a runny nose and sneezing")
    assert result == TriageResult(False, None, "")


def test_to_dict_is_json_serialisable_with_required_keys() -> None:
    data = triage("my 2 month old has a temperature of 38.3").to_dict()
    assert {"urgent", "category", "message", "matched"} <= set(data)
    assert data["urgent"] is True and data["category"] == "infant"
    json.dumps(data)


def test_deterministic() -> None:
    """The same verdict, evidence included, in processes with different string hashing (so set order differs)."""
    texts = ["my dad has a UTI and now he's confused and shivering", "I want to die so I took 30 of my sleeping pills"]
    expected = json.dumps([triage(t).to_dict() for t in texts])
    code = f"import json; from medqa.safety import triage; print(json.dumps([triage(t).to_dict() for t in {texts!r}]))"
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(SRC)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == expected, out.stderr


def test_empty_input() -> None:
    assert triage("").urgent is False


def test_conversation_uses_earlier_turns_as_context() -> None:
    messages = [
        {"role": "user", "content": "My baby is 5 weeks old."},
        {"role": "assistant", "content": "Thanks, how can I help?"},
        {"role": "user", "content": "Now she feels burning hot"},
    ]
    result = triage_conversation(messages)
    assert result.urgent and result.category == "infant"


def test_conversation_does_not_repeat_old_emergency_for_new_question() -> None:
    messages = [
        {"role": "user", "content": "I think I'm having a heart attack"},
        {"role": "assistant", "content": "Call 911 now."},
        {"role": "user", "content": "Thanks. Separately, is vitamin D useful?"},
    ]
    assert triage_conversation(messages).urgent is False


def test_conversation_latest_turn_alone() -> None:
    messages = [{"role": "user", "content": "I'm vomiting blood"}]
    assert triage_conversation(messages).category == "bleeding"
    assert triage_conversation([]).urgent is False


@pytest.mark.parametrize("text,category", [
    ("my brother says his chest feels like it's in a vice and his left arm "
     "has gone tingly", "cardiac"),
    ("I keep hearing voices telling me to hurt my kids", "mental_health_crisis"),
    ("my 3 year old got hold of my iron tablets", "poisoning"),
    ("I'm 29 weeks pregnant and fell down the stairs onto my bump",
     "pregnancy"),
    ("I can't feel my legs after falling off a ladder", "trauma"),
])
def test_concept_level_matching(text: str, category: str) -> None:
    result = triage(text)
    assert result.urgent and result.category == category


@pytest.mark.parametrize("text", [
    "I cut myself shaving, tiny nick",
    "this headache is killing me, long day at work",
    "How can I stop my kid choking on food? any tips for cutting grapes",
    "My stool is black since I started iron tablets, otherwise fine",
    "I'm 25 weeks pregnant and get Braxton Hicks tightenings sometimes",
    "Slightly swollen lips after eating spicy food, no other symptoms",
])
def test_common_false_alarm_traps(text: str) -> None:
    assert triage(text).urgent is False


def test_evidence_explains_decision() -> None:
    result = triage("I hit my head and I've been vomiting ever since")
    assert result.matched == ("head_injury.plus",)
    assert any("head" in e for e in result.evidence)


def test_a_wall_of_text_is_read_in_bounded_pieces_and_keeps_its_red_flag():
    from medqa.safety.normalize import MAX_SENTENCE_WORDS, normalize, split_sentences

    filler = "my knee aches and I feel tired and my head hurts " * 120  # 1,200 words, no punctuation
    text = filler + "and now I have crushing chest pain spreading to my left arm " + filler
    pieces = split_sentences(normalize(text))
    assert all(len(p.text.split()) <= MAX_SENTENCE_WORDS for p in pieces)
    assert len(pieces) <= 2 * len(text.split()) // MAX_SENTENCE_WORDS + 2  # work grows with length, not its square
    assert triage(text).urgent and not triage(filler + filler).urgent
