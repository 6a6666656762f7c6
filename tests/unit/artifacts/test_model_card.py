"""The model card: Hub metadata from run.json, config.yaml and `medqa eval` metrics; use, limits, safety."""

from __future__ import annotations

import json
import shutil

import pytest
from artifact_fixtures import tiny_run

from medqa.artifacts.model_card import (GENERATED_MARK, SAFETY_STATEMENT, card_metadata, is_generated,
                                        parse_card_metadata, write_model_card)
from medqa.artifacts.run_info import read_run


@pytest.fixture()
def run(tmp_path, tmp_path_factory, embedded_dir, prepared_small):
    dst = tmp_path / "run"
    shutil.copytree(tiny_run(tmp_path_factory, embedded_dir, prepared_small), dst)
    return dst


def test_card_has_hub_metadata_and_safety_statement(run):
    path = write_model_card(run)
    assert path == run / "adapter" / "README.md" and is_generated(path)
    text = path.read_text()
    meta = parse_card_metadata(text)
    run_meta = json.loads((run / "run.json").read_text())
    assert "base_model" not in meta and run_meta["base_name"] in text  # a local folder is no Hub base_model
    assert meta["library_name"] == "peft" and meta["pipeline_tag"] == "text-generation"
    assert meta["license"] == "gemma" and "medical" in meta["tags"] and "datasets" not in meta  # embedded data
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert {"type": "loss", "name": "validation answer loss", "value": round(run_meta["val_loss"], 4)} in metrics
    assert any(m["type"] == "perplexity" for m in metrics)
    for needle in ("## Intended use", "## Limitations", "## Safety", SAFETY_STATEMENT, "not a medical device",
                   "never replaces a clinician", "local emergency number", "| steps | 2 |"):
        assert needle in text, needle
    assert text.index("---\n", 4) < text.index(GENERATED_MARK)


def test_eval_metrics_and_hub_dataset_reach_the_metadata(run):
    (run / "eval").mkdir()
    (run / "eval" / "metrics.json").write_text(json.dumps({
        "adapters": {"run": str(run)},
        "losses": {"base": {"test": {"loss": 3.0, "perplexity": 20.1, "rows": 3}},
                   "run": {"test": {"loss": 2.5, "perplexity": 12.18, "rows": 3}}}}))
    meta = parse_card_metadata(write_model_card(run, repo_id="me/medqa-lora").read_text())
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert {"type": "loss", "name": "test answer loss (medqa eval)", "value": 2.5} in metrics
    assert {"type": "perplexity", "name": "test perplexity (medqa eval)", "value": 12.18} in metrics
    assert 'PeftModel.from_pretrained(base, "me/medqa-lora")' in (run / "adapter" / "README.md").read_text()
    info = read_run(run)
    hub = info.__class__(info.run_dir, {**info.meta, "base_name": "google/gemma-2-2b-it", "quantization": "nf4"},
                         info.config.model_copy(update={"data": info.config.data.model_copy(
                             update={"source": "lavita/ChatDoctor-HealthCareMagic-100k"})}))
    meta = card_metadata(hub)
    assert meta["datasets"] == ["lavita/ChatDoctor-HealthCareMagic-100k"] and meta["license"] == "gemma"
    assert "qlora" in meta["tags"] and meta["base_model"] == "google/gemma-2-2b-it"
    assert meta["model-index"][0]["results"][0]["dataset"]["type"] == "lavita/ChatDoctor-HealthCareMagic-100k"
