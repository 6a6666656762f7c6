"""`run_merge` on a 2-step tiny Gemma 3 run: verified merge, saved checkpoint, NF4 message, clear failures."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from artifact_fixtures import merged_run, tiny_run

from medqa.artifacts import ArtifactError
from medqa.artifacts.merge import NF4_MESSAGE, run_merge
from medqa.artifacts.probes import PROBE_QUESTIONS, compare_logits, probe_ids, probe_logits


@pytest.fixture(scope="module")
def run(tmp_path_factory, embedded_dir, prepared_small):
    return merged_run(tmp_path_factory, embedded_dir, prepared_small)


def test_merge_report_and_checkpoint(run):
    report = json.loads((run / "merged" / "merge_report.json").read_text())
    assert report["passed"] and report["max_abs_logit_diff"] <= report["tolerance"] == 1e-4
    assert report["probe_prompts"] == len(PROBE_QUESTIONS) and report["probe_tokens"] > 100
    assert report["dequantised"] is False and report["saved_dtype"] == "float32" and report["steps"] == 2
    assert report["precision"] == "float64" and report["next_token_agreement"] == 1.0
    assert report["adapter_effect"]["max_abs_logit_change"] > 100 * report["max_abs_logit_diff"]
    assert json.loads((run / "merge_report.json").read_text()) == report  # the run folder keeps the outcome too
    merged = run / "merged"
    assert (merged / "model.safetensors").is_file() and not list(merged.glob("*.bin"))
    assert not list(merged.glob("adapter_*")), "merged folder must be a plain checkpoint, not an adapter"


def test_merged_checkpoint_reproduces_base_plus_adapter(run):
    """Reload the saved folder (not the in-memory model) and compare with the base + adapter from scratch."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medqa.artifacts.run_info import read_run, run_system_prompt
    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_base

    info = read_run(run)
    tok = AutoTokenizer.from_pretrained(str(run / "merged"))
    assert "<start_of_turn>" in tok.chat_template, "the chat template must travel with the merged model"
    prompts = probe_ids(tok, run_system_prompt(info))
    cfg = info.config.model.model_copy(update={"dtype": "float32"})
    base, _, _ = load_base(cfg)
    base_logits = list(probe_logits(base, prompts))
    with_adapter = load_adapters(base, {"adapter": str(run)}).eval()
    expected = list(probe_logits(with_adapter, prompts))
    merged = AutoModelForCausalLM.from_pretrained(str(run / "merged"), dtype=torch.float32).eval()
    assert compare_logits(expected, probe_logits(merged, prompts))["max_abs_logit_diff"] < 1e-4
    adapter_effect = compare_logits(expected, base_logits)["max_abs_logit_diff"]
    assert adapter_effect > 1e-3, "the adapter must change the logits, or the test proves nothing"


def test_tolerance_failure_saves_nothing_and_explains(tmp_path, tmp_path_factory, embedded_dir, prepared_small):
    run = tmp_path / "run"
    shutil.copytree(tiny_run(tmp_path_factory, embedded_dir, prepared_small), run)
    with pytest.raises(ArtifactError, match="above the tolerance 1e-12; nothing was saved"):
        run_merge(run, tolerance=1e-12, precision="float32", progress=False)  # float32 rounding alone exceeds it
    assert not (run / "merged").exists()
    report = json.loads((run / "merge_report.json").read_text())
    assert report["passed"] is False and report["precision"] == "float32" and report["max_abs_logit_diff"] > 1e-12


def test_nf4_run_is_merged_into_an_unquantised_base(tmp_path, tmp_path_factory, embedded_dir, prepared_small, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run(tmp_path_factory, embedded_dir, prepared_small), run)
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**meta, "quantization": "nf4"}))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["quantization"] = "nf4"  # as a QLoRA run records it
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    report = run_merge(run, output=tmp_path / "out", progress=True)
    assert NF4_MESSAGE in capsys.readouterr().out
    assert report["dequantised"] is True and report["trained_quantization"] == "nf4" and report["passed"]
    assert (tmp_path / "out" / "merge_report.json").is_file()


def test_clear_errors(tmp_path, run):
    with pytest.raises(ArtifactError, match="does not exist"):
        run_merge(tmp_path / "missing")
    (tmp_path / "half").mkdir()
    with pytest.raises(ArtifactError, match="not a finished medqa run"):
        run_merge(tmp_path / "half")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError) as err:
        run_merge(run, output=tmp_path / "taken", tolerance=0, dtype="int8", precision="float16")
    assert all(s in str(err.value) for s in ("--tolerance", "--dtype", "precision 'float16'",
                                             "not a previous `medqa merge` output"))
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
