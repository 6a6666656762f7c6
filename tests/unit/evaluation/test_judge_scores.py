"""Judge verdict parsing, K-QA and HealthBench scoring, and the item readers, on hand-made verdicts."""

from __future__ import annotations

import json

import pytest

from medqa.errors import DataError
from medqa.evaluation.judge.grader import parse_rubric, parse_statement
from medqa.evaluation.judge.items import Criterion, RubricItem, read_judge_file
from medqa.evaluation.judge.prompts import load_prompt
from medqa.evaluation.judge.scores import rubric_score, rubric_scores, statement_scores


@pytest.mark.parametrize("reply, verdict", [
    ('{"label": "entailed", "reason": "says it"}', "entailed"),
    ('Sure!\n```json\n{"label": "Not addressed"}\n```', "not_addressed"),
    ('{"label": "contradicted"} and more words', "contradicted"),
    ("entailed", None), ("", None), ('{"label": "probably"}', None), ("[1, 2]", None), ('{"label": ', None)])
def test_statement_replies_parse_or_are_unparseable(reply, verdict):
    assert parse_statement(reply)[0] == verdict


@pytest.mark.parametrize("reply, verdict", [('{"criteria_met": true}', True), ('{"criteria_met": "false"}', False),
                                            ('{"criteria_met": "maybe"}', None), ("yes", None)])
def test_rubric_replies_parse_or_are_unparseable(reply, verdict):
    assert parse_rubric(reply)[0] is verdict


def test_kqa_comprehensiveness_and_hallucination():
    must = [["entailed", "entailed", "not_addressed"], ["contradicted", None], [None]]
    nice = [["contradicted"], [], ["entailed"]]
    s = statement_scores(must, nice)
    # item 3 has no parsed must-have statement: no comprehensiveness, but it still counts for hallucination
    assert s["comprehensiveness"]["mean"] == pytest.approx((2 / 3 + 0) / 2) and s["comprehensiveness"]["n"] == 2
    assert s["hallucinations_per_answer"]["mean"] == pytest.approx(2 / 3)
    assert s["answers_with_hallucination"]["mean"] == pytest.approx(2 / 3)
    assert (s["statements"], s["unparseable"]) == (8, 2)
    assert s["labels"] == {"entailed": 3, "contradicted": 2, "not_addressed": 1}
    lo, hi = s["hallucinations_per_answer"]["ci95"]
    assert lo <= 2 / 3 <= hi
    silent = statement_scores([[None, None]], [[None]])  # a judge that never answered in the format
    assert silent["hallucinations_per_answer"]["mean"] is None and silent["comprehensiveness"]["mean"] is None


def test_healthbench_score_is_met_points_over_positive_points_clipped():
    refer = Criterion("Tells the user to call 'emergency' services", 5, ("axis:completeness",))
    calm = Criterion("Reassures without examining", -3, ("axis:accuracy",))
    extra = Criterion("Mentions aspirin", 2, ("axis:completeness",))
    assert rubric_score([refer, calm, extra], [True, False, False]) == pytest.approx(5 / 7)
    assert rubric_score([refer, calm, extra], [False, True, False]) == 0.0  # negative, clipped at 0
    assert rubric_score([refer, calm, extra], [None, False, True]) == 1.0  # unparseable refer left out: 2 / 2
    assert rubric_score([calm], [True]) is None  # no positive points: no score
    items = [RubricItem("a", [], (refer, calm, extra), ("theme:emergency_referrals",)),
             RubricItem("b", [], (refer, extra), ("theme:communication",))]
    s = rubric_scores(items, [[True, True, False], [True, False]])
    assert s["score"]["mean"] == pytest.approx((2 / 7 + 5 / 7) / 2)
    assert s["tags"]["theme:emergency_referrals"]["mean"] == pytest.approx(2 / 7)
    assert s["tags"]["axis:completeness"]["mean"] == pytest.approx(5 / 7)  # per item over the tag's criteria
    assert "axis:accuracy" not in s["tags"]  # only a negative criterion: no points to score against
    assert s["met"] == 3 and s["criteria"] == 5


def test_readers_take_published_shapes_and_report_bad_rows(tmp_path):
    f = tmp_path / "mixed.jsonl"
    rows = [{"Question": "Can I take ibuprofen with a cold?", "Must_have": ["'ibuprofen' is fine for most"],
             "Nice_to_have": ["Avoid with 'ulcers'"], "Free_form_answer": "..."},
            {"id": "m1", "question": "Is a fever of 38 C dangerous?", "statements": ["Usually 'not dangerous'"]},
            {"prompt": [{"role": "user", "content": "Chest pain for an hour"}], "prompt_id": "hb1",
             "rubrics": [{"criterion": "Says 'emergency'", "points": 8, "tags": ["axis:completeness"]}],
             "example_tags": ["theme:emergency_referrals"]},
            {"Question": "No statements"}, {"prompt": "not a list", "rubrics": []}, [1, 2]]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    items = read_judge_file(f)
    assert [i.id for i in items.statements] == ["mixed.jsonl:1", "m1"] and items.statements[0].nice_to_have
    assert items.rubrics[0].id == "hb1" and items.rubrics[0].tags == ("theme:emergency_referrals",)
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in items.problems] == ["4", "5", "6", "7"]
    with pytest.raises(DataError, match="does not exist"):
        read_judge_file(tmp_path / "missing.jsonl")


def test_prompts_are_versioned_files_and_keep_braces_in_answers():
    p = load_prompt("statement")
    assert p.version == "v1" and p.id.startswith("statement-v1-")
    text = p.messages(question="q", answer='He wrote {"dose": 5} {x}', statement="s")[0]["content"]
    assert '{"dose": 5} {x}' in text and '{"label": "entailed"' in text
