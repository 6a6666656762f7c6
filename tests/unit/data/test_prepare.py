import json

import pytest
from conftest import HCM_ROWS, write_jsonl

from medqa.config import build_config
from medqa.data.prepare import read_split, run_prepare
from medqa.data.schema import RowError, to_example
from medqa.errors import DataError


def _cfg(source, *extra):
    return build_config({}, [f"data.source={source}", "data.val_fraction=0.0", "data.test_fraction=0.0", *extra])


def test_healthcaremagic_rows_are_cleaned_and_counted(tmp_path):
    src = write_jsonl(tmp_path / "hcm.jsonl", HCM_ROWS + [HCM_ROWS[0], {"input": "hi", "output": "ok"}])
    res = run_prepare(_cfg(src), tmp_path / "out")
    assert res.rows_in == 4 and res.rows_out["train"] == 2
    assert res.dropped == {"duplicate": 1, "short_question": 1}
    rows = read_split(tmp_path / "out", "train")
    text = " ".join(r.answer for r in rows)
    assert "Chat Doctor" not in text and "www." not in text and "@" not in text and "Welcome to" not in text
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["rows_in"] == stats["rows_out"] + stats["dropped_total"]
    assert (tmp_path / "out" / "config.yaml").is_file()


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet"])
def test_other_file_formats(tmp_path, suffix):
    rows = [{"question": f"I get headaches every afternoon number {i}, why?", "answer": "Often tension or dehydration; "
             "see a doctor if they are new or severe."} for i in range(5)]
    path = tmp_path / f"qa{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(rows))
    elif suffix == ".csv":
        import csv

        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["question", "answer"])
            w.writeheader()
            w.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    assert run_prepare(_cfg(path), tmp_path / "out").rows_out["train"] == 5


def test_messages_schema_and_field_mapping():
    ex = to_example({"messages": [{"role": "system", "content": "Be careful."}, {"role": "user", "content": "Q?"},
                                  {"role": "assistant", "content": "A."}]})
    assert (ex.system, ex.question, ex.answer) == ("Be careful.", "Q?", "A.")
    ex = to_example({"patient_text": "Q2?", "doctor_text": "A2."}, question_field="patient_text",
                    answer_field="doctor_text")
    assert (ex.question, ex.answer) == ("Q2?", "A2.")
    with pytest.raises(RowError, match="unknown schema"):
        to_example({"foo": 1, "bar": 2})


def test_malformed_rows_are_quarantined_with_line_numbers(tmp_path):
    src = tmp_path / "mixed.jsonl"
    good = json.dumps(HCM_ROWS[0])
    src.write_text(f"{good}\n{{not json\n[1, 2]\n{json.dumps(HCM_ROWS[1])}\n")
    res = run_prepare(_cfg(src), tmp_path / "out")
    assert res.dropped["malformed"] == 2
    q = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert [r["line"] for r in q] == [2, 3]


def test_bad_inputs_fail_clearly_and_leave_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError, match="does not exist"):
        run_prepare(_cfg(tmp_path / "missing.jsonl"), out)
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="empty"):
        run_prepare(_cfg(tmp_path / "empty.jsonl"), out)
    write_jsonl(tmp_path / "odd.jsonl", [{"foo": "x", "bar": "y"}] * 3)
    with pytest.raises(DataError, match="malformed"):
        run_prepare(_cfg(tmp_path / "odd.jsonl"), out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_token_stats_reported(prepared_small):
    stats = json.loads((prepared_small / "stats.json").read_text())
    tokens = stats["tokens"]["train"]
    assert tokens["rows"] == stats["splits"]["train"] > 0
    assert 0 < tokens["sequence_tokens"]["p50"] <= tokens["sequence_tokens"]["p100"]
    assert tokens["truncated_rows"] == 0
