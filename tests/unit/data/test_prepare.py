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
    # the rows differ in one word: near-duplicate removal would rightly drop some, and this test is about formats
    assert run_prepare(_cfg(path, "data.near_dup={enabled: false}"), tmp_path / "out").rows_out["train"] == 5


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


# --- issue 3: filters, groups, data card, bad input, workers ---------------------------------------------------------

def _qa(n, topic="knee"):
    return [{"question": f"My {topic} has hurt for {i} days after a long walk number {i}, what should I do now?",
             "answer": f"For {topic} pain after walking {i} times, rest it, use ice and take paracetamol; see a doctor "
                       f"if it swells, locks or stops you walking, case {i} of {n}."} for i in range(n)]


def test_data_card_histograms_and_stats(tmp_path):
    src = write_jsonl(tmp_path / "hcm.jsonl", HCM_ROWS + _qa(20))
    res = run_prepare(_cfg(src), tmp_path / "out")
    assert res.rows_out["train"] == 22
    out = tmp_path / "out"
    card = (out / "DATA_CARD.md").read_text()
    for needle in ("## Sources", "## Counts", "chatdoctor", "question_lengths.png", "## Top question keywords",
                   "Examples", "unknown, check the source", "Language check"):
        assert needle in card, needle
    assert (out / "question_lengths.png").read_bytes()[:4] == b"\x89PNG" and (out / "answer_lengths.png").is_file()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["lengths"]["unit"] == "words" and stats["changed_by_rule"]["greetings"] >= 1
    assert stats["sources"][0]["rows_in"] == 22 and stats["near_duplicates"]["threshold"] == 0.8
    assert stats["rows_in"] == stats["rows_out"] + stats["dropped_total"]


def test_language_and_length_filters(tmp_path):
    foreign = {"question": "Hola doctor, tengo dolor de cabeza desde hace tres días y no sé qué hacer con esto.",
               "answer": "Debe descansar, beber agua y consultar a su médico si el dolor empeora o aparece fiebre."}
    long = dict(_qa(1, "back")[0], answer="word " * 400)
    src = write_jsonl(tmp_path / "mixed.jsonl", _qa(5) + [foreign, long])
    res = run_prepare(_cfg(src, "data.length={max_answer_tokens: 300}"), tmp_path / "out")
    assert res.dropped["language"] == 1 and res.dropped["long_answer"] == 1
    res = run_prepare(_cfg(src, "data.language={enabled: false}", "data.length={enabled: false}"), tmp_path / "out")
    assert "language" not in res.dropped and "long_answer" not in res.dropped


def test_group_field_keeps_related_rows_in_one_split(tmp_path):
    rows = [dict(r, doc=f"doc{i % 10}") for i, r in enumerate(_qa(60))]
    src = write_jsonl(tmp_path / "g.jsonl", rows)
    cfg = build_config({}, [f"data.source={src}", "data.group_field=doc", "data.val_fraction=0.3",
                            "data.test_fraction=0.3", "data.near_dup={enabled: false}"])
    run_prepare(cfg, tmp_path / "out")
    where: dict[str, set[str]] = {}
    for split in ("train", "validation", "test"):
        for row in read_split(tmp_path / "out", split):
            where.setdefault(row.group, set()).add(split)
    assert len(where) == 10 and all(len(s) == 1 for s in where.values())


def test_bad_input_is_quarantined_never_fatal(tmp_path):
    src = tmp_path / "bad.jsonl"
    lines = [json.dumps(r).encode() for r in _qa(6)]
    lines += [b"\xff\xfe not json", b'{"question": 5, "answer": "x"}', b'{"messages": [{"role": ["x"]}]}',
              b"[" * 5000, b'{"q": "only one field"}', '{"question": "Caf\xe9 Fieber seit drei Tagen, was tun?", '
              '"answer": "Ruhe und viel trinken."}'.encode("cp1252"), b'{"statements": 5, "question": "a b c d", '
              b'"answer": "e f g h i j"}']
    src.write_bytes(b"\n".join(lines) + b"\n")
    res = run_prepare(_cfg(src), tmp_path / "out")
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert res.dropped["malformed"] == len(reasons) == 5 and any("nested too deeply" in r for r in reasons)
    assert res.stats["encoding_fallbacks"] == {"not valid UTF-8 (read as Windows-1252)": 1}
    assert res.rows_in == sum(res.rows_out.values()) + sum(res.dropped.values())


def test_change_samples_are_kept_per_rule(tmp_path):
    src = write_jsonl(tmp_path / "hcm.jsonl", HCM_ROWS)
    res = run_prepare(_cfg(src), tmp_path / "out", keep_changes=1)
    assert set(res.changes) >= {"chatdoctor", "urls", "emails"} and all(len(v) == 1 for v in res.changes.values())
    before, after = res.changes["emails"][0]
    assert "@" in before and "[email]" in after


def test_worker_processes_give_the_same_output(tmp_path, tokenizer):
    rows = HCM_ROWS + _qa(600) + [{"bad": 1}, {"messages": [{"role": "user", "content": "Hi  there, my  knee hurts?"},
                                                           {"role": "assistant", "content": "Rest it  and use ice."}]}]
    src = write_jsonl(tmp_path / "hcm.jsonl", rows)
    res0 = run_prepare(_cfg(src, "data.workers=0"), tmp_path / "w0", tokenizer=tokenizer)
    res1 = run_prepare(_cfg(src, "data.workers=1"), tmp_path / "w1", tokenizer=tokenizer)
    for name in ("train.jsonl", "quarantine.jsonl"):
        assert (tmp_path / "w0" / name).read_text() == (tmp_path / "w1" / name).read_text()
    assert res1.changed == res0.changed and res1.stats["tokens"] == res0.stats["tokens"]
    assert res1.stats["lengths"]["method"] == "exact-pieces" and res1.stats["lengths"]["mismatches"] == 0
