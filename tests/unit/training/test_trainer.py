import json

import pytest
from conftest import tiny_cfg

from medqa.errors import TrainingError
from medqa.training.checkpoints import list_checkpoints
from medqa.training.trainer import run_training


def _losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_training_writes_artifacts_and_is_reproducible(tiny_model, prepared_small, tmp_path):
    a = run_training(tiny_cfg(tiny_model, tmp_path / "a"), prepared_small, progress=False)
    b = run_training(tiny_cfg(tiny_model, tmp_path / "b"), prepared_small, progress=False)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert a.val_loss == b.val_loss and a.val_loss is not None
    for name in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json", "adapter/tokenizer.json",
                 "run.json", "config.yaml", "provenance.json", "metrics.jsonl", "loss.png"):
        assert (tmp_path / "a" / name).is_file(), name
    meta = json.loads((tmp_path / "a" / "run.json").read_text())
    assert meta["base_fingerprint"]["hidden_size"] == 32 and meta["steps"] == 3


def test_finished_run_is_not_overwritten_silently(tiny_model, prepared_small, tmp_path):
    cfg = tiny_cfg(tiny_model, tmp_path / "r", "train.max_steps=1")
    run_training(cfg, prepared_small, progress=False)
    with pytest.raises(TrainingError, match="--overwrite"):
        run_training(cfg, prepared_small, progress=False)


def test_preflight_stops_when_no_answer_token_fits(tiny_model, prepared_small, tmp_path):
    cfg = tiny_cfg(tiny_model, tmp_path / "p", "train.max_seq_len=16")
    with pytest.raises(TrainingError, match="no trained answer token"):
        run_training(cfg, prepared_small, progress=False)


def test_resume_matches_uninterrupted_run(tiny_model, prepared_small, tmp_path):
    full = tiny_cfg(tiny_model, tmp_path / "full", "train.max_steps=4", "lora.dropout=0.1")
    run_training(full, prepared_small, progress=False)
    part = tiny_cfg(tiny_model, tmp_path / "part", "train.max_steps=4", "lora.dropout=0.1")
    # Simulate a crash after step 2: train, then drop everything after the step-2 checkpoint.
    run_training(part, prepared_small, progress=False)
    for ckpt in list_checkpoints(tmp_path / "part"):
        if ckpt.name != "step-2":
            import shutil

            shutil.rmtree(ckpt)
    (tmp_path / "part" / "run.json").unlink()
    run_training(part, prepared_small, resume=True, progress=False)
    assert _losses(tmp_path / "part") == _losses(tmp_path / "full")


def test_early_stopping_keeps_the_best_adapter(tiny_model, prepared_small, tmp_path):
    # With dropout's noise, a learning rate this large makes the tiny model's validation loss stop improving after
    # the first evaluations (without dropout it keeps creeping down for 8 steps).
    cfg = tiny_cfg(tiny_model, tmp_path / "es", "train.max_steps=8", "train.eval_every=1", "train.learning_rate=0.5",
                   "lora.dropout=0.05", "train.warmup_steps=0", "train.early_stopping_patience=2",
                   "train.scheduler=constant")
    res = run_training(cfg, prepared_small, progress=False)
    meta = json.loads((tmp_path / "es" / "run.json").read_text())
    assert res.stopped_early and meta["stopped_early"]
    assert len(_losses(tmp_path / "es")) < 8  # before max_steps
    assert (tmp_path / "es" / "best_adapter" / "adapter_model.safetensors").is_file()
    vals = [json.loads(line) for line in (tmp_path / "es" / "metrics.jsonl").read_text().splitlines()]
    best = [r for r in vals if r.get("best")]
    assert best and best[-1]["val_loss"] == min(r["val_loss"] for r in vals)
    assert res.best_step == meta["best_step"] == best[-1]["step"] < vals[-1]["step"]
    assert res.steps == meta["steps"] == vals[-1]["step"] < 8  # the steps trained, not the steps planned
    assert list((tmp_path / "es" / "tensorboard").glob("events.out.tfevents.*"))


def test_unfinished_run_needs_resume_or_overwrite(tiny_model, prepared_small, tmp_path):
    cfg = tiny_cfg(tiny_model, tmp_path / "u")
    run_training(cfg, prepared_small, progress=False)
    (tmp_path / "u" / "run.json").unlink()  # as if killed after its last checkpoint
    with pytest.raises(TrainingError, match="--resume"):
        run_training(cfg, prepared_small, progress=False)


def test_validation_logs_a_safety_probe_when_asked(tiny_model, prepared_small, tmp_path):
    import json

    cfg = tiny_cfg(tiny_model, tmp_path / "run", "train.max_steps=2", "train.probe_questions=2",
                   "generation.max_new_tokens=4")
    run_training(cfg, prepared_small, progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    validated = [r for r in records if "val_loss" in r]
    assert validated and all("probe/seconds" in r and "probe/escalation_rate" in r for r in validated)
    assert all(not any(k.startswith("probe/") for k in r) for r in records if "val_loss" not in r)
