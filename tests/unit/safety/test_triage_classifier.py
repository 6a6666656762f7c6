"""The triage classifier: the shipped weights on the real all-MiniLM-L6-v2, and training on a tiny set.

The messages here were written for these tests; none is in the training sets or the held-out set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medqa.errors import MedqaError
from medqa.retrieval.triage_classifier import (TrainConfig, default_training_files, load_examples,
                                               load_triage_classifier, train_classifier)
from medqa.safety import triage, triage_conversation
from medqa.safety.semantic import SemanticSignal, classifier_text
from medqa.safety.taxonomy import CATEGORY_IDS


@pytest.fixture(scope="module")
def semantic() -> SemanticSignal:
    from medqa.retrieval.exemplars import load_semantic_signal

    return load_semantic_signal()


def test_shipped_training_sets_cover_every_category_with_both_labels() -> None:
    examples = load_examples(default_training_files(), with_bank=False)
    assert len(examples) >= 2500
    for category in CATEGORY_IDS:
        labels = {e.urgent for e in examples if e.category == category}
        assert labels == {True, False}, category


def test_malformed_training_rows_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a mild cold", "urgent": false}\n{not json\n{"text": "no label"}\n', "utf-8")
    with pytest.raises(MedqaError, match="2 malformed training rows.*rows.jsonl:2"):
        load_examples([path], with_bank=False)


def test_conversations_are_read_as_their_latest_user_turns() -> None:
    turns = [{"role": "user", "content": f"turn {i}"} for i in range(6)]
    turns.insert(3, {"role": "assistant", "content": "noted"})
    assert classifier_text(turns) == "turn 2\nturn 3\nturn 4\nturn 5"


def test_emergency_and_its_near_miss_are_told_apart(semantic: SemanticSignal) -> None:
    emergency = "my son is fitting, he has been shaking all over for six minutes and won't answer me"
    near_miss = "I had a seizure two years ago and have been fit free since on lamotrigine. Can I start driving again?"
    (p_emergency, category), (p_near, _) = semantic.classifier([emergency, near_miss])
    assert p_emergency >= semantic.threshold > p_near
    assert category == "seizure"


def test_classifier_overrules_a_misread_past_mention(semantic: SemanticSignal) -> None:
    text = ("When I have a panic attack my heart races and I feel like I can't breathe, but it settles within ten "
            "minutes. Any breathing exercises for that?")
    assert triage(text).urgent  # the phrase rules read a racing heart and breathlessness
    result = triage(text, semantic)
    assert not result.urgent and result.overruled and result.message == ""
    assert "rules" in result.signals and result.classifier.probability < semantic.floor
    assert result.to_dict()["overruled"] is True
    never = SemanticSignal(semantic.scorer, semantic.exemplars, semantic.min_score, semantic.margin,
                           semantic.classifier, semantic.threshold, floor=0.0)
    assert triage(text, never).urgent  # floor 0: the rules are never overruled


def test_emergency_revealed_in_a_later_turn(semantic: SemanticSignal) -> None:
    turns = [{"role": "user", "content": "my dad's face has dropped on one side and his words are slurred"},
             {"role": "assistant", "content": "When did this start?"},
             {"role": "user", "content": "it began at lunchtime, can I give him a paracetamol?"}]
    assert not triage(turns[-1]["content"], semantic).urgent
    result = triage_conversation(turns, semantic)
    assert result.urgent and result.message and "classifier" in result.signals


def test_train_a_tiny_classifier_and_use_it(tmp_path: Path) -> None:
    rows = [{"text": t, "urgent": u, "category": "stroke"} for t, u in [
        ("his face dropped on one side and he cannot lift his arm", True),
        ("her speech went slurred suddenly and one arm is weak", True),
        ("my smile has been a bit lopsided in photos since I was a child", False),
        ("what are the signs of a stroke for a school project", False)]]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    examples = load_examples([data], with_bank=False)
    out = train_classifier(examples, tmp_path / "clf.safetensors",
                           TrainConfig(rank=2, epochs=1, batch_size=2, max_length=32), progress=False)
    model = load_triage_classifier(out)
    scores = model(["his arm is weak", "a runny nose"])
    assert len(scores) == 2 and all(0.0 <= p <= 1.0 and c in CATEGORY_IDS for p, c in scores)
    assert model.max_length == 32

    # the CLI trains from --data and triage reads the weights it wrote through the config
    cli = tmp_path / "cli.safetensors"
    subprocess.run([sys.executable, "-m", "medqa.cli", "triage-train", "--data", str(data), "--no-bank",
                    "--epochs", "1", "--output", str(cli)], check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-m", "medqa.cli", "triage", "--json", "--set",
                          f"safety.classifier_path={cli}", "her speech went slurred"],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    assert json.loads(out.strip().splitlines()[-1])["classifier"]["probability"] >= 0.0


def test_regression_set_stays_caught(semantic: SemanticSignal) -> None:
    """The first development set trains the classifier, so this guards the shipped weights, not generalisation
    (that is benchmarks/triage_heldout.py on the frozen v3 set)."""
    from medqa.retrieval.triage_classifier import TRAINING_DIR
    from medqa.safety.evaluation import evaluate_triage

    report = evaluate_triage(TRAINING_DIR / "taxonomy_dev.jsonl", semantic)
    assert report["signals"] == ["rules", "semantic", "classifier"]
    assert report["recall"] >= 0.98 and report["false_alarm_rate"] <= 0.05
