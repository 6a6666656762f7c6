import json

from conftest import HCM_ROWS, write_jsonl

from medqa.config import build_config
from medqa.data.mixing import weighted_caps
from medqa.data.prepare import run_prepare


def _qa(prefix, n):
    return [{"question": f"{prefix} question {i}: I have had a {prefix} problem for {i} days, what should I do?",
             "answer": f"{prefix} answer {i}: rest, drink fluids and see a doctor if the {prefix} problem lasts more "
                       f"than {i + 7} days or gets worse quickly."} for i in range(n)]


def test_weighted_caps_follow_shares_without_overdrawing():
    assert weighted_caps([100, 100], [1, 1], None) == [100, 100]
    assert weighted_caps([100, 20], [1, 1], None) == [20, 20]
    assert weighted_caps([100, 100], [3, 1], 40) == [30, 10]
    assert weighted_caps([10, 100], [1, 3], None) == [10, 30]
    assert weighted_caps([0, 100], [1, 1], None) == [0, 100]


def test_mix_with_weights_records_sources(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", _qa("knee", 60))
    b = write_jsonl(tmp_path / "b.jsonl", _qa("skin", 20))
    cfg = build_config({"data": {"sources": [{"source": str(a), "weight": 1}, {"source": str(b), "weight": 1}],
                                 "near_dup": {"enabled": False}}})
    res = run_prepare(cfg, tmp_path / "out")
    per_source = {s["source"]: s for s in res.stats["sources"]}
    assert per_source[str(b)]["rows_in"] == 20 and 12 <= per_source[str(a)]["rows_in"] <= 20
    rows = [json.loads(line) for s in ("train", "validation", "test")
            for line in (tmp_path / "out" / f"{s}.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == {str(a), str(b)}


def test_an_empty_source_does_not_stop_a_mix(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    a = write_jsonl(tmp_path / "a.jsonl", _qa("knee", 10))
    cfg = build_config({"data": {"sources": [{"source": str(tmp_path / "empty.jsonl")}, {"source": str(a)}],
                                 "near_dup": {"enabled": False}}})
    res = run_prepare(cfg, tmp_path / "out")
    assert [s["rows_in"] for s in res.stats["sources"]] == [0, 10]


def test_mix_with_caps_and_own_schemas(tmp_path):
    a = write_jsonl(tmp_path / "hcm.jsonl", HCM_ROWS * 3)
    b = write_jsonl(tmp_path / "other.jsonl", [{"patient": r["question"], "doctor": r["answer"]} for r in _qa("eye", 9)])
    cfg = build_config({"data": {"sources": [
        {"source": str(a), "max_rows": 2},
        {"source": str(b), "max_rows": 5, "schema": "qa", "question_field": "patient", "answer_field": "doctor"}]}})
    res = run_prepare(cfg, tmp_path / "out")
    assert res.rows_in == 7 and res.stats["sources"][1]["rows_in"] == 5
    assert "unknown, check the source" in (tmp_path / "out" / "DATA_CARD.md").read_text()
