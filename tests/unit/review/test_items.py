"""Reading eval answers into systems, building blinded items, and assigning them to raters."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from review_answers import eval_dir, write_eval  # noqa: F401 (eval_dir is a fixture)

from medqa.review.items import ReviewError, assign, build_items, read_answers


def test_read_answers_keeps_free_text_and_wrapped_safety_answers(tmp_path):
    folder = write_eval(tmp_path / "e", {"base": "Plain", "tuned": "Careful"}, n=2, safety=True)
    answers, notes = read_answers({"": folder})
    assert {a.system for a in answers} == {"base", "tuned"} and not notes
    assert {a.task for a in answers} == {"freetext", "safety"}  # mcq letters are not reviewable
    safety = next(a for a in answers if a.task == "safety" and a.system == "tuned")
    assert safety.text == "Call emergency services. Careful."  # what serve returns, not the raw text


def test_labelled_folders_prefix_systems_and_twins_are_dropped(tmp_path):
    one = write_eval(tmp_path / "one", {"base": "Plain", "a": "Careful"})
    two = write_eval(tmp_path / "two", {"base": "Plain", "b": "Bold"})
    answers, notes = read_answers({"one": one, "two": two})
    assert sorted({a.system for a in answers}) == ["one/a", "one/base", "two/b"]
    assert notes == ["two/base answers exactly as one/base; left out"]


@pytest.mark.parametrize("content, message", [(None, "no answers.jsonl"), ('{"task": "freetext"\n', ":1: not a JSON"),
                                              ('{"task": "mcq", "model": "m"}\n', "no free-text or safety")])
def test_unusable_eval_folders_are_refused_with_the_reason(tmp_path, content, message):
    folder = tmp_path / "e"
    folder.mkdir()
    if content is not None:
        (folder / "answers.jsonl").write_text(content)
    with pytest.raises(ReviewError, match=message):
        read_answers({"": folder})


def test_pairwise_items_randomise_order_and_hide_everything_in_their_ids(eval_dir):
    answers, _ = read_answers({"": eval_dir})
    items = build_items(answers, "pairwise", None, random.Random(0))
    assert len(items) == 6 and len({i.id for i in items}) == 6
    for item in items:
        a, b = (answers[k] for k in item.answers)
        assert a.key == b.key and a.system != b.system  # the same question, two systems
    firsts = Counter(answers[i.answers[0]].system for i in items)
    assert set(firsts) == {"base", "tuned-qx7"}  # each system is shown first sometimes
    assert all(len(i.id) == 12 and "base" not in i.id for i in items)


def test_limit_samples_questions_and_kinds_combine(eval_dir):
    answers, _ = read_answers({"": eval_dir})
    assert len(build_items(answers, "pairwise", 4, random.Random(1))) == 4
    both = build_items(answers, "both", 2, random.Random(1))
    assert Counter(len(i.answers) for i in both) == {1: 4, 2: 2}


def test_pairwise_needs_two_systems(tmp_path):
    answers, _ = read_answers({"": write_eval(tmp_path / "e", {"base": "Plain"})})
    with pytest.raises(ReviewError, match="two systems"):
        build_items(answers, "pairwise", None, random.Random(0))
    assert len(build_items(answers, "single", None, random.Random(0))) == 6


def test_assignment_balances_load_and_doubles_the_overlap_share(eval_dir):
    answers, _ = read_answers({"": write_eval(eval_dir.parent / "big", {"x": "X", "y": "Y", "z": "Z"})})
    items = build_items(answers, "pairwise", None, random.Random(0))  # 6 questions x 3 pairs
    assigned = assign(items, raters=3, overlap=0.25, rng=random.Random(0))
    doubled = [i for i in assigned if len(i.raters) == 2]
    assert len(doubled) == round(0.25 * 18) and all(len(set(i.raters)) == len(i.raters) for i in assigned)
    load = Counter(r for i in assigned for r in i.raters)
    assert max(load.values()) - min(load.values()) <= 1
    assert all(len(i.raters) == 1 for i in assign(items, raters=1, overlap=0.5, rng=random.Random(0)))
    with pytest.raises(ReviewError, match="between 0 and 1"):
        assign(items, 2, 1.5, random.Random(0))
