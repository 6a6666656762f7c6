"""The semantic second signal, on the real all-MiniLM-L6-v2, the shipped exemplar bank and triage classifier.

``exemplars`` is the signal without the classifier (the exemplar path alone); ``semantic`` is the default."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from medqa.safety import triage, triage_conversation
from medqa.safety.semantic import SemanticSignal, load_exemplars, message_parts


def test_parts_drop_absent_past_and_asked_about_clauses() -> None:
    assert message_parts("No chest pain, no fever, just a runny nose since Monday.") == [
        "just a runny nose since monday"]
    assert message_parts("What are the signs of a stroke?") == []
    parts = message_parts("My dad had a stroke years ago. Now his face is drooping and he is not responding!")
    assert parts and all("years ago" not in p for p in parts) and "not responding" in parts[0]


@pytest.fixture(scope="module")
def semantic() -> SemanticSignal:
    from medqa.retrieval.exemplars import load_semantic_signal

    return load_semantic_signal()


@pytest.fixture(scope="module")
def exemplars() -> SemanticSignal:
    from medqa.retrieval.exemplars import load_semantic_signal

    return load_semantic_signal(classifier=False)


UNSEEN = "the snake got my ankle and it's swelling up fast"


def test_catches_what_the_rules_miss_and_says_why(exemplars: SemanticSignal) -> None:
    assert not triage(UNSEEN).urgent  # the rules alone miss this phrasing
    result = triage(UNSEEN, exemplars)
    assert result.urgent and result.signals == ("semantic",) and result.classifier is None
    assert result.category == "envenomation" and result.message
    match = result.semantic
    assert match.score >= exemplars.min_score and match.score - match.routine_score >= exemplars.margin
    assert match.exemplar in {e.text for e in load_exemplars() if e.category == "envenomation"}
    assert result.to_dict()["semantic"]["exemplar"] == match.exemplar


@pytest.mark.parametrize("text", [
    "I have had a mild cold for three days, runny nose and a bit of a cough",
    "no chest pain, just a runny nose",
    "what are the signs of heat stroke?",
    "my knee aches after running, what stretches help?",
])
def test_routine_messages_stay_routine(semantic: SemanticSignal, exemplars: SemanticSignal, text: str) -> None:
    assert not triage(text, semantic).urgent
    assert not triage(text, exemplars).urgent


def test_every_signal_that_fired_is_reported(semantic: SemanticSignal) -> None:
    result = triage("feels like an elephant sitting on my chest and I'm sweating", semantic)
    assert result.urgent and result.signals[0] == "rules" and result.category == "cardiac"
    assert "classifier" in result.signals and result.classifier.probability >= semantic.threshold


def test_thresholds_decide(exemplars: SemanticSignal) -> None:
    strict = SemanticSignal(exemplars.scorer, exemplars.exemplars, min_score=0.99, margin=0.5)
    assert strict.check(UNSEEN) is None


@pytest.mark.parametrize("signal", ["semantic", "exemplars"])
def test_emergency_told_across_turns_is_caught_once(request: pytest.FixtureRequest, signal: str) -> None:
    semantic = request.getfixturevalue(signal)
    turns = [{"role": "user", "content": "my mum takes steroids every day for her Addison's"},
             {"role": "assistant", "content": "Can you tell me more?"},
             {"role": "user", "content": "she's been throwing up since this morning and can barely stand"}]
    if signal == "exemplars":  # the classifier reads "throwing up all day, can barely stand" as urgent alone
        assert not triage(turns[-1]["content"], semantic).urgent
    result = triage_conversation(turns, semantic)
    assert result.urgent and {"semantic", "classifier"} & set(result.signals)
    # The exemplars read only parts that include the latest turn, so a resolved emergency is not re-announced. The
    # classifier reads the latest turns together: it keeps the urgent message through a same-day follow-up (recall
    # first) and drops it once the emergency is told as over.
    resolved = ("the ambulance came and he is recovering in hospital, what should he eat when he gets home?"
                if signal == "exemplars" else
                "she was treated in hospital last week and is back to normal now. How do we plan sick-day doses?")
    later = turns + [{"role": "assistant", "content": "Please call an ambulance."},
                     {"role": "user", "content": resolved}]
    assert not triage_conversation(later, semantic).urgent


def test_cli_json_names_the_signal() -> None:
    out = subprocess.run([sys.executable, "-m", "medqa.cli", "triage", "--json", UNSEEN],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["urgent"] and "semantic" in result["signals"] and result["semantic"]["exemplar"]
    assert result["classifier"]["probability"] >= result["classifier"]["threshold"] and not result["overruled"]
    rules = subprocess.run([sys.executable, "-m", "medqa.cli", "triage", "--json", "--rules-only", UNSEEN],
                           capture_output=True, text=True, timeout=300, check=True).stdout
    assert json.loads(rules.strip().splitlines()[-1])["urgent"] is False


def test_mining_a_labelled_set_gives_new_exemplars(exemplars: SemanticSignal) -> None:
    from medqa.retrieval.exemplars import mine_exemplars

    rows = [{"text": "My knee clicks when I climb stairs. It has done so for years.", "urgent": False,
             "category": "trauma"},
            {"messages": [{"role": "user", "content": "my dad fell off the shed roof"},
                          {"role": "assistant", "content": "Is he hurt?"},
                          {"role": "user", "content": "he can't feel his legs at all. he is awake and scared."}],
             "urgent": True, "category": "trauma"}]
    mined = mine_exemplars(rows, exemplars)
    routine = [m for m in mined if m["label"] == "routine"]
    emergency = [m for m in mined if m["label"] == "emergency"]
    assert {m["text"] for m in routine} >= {"my knee clicks when i climb stairs."}
    assert len(emergency) == 1 and "legs" in emergency[0]["text"]
    assert len({m["text"] for m in mined}) == len(mined)
