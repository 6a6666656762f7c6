"""The review folder on disk: atomic creation, version checks, blinded reads, revisions, and what a kill keeps."""

from __future__ import annotations

import json
import sqlite3

import pytest

from review_answers import eval_dir  # noqa: F401 (a fixture)

from medqa.review.axes import Rating
from medqa.review.create import ReviewPlan, answer_folders, create_review
from medqa.review.items import ReviewError
from medqa.review.store import DB_NAME, LINKS_NAME, Conflict, NotFound, ReviewStore

GOOD = {"consensus": "agrees", "missing": "none", "harm": "none", "harm_likelihood": "low", "urgency": "correct"}


def rating(n: int = 2, revision: int = 0, **changes: str) -> Rating:
    return Rating(answers=[{**GOOD, **changes}] * n, preference="A" if n == 2 else None, revision=revision)


@pytest.fixture()
def review(eval_dir, tmp_path):
    made = create_review(ReviewPlan(answers={"": str(eval_dir)}, raters=2, overlap=0.5), tmp_path / "review")
    return made, ReviewStore(made.folder)


def test_create_writes_tokens_only_as_hashes_and_links_privately(review):
    made, store = review
    assert made.items == 6 and made.assignments == 9 and made.overlapping == 3
    links = (made.folder / LINKS_NAME).read_text()
    assert (made.folder / LINKS_NAME).stat().st_mode & 0o077 == 0
    for name, token in made.tokens.items():
        assert f"{name}\thttp://127.0.0.1:8010/{'admin' if name == 'admin' else 'rate'}#{token}" in links
        assert token.encode() not in (made.folder / DB_NAME).read_bytes()
    assert store.rater(made.tokens["rater-1"]).name == "rater-1" and store.rater("forged") is None
    assert store.is_admin(made.tokens["admin"]) and not store.is_admin(made.tokens["rater-1"])


def test_create_never_overwrites_and_leaves_nothing_when_it_fails(review, eval_dir, tmp_path):
    made, _ = review
    with pytest.raises(ReviewError, match="not empty"):
        create_review(ReviewPlan(answers={"": str(eval_dir)}), made.folder)
    with pytest.raises(ReviewError):
        create_review(ReviewPlan(answers={"": str(tmp_path / "missing")}), tmp_path / "other")
    assert not (tmp_path / "other").exists() and not list(tmp_path.glob(".other.*"))


def test_a_rater_sees_only_their_items_blinded(review):
    made, store = review
    one, two = (store.rater(made.tokens[n]) for n in ("rater-1", "rater-2"))
    mine, theirs = {i["id"] for i in store.queue(one)}, {i["id"] for i in store.queue(two)}
    shown = store.item(one, sorted(mine)[0])
    assert [a["label"] for a in shown["answers"]] == ["A", "B"] and shown["rating"] is None
    assert "tuned-qx7" not in json.dumps(shown) and "system" not in json.dumps(shown)
    for item_id in theirs - mine:
        with pytest.raises(NotFound):
            store.item(one, item_id)
        with pytest.raises(NotFound):
            store.save(one, item_id, rating())


def test_revisions_refuse_stale_and_misshapen_ratings_and_keep_the_stored_one(review):
    made, store = review
    rater = store.rater(made.tokens["rater-1"])
    item_id = store.queue(rater)[0]["id"]
    assert store.save(rater, item_id, rating()) == 1
    with pytest.raises(Conflict, match="revision 1"):
        store.save(rater, item_id, rating(harm="severe"))  # a second submit of the page that loaded revision 0
    with pytest.raises(ReviewError, match="2 answer"):
        store.save(rater, item_id, rating(n=1, revision=1))
    assert store.item(rater, item_id)["rating"]["answers"][0]["harm"] == "none"
    assert store.save(rater, item_id, rating(revision=1, harm="severe")) == 2  # going back to change it
    assert store.item(rater, item_id)["rating"]["answers"][0]["harm"] == "severe"


def test_a_folder_from_another_version_or_not_a_review_is_refused(review, tmp_path):
    made, _ = review
    with sqlite3.connect(made.folder / DB_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ReviewError, match="another medqa version"):
        ReviewStore(made.folder)
    with pytest.raises(ReviewError, match="not a review folder"):
        ReviewStore(tmp_path)
    (tmp_path / DB_NAME).write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ReviewError, match="cannot be read"):
        ReviewStore(tmp_path)


def test_answer_folder_specs():
    assert answer_folders(["runs/eval"]) == {"": "runs/eval"}
    assert answer_folders(["a=runs/x", "runs/y/"]) == {"a": "runs/x", "y": "runs/y/"}
    with pytest.raises(ReviewError, match="labelled 'a'"):
        answer_folders(["a=x", "a=y"])


def test_rating_validation_names_the_axis_and_levels():
    with pytest.raises(ValueError, match="harm must be one of none, moderate, severe"):
        Rating(answers=[{**GOOD, "harm": "lots"}])
    with pytest.raises(ValueError, match="preference"):
        Rating(answers=[GOOD], preference="C")
    with pytest.raises(ValueError):
        Rating(answers=[GOOD], comment="x" * 2001)
    with pytest.raises(ValueError, match="needs a preference"):
        Rating(answers=[GOOD, GOOD]).check_shape(2)


def test_grounded_answers_show_their_sources(tmp_path):
    from review_answers import write_eval

    folder = write_eval(tmp_path / "eval", {"base": "Plain"}, n=2)
    source = {"index": 1, "title": "Headache (Symptoms)", "url": "https://example.org/headache", "source": "s#1",
              "text": "Most headaches are harmless."}
    rows = [json.loads(line) for line in (folder / "answers.jsonl").read_text().splitlines()]
    rows += [{**r, "model": "base+sources", "answer": "Rest helps [1].", "sources": [source]}
             for r in rows if r["task"] == "freetext"]
    (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    made = create_review(ReviewPlan(answers={"": str(folder)}, raters=1, overlap=0), tmp_path / "review")
    store = ReviewStore(made.folder)
    rater = store.rater(made.tokens["rater-1"])
    shown = [store.item(rater, i["id"]) for i in store.queue(rater)]
    grounded = [a for item in shown for a in item["answers"] if a["text"] == "Rest helps [1]."]
    assert len(grounded) == 2 and all(a["sources"] == [source] for a in grounded)
    assert all(a["sources"] == [] for item in shown for a in item["answers"] if a["text"] != "Rest helps [1].")
