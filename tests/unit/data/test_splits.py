import random

from medqa.data.splits import assign_split


def _questions(n: int) -> list[str]:
    return [f"I have had symptom number {i} for a few days, what should I do?" for i in range(n)]


def test_split_is_stable_when_rows_are_added_and_reordered():
    qs = _questions(300)
    before = {q: assign_split(q, 0.1, 0.1) for q in qs}
    more = qs + _questions(600)[300:]
    random.Random(1).shuffle(more)
    after = {q: assign_split(q, 0.1, 0.1) for q in more}
    assert all(after[q] == before[q] for q in qs)


def test_same_question_in_other_case_or_spacing_lands_in_same_split():
    q = "My chest hurts when I breathe in deeply. Is it my heart?"
    variants = [q, q.upper(), "  my chest hurts when i breathe in deeply  is it my heart "]
    assert len({assign_split(v, 0.2, 0.2) for v in variants}) == 1


def test_fractions_are_roughly_respected():
    splits = [assign_split(q, 0.1, 0.2) for q in _questions(3000)]
    assert 0.15 < splits.count("test") / 3000 < 0.25
    assert 0.06 < splits.count("validation") / 3000 < 0.14
