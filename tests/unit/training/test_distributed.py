"""Data-parallel training: 2 processes (gloo, CPU) under `accelerate launch`, as DDP or as FSDP (sharded base),
equal one process with the same global batch; the adapter they write loads like a single-process one, and a
sharded run resumes from its checkpoint to the same result."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from conftest import tiny_cfg

from medqa.config import ModelConfig
from medqa.modeling.adapters import load_adapters
from medqa.modeling.loading import load_base
from medqa.training.sharding import resolve_strategy
from medqa.training.trainer import run_training

ROOT = Path(__file__).parents[3]


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


COMMON = ["train.max_steps=3", "train.batch_size=1", "lora.dropout=0.0", "train.eval_every=3"]


@pytest.fixture(scope="module")
def single_run(tiny_model, prepared_small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "run"
    run_training(tiny_cfg(tiny_model, out, *COMMON, "train.grad_accum=2"), prepared_small, progress=False)
    return out


def _launch(config: str, tiny_model: Path, data: Path, out: Path, *extra: str) -> None:
    sets = [f"--set={kv}" for kv in [f"model.base={tiny_model}", "train.save_every=2", "train.eval_rows=4",
                                     "train.max_seq_len=256", *COMMON]]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ROOT / "configs/accelerate" / config),
           "--num_processes", "2", "--main_process_port", "0", "-m", "medqa.cli", "train",
           "--data", str(data), "--output", str(out), "--quiet", *sets, *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.parametrize(("config", "strategy"), [("cpu-2proc.yaml", "ddp"), ("fsdp-gpus.yaml", "fsdp")])
def test_two_process_run_matches_single_process(config, strategy, single_run, tiny_model, prepared_small, tmp_path):
    _launch(config, tiny_model, prepared_small, tmp_path / strategy)
    meta = json.loads((tmp_path / strategy / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["steps"] == 3 and meta["distributed"] == strategy
    assert _losses(tmp_path / strategy) == pytest.approx(_losses(single_run), rel=1e-4)
    model, _, _ = load_base(ModelConfig(base=str(tiny_model)))
    peft = load_adapters(model, {"single": str(single_run), strategy: str(tmp_path / strategy)})
    assert set(peft.peft_config) == {"single", strategy}
    one, two = (load_file(str(run / "adapter" / "adapter_model.safetensors")) for run in (single_run, tmp_path / strategy))
    assert one.keys() == two.keys()
    assert all(torch.allclose(one[k], two[k], atol=1e-5) for k in one)  # full, unsharded tensors either way
    if strategy == "fsdp":  # resume the sharded run from its step-2 checkpoint: same history, same adapter
        shutil.copytree(tmp_path / strategy / "adapter", tmp_path / "first-adapter")
        first_losses = _losses(tmp_path / strategy)
        _launch(config, tiny_model, prepared_small, tmp_path / strategy, "--resume")
        assert _losses(tmp_path / strategy) == first_losses
        again = load_file(str(tmp_path / strategy / "adapter" / "adapter_model.safetensors"))
        first = load_file(str(tmp_path / "first-adapter" / "adapter_model.safetensors"))
        assert all(torch.equal(again[k], first[k]) for k in first)


def test_strategy_follows_the_accelerate_config():
    assert resolve_strategy("auto", 1, {"ACCELERATE_USE_FSDP": "true"}) == "ddp"  # one process: nothing to shard
    assert resolve_strategy("auto", 2, {"ACCELERATE_USE_FSDP": "true"}) == "fsdp"
    assert resolve_strategy("auto", 2, {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}) == "fsdp"
    assert resolve_strategy("auto", 2, {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}) == "ddp"
    assert resolve_strategy("auto", 2, {}) == "ddp"
    assert resolve_strategy("fsdp", 2, {}) == "fsdp"
