"""The `medqa` command as a user runs it: real subprocesses, exit codes and messages."""

import json
import subprocess
import sys

from conftest import HCM_ROWS, write_jsonl


def medqa(*args: str, cwd=None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin, timeout=600)


def test_help_is_instant_and_lists_stages():
    # instant: torch and transformers are imported by the commands that need them, never for --help
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "medqa.cli", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0
    for cmd in ("prepare", "train", "eval", "ask", "chat", "demo", "triage"):
        assert cmd in res.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    assert "medqa" in imported and not imported & {"torch", "transformers"}


def test_prepare_cli_on_healthcaremagic_style_file(tmp_path):
    src = write_jsonl(tmp_path / "hcm.jsonl", HCM_ROWS * 2)
    res = medqa("prepare", "--source", str(src), "--output", str(tmp_path / "out"), "--no-token-stats",
                "--set", "data.val_fraction=0", "--set", "data.test_fraction=0")
    assert res.returncode == 0, res.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["dropped"] == {"duplicate": 2} and stats["splits"]["train"] == 2


def test_errors_are_one_clear_message_and_nonzero(tmp_path):
    cases = [
        (["prepare", "--source", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o")], "does not exist"),
        (["prepare", "--source", str(write_jsonl(tmp_path / "x.jsonl", [{"a": "b", "c": "d"}])), "--output",
          str(tmp_path / "o"), "--no-token-stats"], "malformed"),
        (["train", "--data", str(tmp_path / "o"), "--base", "not-a-model", "--output", str(tmp_path / "r")],
         "not found"),
        (["prepare", "--set", "data.nonsense=1"], "unknown key"),
    ]
    for args, needle in cases:
        res = medqa(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert needle in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "r" / "adapter").exists()


def test_triage_json_and_file(tmp_path):
    res = medqa("triage", "--json", "my face droops on one side and my words come out wrong")
    obj = json.loads(res.stdout)
    assert obj["urgent"] is True and obj["category"] == "stroke" and "emergency" in obj["message"].lower()
    src = write_jsonl(tmp_path / "m.jsonl", [{"id": "a", "text": "no chest pain, just a mild cold"},
                                             {"id": "b", "text": "I took the whole bottle of my sleeping pills"}])
    res = medqa("triage", "--input", str(src))
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["id"], r["urgent"]) for r in rows] == [("a", False), ("b", True)]


def test_validate_config_reports_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  max_stepz: 3\n  batch_size: 0\nlora:\n  r: -1\n")
    res = medqa("validate-config", str(bad))
    assert res.returncode == 2
    for key in ("train.max_stepz", "train.batch_size", "lora.r"):
        assert key in res.stderr


def test_ask_and_chat_refuse_several_adapters(tmp_path):
    for command in (["ask", "hello"], ["chat"]):
        res = medqa(*command, "--adapter", str(tmp_path / "a"), "--adapter", str(tmp_path / "b"), stdin="")
        assert res.returncode == 2
        assert "one adapter" in res.stderr and "Traceback" not in res.stderr
