import random

from conftest import write_jsonl

from medqa.config import build_config
from medqa.data.prepare import read_split, run_prepare
from medqa.data.splits import SPLITS, assign_split


def _questions(n: int) -> list[str]:
    return [f"I have had symptom number {i} for a few days, what should I do?" for i in range(n)]


def test_split_is_stable_when_rows_are_added_and_reordered(tmp_path):
    """Prepare a file, then the same file with as many new rows and all shuffled: no original row changes split."""
    qs = _questions(600)
    more = list(qs)
    random.Random(1).shuffle(more)
    where = {}
    for name, questions in (("before", qs[:300]), ("after", more)):
        rows = [{"question": q, "answer": "Rest, drink fluids and see a doctor if it lasts a week."} for q in questions]
        src = write_jsonl(tmp_path / "qa.jsonl", rows)
        cfg = build_config({}, [f"data.source={src}", "data.val_fraction=0.1", "data.test_fraction=0.1",
                                "data.near_dup={enabled: false}"])  # the questions differ in one number
        run_prepare(cfg, tmp_path / name)
        where[name] = {ex.question: split for split in SPLITS for ex in read_split(tmp_path / name, split)}
    assert len(where["before"]) == 300 and len(set(where["before"].values())) == 3
    assert all(where["after"][q] == split for q, split in where["before"].items())


def test_same_question_in_other_case_or_spacing_lands_in_same_split():
    q = "My chest hurts when I breathe in deeply. Is it my heart?"
    variants = [q, q.upper(), "  my chest hurts when i breathe in deeply  is it my heart "]
    assert len({assign_split(v, 0.2, 0.2) for v in variants}) == 1


def test_fractions_are_roughly_respected():
    splits = [assign_split(q, 0.1, 0.2) for q in _questions(3000)]
    assert 0.15 < splits.count("test") / 3000 < 0.25
    assert 0.06 < splits.count("validation") / 3000 < 0.14
