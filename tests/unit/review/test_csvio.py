"""CSV export and import: the same data round-trips, and a bad sheet changes nothing and names the row."""

from __future__ import annotations

import csv
import io
import random

import pytest
from review_answers import eval_dir  # noqa: F401 (a fixture)
from test_agreement import random_payload, rate_all

from medqa.review.create import ReviewPlan, create_review
from medqa.review.csvio import COLUMNS, import_csv, write_csv
from medqa.review.items import ReviewError
from medqa.review.store import ReviewStore


def exported(store: ReviewStore, rater: str | None = None) -> str:
    buf = io.StringIO()
    write_csv(store, buf, rater)
    return buf.getvalue()


@pytest.fixture()
def two_reviews(eval_dir, tmp_path):
    """The same plan created twice (same seed, so the same items and assignments, other tokens)."""
    plan = ReviewPlan(answers={"": str(eval_dir)}, raters=2, overlap=0.3, limit=10, kind="both")
    made = [create_review(plan, tmp_path / name) for name in ("first", "second")]
    return made, [ReviewStore(m.folder) for m in made]


def test_export_import_round_trips_the_same_data(two_reviews, tmp_path):
    (made, _), (store, copy) = two_reviews
    rng = random.Random(0)
    rated = 0

    def choose(rater, item_id, n):
        nonlocal rated
        rated += 1
        return {**random_payload(rng, n), "comment": 'says "rest", misses, commas\nand a newline'}

    rate_all(store, made.tokens, choose)
    sheet = tmp_path / "ratings.csv"
    sheet.write_text(exported(store))
    assert import_csv(copy, sheet) == (rated, rated)
    assert exported(copy) == exported(store)
    assert import_csv(store, sheet) == (rated, 0)  # importing what is stored changes nothing
    assert [r["rating"] for r in copy.assignments()] == [r["rating"] for r in store.assignments()]


def test_a_raters_blank_sheet_filled_in_a_spreadsheet(two_reviews, tmp_path):
    _, (store, _) = two_reviews
    rows = list(csv.DictReader(io.StringIO(exported(store, "rater-2"))))
    assert {r["rater"] for r in rows} == {"rater-2"} and not any(r["a_harm"] for r in rows)
    first = rows[0]
    first.update({f"{slot}_{axis}": level for slot in ("ab" if first["answer_b"] else "a") for axis, level in
                  {"consensus": "agrees", "missing": "minor", "harm": "none", "harm_likelihood": "low",
                   "urgency": "correct"}.items()})
    first["preference"] = "B" if first["answer_b"] else ""
    sheet = tmp_path / "filled.csv"
    with open(sheet, "w", newline="", encoding="utf-8-sig") as fh:  # as a spreadsheet saves it, with a BOM
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    assert import_csv(store, sheet) == (1, 1)
    stored = next(r for r in store.assignments() if r["item"] == first["item"] and r["rater"] == "rater-2")
    assert stored["rating"]["answers"][0]["missing"] == "minor"


def _break_sheet(text: str, how: str) -> str:
    lines = text.splitlines(keepends=True)
    if how == "truncated":  # the writer died mid-row
        return "".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 3]
    if how == "bad level":
        return text.replace(",agrees,", ",mostly,", 1)
    if how == "other rater":
        return text.replace("rater-1,", "rater-9,", 1)
    if how == "missing column":
        return text.replace("preference,", "", 1)
    if how == "half rated":
        header, row, *rest = lines
        return header + row.replace(",agrees,", ",,", 1) + "".join(rest)
    raise AssertionError(how)


@pytest.mark.parametrize("how, message", [("truncated", "half-written"), ("bad level", "consensus"),
                                          ("other rater", "not assigned"), ("missing column", "columns preference"),
                                          ("half rated", "empty")])
def test_a_bad_sheet_is_refused_whole_and_changes_nothing(two_reviews, tmp_path, how, message):
    (made, _), (store, _) = two_reviews
    rng = random.Random(1)
    rate_all(store, made.tokens, lambda r, i, n: {**random_payload(rng, n), "answers": [
        {"consensus": "agrees", "missing": "none", "harm": "none", "harm_likelihood": "low", "urgency": "correct"}] * n})
    before = exported(store)
    sheet = tmp_path / "broken.csv"
    sheet.write_text(_break_sheet(before, how))
    with pytest.raises(ReviewError, match=message):
        import_csv(store, sheet)
    assert exported(store) == before


def test_an_old_sheet_never_overwrites_a_newer_rating(two_reviews, tmp_path):
    from medqa.review.axes import Rating
    from medqa.review.store import Conflict

    (made, _), (store, _) = two_reviews
    rng = random.Random(2)
    rate_all(store, made.tokens, lambda r, i, n: random_payload(rng, n))
    sheet = tmp_path / "old.csv"
    old = exported(store)
    rows = list(csv.DictReader(io.StringIO(old)))
    first = rows[0]
    rater = store.rater_named(first["rater"])
    current = store.item(rater, first["item"])
    store.save(rater, first["item"], Rating(**{**current["rating"], "comment": "changed on the page",
                                               "revision": current["revision"]}))
    changed = exported(store)
    edited = [dict(r, comment="edited in the sheet") if r is first else r for r in rows]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(edited)
    sheet.write_text(buf.getvalue())
    with pytest.raises(Conflict, match="rated again"):
        import_csv(store, sheet)
    assert exported(store) == changed  # the page's newer rating stands
