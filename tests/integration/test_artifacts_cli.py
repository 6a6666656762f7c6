"""`medqa merge`, `medqa export` and `medqa push` as a user runs them, on a 2-step tiny Gemma 3 run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "artifacts"))
from artifact_fixtures import tiny_run  # noqa: E402  (the trained run the unit tests share)


def medqa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, timeout=1200)


@pytest.fixture()
def run(tmp_path, tmp_path_factory, embedded_dir, prepared_small) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(tiny_run(tmp_path_factory, embedded_dir, prepared_small), dst)
    return dst


def test_export_q8_0_merges_first_then_merge_and_push_dry_run(run):
    res = medqa("export", str(run), "--format", "gguf", "--quant", "q8_0")
    assert res.returncode == 0, res.stderr
    assert "merging first" in res.stdout and "verified: next-token agreement" in res.stdout
    folder = run / "export-q8_0"
    report = json.loads((folder / "export_report.json").read_text())
    assert report["passed"] and report["tensor_types"]["Q8_0"] == 43 and report["tokenizer_ids_match"]
    assert report["all_positions_agreement"] >= 0.85 and report["bytes"] < 20 * 2**20
    assert (folder / "Modelfile").read_text().startswith("FROM ./model.gguf\n")
    assert json.loads((run / "merged" / "merge_report.json").read_text())["passed"]

    res = medqa("merge", str(run), "--tolerance", "1e-4")  # replaces its own earlier output
    assert res.returncode == 0, res.stderr
    assert f"merged into {run / 'merged'}" in res.stdout and "<= 0.0001" in res.stdout

    res = medqa("push", str(run), "me/medqa-tiny", "--dry-run", "--private")
    assert res.returncode == 0, res.stderr
    assert "would upload" in res.stdout and "(private)" in res.stdout and "adapter_model.safetensors" in res.stdout
    assert "library_name: peft" in res.stdout and "merged" not in res.stdout.split("model card metadata")[0]


def test_errors_are_one_clear_message(run, tmp_path):
    (run / "adapter" / "optimizer.pt").write_bytes(b"\x80\x04.")
    cases = [
        (["merge", str(tmp_path / "missing")], "does not exist"),
        (["export", str(tmp_path / "missing")], "does not exist"),
        (["export", str(run), "--format", "onnx"], "unknown --format 'onnx'"),
        (["export", str(run), "--quant", "q4_k_m"], "unknown --quant 'q4_k_m'"),
        (["push", str(run), "me/medqa-tiny", "--dry-run"], "refusing to upload pickle files (optimizer.pt)"),
        (["push", str(run), "not a repo", "--dry-run"], "user-or-org/name"),
    ]
    for args, needle in cases:
        res = medqa(*args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert needle in res.stderr and "Traceback" not in res.stderr, (args, res.stderr)
    assert not (run / "merged").exists() and not (run / "export-q4_k_m").exists()
    res = medqa("push", str(run), "me/medqa-tiny", "--dry-run", "--allow-pickle")
    assert res.returncode == 0 and "optimizer.pt" in res.stdout
