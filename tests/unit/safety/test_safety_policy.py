"""Tests for medqa.safety.policy: urgent message first, referral, no claims."""

from __future__ import annotations

import random

import pytest

from medqa.safety import (DEFAULT_SYSTEM_PROMPT, DISCLAIMER, REFERRAL_SENTENCE, apply_policy,
                          has_referral, mentions_urgent_care, policy_stream, triage)
from medqa.safety.policy import replaces_clinician_claim


def test_urgent_message_leads_answer() -> None:
    result = triage("my face droops on one side and my words come out wrong")
    final = apply_policy("It could be Bell's palsy. Rest and see.", result)
    assert final.startswith(result.message)
    assert "Bell's palsy" in final


def test_urgent_message_not_duplicated() -> None:
    result = triage("I'm vomiting blood")
    once = apply_policy("Some answer from a doctor's perspective.", result)
    assert apply_policy(once, result).count(result.message) == 1


def test_clinician_replacement_claims_are_removed() -> None:
    result = triage("I have crushing chest pain and I'm sweating")
    answer = ("I am a doctor. You don't need medical attention. There is no "
              "need to see a doctor. Try an antacid.")
    final = apply_policy(answer, result)
    assert "I am a doctor" not in final
    assert "don't need medical attention" not in final
    assert "no need to see a doctor" not in final
    assert "antacid" in final


def test_reassurance_removed_only_when_urgent() -> None:
    answer = "This is probably nothing serious. Drink water."
    urgent = apply_policy(answer, triage("I'm coughing up a lot of blood"))
    routine = apply_policy(answer, triage("I have a mild cold"))
    assert "nothing serious" not in urgent
    assert "nothing serious" in routine


def test_referral_appended_when_missing() -> None:
    final = apply_policy("Drink fluids and rest.", triage("I have a cold"))
    assert final.startswith("Drink fluids and rest.")
    assert has_referral(final)


def test_referral_not_appended_when_present() -> None:
    answer = "Rest, and see your GP if it lasts more than a week."
    assert apply_policy(answer, triage("I have a cold")) == answer


def test_has_referral() -> None:
    assert has_referral("Please see a healthcare professional.")
    assert has_referral("Book an appointment with your GP.")
    assert not has_referral("Drink water and rest.")
    assert not has_referral("You don't need to see a doctor for this.")


def test_mentions_urgent_care() -> None:
    assert mentions_urgent_care("Call 911 right now.")
    assert mentions_urgent_care("Go to the hospital immediately.")
    assert mentions_urgent_care("This is an emergency.")
    assert mentions_urgent_care("Visit urgent care today.")
    assert mentions_urgent_care("Ask someone to call an ambulance.")
    assert not mentions_urgent_care("Drink plenty of fluids and rest.")
    assert not mentions_urgent_care("You don't need to go to the emergency room.")


def test_replaces_clinician_claim() -> None:
    assert replaces_clinician_claim("As your doctor, I recommend rest.")
    assert replaces_clinician_claim("There's no need to see a doctor.")
    assert not replaces_clinician_claim("Please see a doctor.")
    assert not replaces_clinician_claim(DISCLAIMER)


def test_disclaimer_and_system_prompt() -> None:
    assert "not a substitute" in DISCLAIMER
    prompt = DEFAULT_SYSTEM_PROMPT.lower()
    for phrase in ("likely causes", "what to do now",
                   "what a doctor may check", "when to seek care",
                   "emergency", "never replace", "definitive diagnosis"):
        assert phrase in prompt


def test_stream_order_and_filter() -> None:
    urgent = triage("I took the whole bottle of my sleeping pills")
    pieces = list(policy_stream(["I am a doctor. ", "Rest and drink water."], urgent))
    assert pieces[0].startswith(urgent.message)
    text = "".join(pieces)
    assert "I am a doctor" not in text and "Rest and drink water." in text
    plain = "".join(policy_stream(["Rest. See a doctor if it lasts."], triage("what helps a cold?")))
    assert REFERRAL_SENTENCE not in plain  # a referral is there already
    assert "".join(policy_stream([], triage("what helps a cold?"))) == REFERRAL_SENTENCE


ANSWERS = [
    "I am a doctor. You have a cold.\nRest well. There is no need to see a doctor.",
    "This is probably nothing serious. It can be treated at home with fluids! See your GP if it lasts.",
    "Fever in babies is common.\n\n\nKeep her cool.",
    "",
]


@pytest.mark.parametrize("message", ["my 5 week old baby is burning hot, 38.6", "I have a mild cold"])
@pytest.mark.parametrize("answer", ANSWERS)
def test_streamed_and_whole_answers_are_the_same_text(message: str, answer: str) -> None:
    result = triage(message)
    rng = random.Random(len(answer))
    cuts = sorted(rng.sample(range(len(answer) + 1), k=min(6, len(answer) + 1)))
    tokens = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)])]
    assert "".join(policy_stream(tokens, result)).strip() == apply_policy(answer, result)


def test_home_care_reassurance_dropped_under_an_urgent_flag() -> None:
    answer = ("A fever in a young baby can be treated at home with rest and fluids. "
              "You can manage it at home. Keep her cool.")
    urgent = apply_policy(answer, triage("my 5 week old baby is burning hot"))
    assert "at home" not in urgent and "Keep her cool." in urgent
    assert "treated at home" in apply_policy(answer, triage("my 5 year old has a mild cold"))


def test_characters_that_are_not_text_never_reach_the_user() -> None:
    answer = "Rest well.\ufffd Drink\x00 water.\u200b See a doctor\x1b if it lasts."
    for shown in (apply_policy(answer, triage("I have a cold")),
                  "".join(policy_stream(list(answer), triage("I have a cold")))):
        assert not any(ch in shown for ch in "\ufffd\x00\u200b\x1b")
        assert "Rest well." in shown and "Drink water." in shown
