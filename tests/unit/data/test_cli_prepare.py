"""`medqa prepare` flags and `medqa inspect`, called in-process through medqa.cli.main."""

import json

from conftest import HCM_ROWS, write_jsonl

from medqa.cli import main
from medqa.data.inspection import MASK_CLOSE, MASK_OPEN, inspect_prepared


def _qa(prefix, n):
    return [{"question": f"{prefix} question {i}: I have had a {prefix} problem for {i} days, what should I do?",
             "answer": f"{prefix} answer {i}: rest, drink fluids and see a doctor if the {prefix} problem lasts more "
                       f"than {i + 7} days or gets worse quickly."} for i in range(n)]


def test_prepare_mix_show_changes_and_eval_file(tmp_path, capsys):
    a = write_jsonl(tmp_path / "hcm.jsonl", HCM_ROWS + _qa("knee", 10))
    b = write_jsonl(tmp_path / "skin.jsonl", _qa("skin", 10))
    exam = tmp_path / "exam.csv"
    exam.write_text('"' + HCM_ROWS[1]["input"] + '",A,B,C,D,A\n')
    code = main(["prepare", "--source", str(a), "--source", f"{b},max_rows=4", "--output", str(tmp_path / "out"),
                 "--no-token-stats", "--show-changes", "1", "--eval-file", str(exam), "--drop-contaminated",
                 "--set", "data.val_fraction=0", "--set", "data.test_fraction=0"])
    out = capsys.readouterr().out
    assert code == 0 and "== chatdoctor ==" in out and "before:" in out and "DATA_CARD.md" in out
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert [s["rows_in"] for s in stats["sources"]] == [12, 4]
    assert stats["contamination"]["train_rows_overlapping"] == 1 and stats["dropped"]["contaminated"] == 1


def test_bad_source_option_is_a_clear_error(tmp_path, capsys):
    assert main(["prepare", "--source", "x.jsonl,weight", "--output", str(tmp_path / "o"), "--no-token-stats"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_inspect_marks_the_masked_prompt(tmp_path, tokenizer, capsys):
    src = write_jsonl(tmp_path / "qa.jsonl", _qa("ear", 6))
    assert main(["prepare", "--source", str(src), "--output", str(tmp_path / "out"), "--no-token-stats",
                 "--set", "data.val_fraction=0", "--set", "data.test_fraction=0", "--set", "train.max_seq_len=130"]) == 0
    text = inspect_prepared(tmp_path / "out", n=2, tokenizer=tokenizer)
    blocks = text.split("── example")[1:]
    assert len(blocks) == 2 and all("<start_of_turn>model\n" + MASK_CLOSE in b for b in blocks)
    assert "trained" in text and "answer tokens cut by max_seq_len" in text
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "out"), "-n", "1", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "example 1/1" in out and MASK_OPEN in out and "\x1b[" not in out
