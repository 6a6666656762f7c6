"""Free-text items come from a prepared folder's test split or any file the prepare loader reads."""

import pytest

from medqa.config import build_config
from medqa.data.schema import Example
from medqa.errors import DataError
from medqa.evaluation.tasks.freetext import differing_pairs, load_examples, select_examples


def test_prepared_folder_uses_the_test_split(prepared_small):
    examples, source = load_examples(prepared_small, build_config({}))
    assert source.name == "test.jsonl" and examples and all(ex.answer for ex in examples)


def test_any_loader_file_with_field_mapping(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("patient_text,doctor_text\nMy ear hurts after swimming,Keep it dry and see a GP if it lasts.\n"
                    "Bad row without answer,\n")
    cfg = build_config({}, ["data.question_field=patient_text", "data.answer_field=doctor_text"])
    examples, source = load_examples(path, cfg)
    assert source == path and [ex.question for ex in examples] == ["My ear hurts after swimming"]
    with pytest.raises(DataError, match="question_field"):
        load_examples(path, build_config({}))


def test_limit_keeps_the_topic_mix_and_is_seeded():
    examples = [Example(f"q{i}", "a", topic="cardio" if i < 30 else "skin") for i in range(40)]
    picked = select_examples(examples, 8, seed=0)
    assert [ex.topic for ex in picked].count("cardio") == 6 and picked == select_examples(examples, 8, seed=0)


def test_pairs_skip_identical_answers_and_sort_by_overlap():
    examples = [Example(f"q{i}", "a") for i in range(3)]
    base = [{"text": "rest and drink fluids"}, {"text": "see a doctor today"}, {"text": "same"}]
    tuned = [{"text": "rest and drink water"}, {"text": "take ibuprofen"}, {"text": "same"}]
    pairs = differing_pairs(examples, base, tuned)
    assert [p["question"] for p in pairs] == ["q1", "q0"]
