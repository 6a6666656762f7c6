"""Agreement and the report on ratings generated with a known structure, checked against the libraries directly."""

from __future__ import annotations

import random

import numpy as np
import pytest
from review_answers import eval_dir, write_eval  # noqa: F401 (eval_dir is a fixture)

from medqa.review.axes import AXES, PREFERENCES, Rating
from medqa.review.create import ReviewPlan, create_review
from medqa.review.report import build_report, write_review_report
from medqa.review.store import ReviewStore


def rate_all(store: ReviewStore, tokens: dict[str, str], choose) -> dict[str, dict[str, dict]]:
    """Rate every assigned item with `choose(rater, item_id, n_answers)`; returns what was given, by rater."""
    given: dict[str, dict[str, dict]] = {}
    for name, token in tokens.items():
        if name == "admin":
            continue
        rater = store.rater(token)
        for entry in store.queue(rater):
            n = len(store.item(rater, entry["id"])["answers"])
            payload = choose(name, entry["id"], n)
            store.save(rater, entry["id"], Rating(**payload))
            given.setdefault(name, {})[entry["id"]] = payload
    return given


def random_payload(rng: random.Random, n: int) -> dict:
    return {"answers": [{a.name: rng.choice(a.levels) for a in AXES} for _ in range(n)],
            "preference": rng.choice(PREFERENCES) if n == 2 else None}


@pytest.fixture()
def double_rated(tmp_path):
    """40 pairwise items, every one rated by both raters."""
    folder = write_eval(tmp_path / "eval", {"base": "Plain", "tuned": "Careful"}, n=40)
    made = create_review(ReviewPlan(answers={"": str(folder)}, raters=2, overlap=1.0), tmp_path / "review")
    return made, ReviewStore(made.folder)


def test_agreement_matches_krippendorff_and_scikit_learn(double_rated):
    from krippendorff import alpha
    from sklearn.metrics import cohen_kappa_score

    made, store = double_rated
    rng = random.Random(3)
    first: dict[str, dict] = {}

    def choose(rater, item_id, n):  # rater-2 copies rater-1 on about 70% of the items, else rates at random
        if rater == "rater-1":
            first[item_id] = random_payload(rng, n)
            return first[item_id]
        return first[item_id] if rng.random() < 0.7 else random_payload(rng, n)

    given = rate_all(store, made.tokens, choose)
    table = build_report(store)["agreement"]
    items = sorted(given["rater-1"])
    for axis in AXES:
        x = [axis.rank(given["rater-1"][i]["answers"][s][axis.name]) for i in items for s in range(2)]
        y = [axis.rank(given["rater-2"][i]["answers"][s][axis.name]) for i in items for s in range(2)]
        expected = alpha(reliability_data=np.array([x, y], dtype=float), level_of_measurement="ordinal",
                         value_domain=list(range(3)))
        assert table[axis.name]["units"] == 80 and table[axis.name]["rater_pairs"] == 1
        assert table[axis.name]["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
        assert table[axis.name]["cohen_kappa"] == pytest.approx(
            cohen_kappa_score(x, y, labels=[0, 1, 2], weights="quadratic"), abs=1e-9)
        assert 0.4 < table[axis.name]["krippendorff_alpha"] < 0.95  # the structure: agreement well above chance
    px = [given["rater-1"][i]["preference"] for i in items]
    py = [given["rater-2"][i]["preference"] for i in items]
    assert table["preference"]["cohen_kappa"] == pytest.approx(cohen_kappa_score(px, py), abs=1e-9)


def test_perfect_agreement_is_one(double_rated):
    made, store = double_rated
    rng = random.Random(5)
    memo: dict[str, dict] = {}
    rate_all(store, made.tokens, lambda r, i, n: memo.setdefault(i, random_payload(rng, n)))
    table = build_report(store)["agreement"]
    assert all(v["krippendorff_alpha"] == pytest.approx(1.0) and v["cohen_kappa"] == pytest.approx(1.0)
               for v in table.values())


def test_no_overlap_and_a_single_value_give_no_coefficient(tmp_path):
    folder = write_eval(tmp_path / "eval", {"base": "Plain", "tuned": "Careful"}, n=8)
    made = create_review(ReviewPlan(answers={"": str(folder)}, raters=2, overlap=0.0), tmp_path / "review")
    store = ReviewStore(made.folder)
    same = {"answers": [{a.name: a.levels[0] for a in AXES}] * 2, "preference": "tie"}
    rate_all(store, made.tokens, lambda r, i, n: same)
    table = build_report(store)["agreement"]
    assert table["harm"]["units"] == 0 and table["harm"]["krippendorff_alpha"] is None


def test_report_unblinds_preference_with_interval_and_lists_harms(double_rated):
    made, store = double_rated

    def choose(rater, item_id, n):  # "tuned" always preferred; rater-2 flags base's answer as severely harmful
        shown = [a["text"] for a in store.item(store.rater(made.tokens[rater]), item_id)["answers"]]
        tuned = next(k for k, t in enumerate(shown) if t.startswith("Careful"))
        answers = [{a.name: a.levels[0] for a in AXES} for _ in shown]
        if rater == "rater-2":
            answers[1 - tuned] = {**answers[1 - tuned], "harm": "severe", "harm_likelihood": "high"}
        return {"answers": answers, "preference": "AB"[tuned], "comment": "base misses the red flag"}

    rate_all(store, made.tokens, choose)
    report = write_review_report(store)
    (pair,) = report["preference"]
    assert (pair["first"], pair["second"], pair["items"], pair["ratings"]) == ("base", "tuned", 40, 80)
    assert pair["first_preferred"] == 0.0 and pair["ci95"] == [0.0, 0.0] and pair["second_wins"] == 80
    assert report["axes"]["base"]["harm"] == {"none": 40, "moderate": 0, "severe": 40}
    assert len(report["harmful"]) == 40 and all(h["system"] == "base" and h["answer"].startswith("Plain")
                                                for h in report["harmful"])
    out = made.folder / "report"
    page = (out / "report.html").read_text()
    assert "base misses the red flag" in page and "http://" not in page.replace("http://127.0.0.1", "")
    assert (out / "preference.png").read_bytes()[:4] == b"\x89PNG" and (out / "axes.png").is_file()
    assert "| base vs tuned | 40 | 80 | 0 / 0 / 80 | 0.000 | [0.00, 0.00] |" in (out / "report.md").read_text()


def test_ratings_become_criterion_labels_for_judge_calibration(double_rated, tmp_path):
    from medqa.evaluation.judge.calibration import read_labels
    from medqa.review.labels import write_labels

    made, store = double_rated
    good = {a.name: a.levels[0] for a in AXES}
    rate_all(store, made.tokens, lambda r, i, n: {"answers": [good, {**good, "harm": "severe"}], "preference": "A"})
    assert write_labels(store, tmp_path / "labels.jsonl") == 80 * 2 * 4
    labels = read_labels(tmp_path / "labels.jsonl")["rubric"]
    harm = [x for x in labels if x["points"] < 0]
    assert sum(x["met"] for x in harm) == 80 and all(x["met"] for x in labels if x["points"] > 0)
