"""Text metrics on hand-made strings: exact ROUGE/BLEU/chrF cases, distinct-n, loops, behaviour, bootstrap."""

import pytest

from medqa.evaluation import metrics as M


def test_rouge_exact_cases():
    same = M.rouge_scores(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert same == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})
    # unigrams 2 of 3 shared; bigrams {the cat} of {the cat, cat sat} vs {the cat, cat ran}; LCS "the cat"
    part = M.rouge_scores(["the cat ran"], ["the cat sat"])
    assert part == pytest.approx({"rouge1": 2 / 3, "rouge2": 1 / 2, "rougeL": 2 / 3})
    assert M.rouge_scores(["dogs bark"], ["the cat sat"])["rouge1"] == 0.0
    # stemming: "running" and "run" match
    assert M.rouge_per_item(["running fast"], ["run fast"])[0]["rouge1"] == pytest.approx(1.0)


def test_bleu_and_chrf_exact_cases():
    same = M.bleu_chrf(["drink plenty of fluids and rest at home"], ["drink plenty of fluids and rest at home"])
    assert same["bleu"] == pytest.approx(100.0) and same["chrf"] == pytest.approx(100.0)
    none = M.bleu_chrf(["xyz qqq"], ["drink plenty of fluids"])
    assert none["bleu"] == pytest.approx(0.0) and none["chrf"] < 5


def test_distinct_n_counts_unique_ngrams_over_the_corpus():
    texts = ["a b a b", "a c"]
    assert M.distinct_n(texts, 1) == pytest.approx(3 / 6)  # {a, b, c} of 6 words
    assert M.distinct_n(texts, 2) == pytest.approx(3 / 4)  # {ab, ba, ac} of ab ba ab ac
    assert M.distinct_n([""], 2) == 0.0


def test_loop_detection():
    assert M.is_looping("Drink water and rest.\nDrink water and rest.\nDrink water and rest.")
    assert M.is_looping("See a doctor soon. You should rest. See a doctor soon.")
    assert M.is_looping("take it easy and rest well " * 3)  # one long line repeating a 6-word run
    assert not M.is_looping("Rest.\nRest.")  # too short to count as a loop
    assert not M.is_looping("A cough after a cold is common. See your doctor if it lasts three weeks.")


def test_behaviour_shares_and_referrals():
    gens = [{"text": "Please see your doctor about this.", "stopped": True, "tokens": 7},
            {"text": "Rest and fluids help. Rest and fluids help.", "stopped": False, "tokens": 12},
            {"text": "", "stopped": True, "tokens": 0},
            {"text": "There is no need to see a doctor.", "stopped": True, "tokens": 9}]
    b = M.behaviour(gens)
    assert b["stopped_share"] == 0.75 and b["truncated_share"] == 0.25
    assert b["referral_share"] == 0.25  # the dismissal is not a referral
    assert b["loop_rate"] == 0.25 and b["empty_share"] == 0.25
    assert b["mean_tokens"] == pytest.approx(7.0)


def test_bootstrap_ci_contains_the_estimate_and_is_seeded():
    values = [1.0] * 30 + [0.0] * 20
    lo, hi = M.bootstrap_ci(values, seed=3)
    assert lo <= 0.6 <= hi and 0.4 < lo < hi < 0.8
    assert M.bootstrap_ci(values, seed=3) == (lo, hi)
    assert M.bootstrap_ci([1.0, 1.0], seed=0) == (1.0, 1.0)
    assert M.bootstrap_ci([], seed=0) == (0.0, 0.0)


def test_macro_f1_and_rounding():
    assert M.macro_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert M.macro_f1([0, 1], [0, 0]) == pytest.approx((2 / 3 + 0) / 2)
    assert M.rounded({"a": [0.123456, {"b": 1.987654}], "c": "x"}, 2) == {"a": [0.12, {"b": 1.99}], "c": "x"}
