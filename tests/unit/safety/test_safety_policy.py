"""Tests for medqa.safety.policy: urgent message first, referral, no claims."""

from __future__ import annotations

from medqa.safety import (DEFAULT_SYSTEM_PROMPT, DISCLAIMER, apply_policy,
                          has_referral, mentions_urgent_care, triage)
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
