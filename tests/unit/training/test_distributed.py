"""Data-parallel training: 2 processes (gloo, CPU) under `accelerate launch` equal one process with the same
global batch, and the adapter they write loads like a single-process one."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tiny_cfg

from medqa.config import ModelConfig
from medqa.modeling.adapters import load_adapters
from medqa.modeling.loading import load_base
from medqa.training.trainer import run_training

ROOT = Path(__file__).parents[3]


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_process_run_matches_single_process(tiny_model, prepared_small, tmp_path):
    common = ["train.max_steps=3", "train.batch_size=1", "lora.dropout=0.0", "train.eval_every=3"]
    run_training(tiny_cfg(tiny_model, tmp_path / "single", *common, "train.grad_accum=2"), prepared_small,
                 progress=False)
    sets = [f"--set={kv}" for kv in [f"model.base={tiny_model}", "train.save_every=100", "train.eval_rows=4",
                                     "train.max_seq_len=256", *common]]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "configs/accelerate/cpu-2proc.yaml"), "--main_process_port", "0", "-m", "medqa.cli", "train",
           "--data", str(prepared_small), "--output", str(tmp_path / "ddp"), "--quiet", *sets]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    meta = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["steps"] == 3
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(tmp_path / "single"), rel=1e-4)
    model, _, _ = load_base(ModelConfig(base=str(tiny_model)))
    peft = load_adapters(model, {"single": str(tmp_path / "single"), "ddp": str(tmp_path / "ddp")})
    assert set(peft.peft_config) == {"single", "ddp"}
