"""Shared builders for the artifact tests: a tiny Gemma 3 that llama.cpp's gemma3 graph can describe, and runs on it.

The shared `tiny_model` has head_dim 16 and a global layer every second layer; GGUF export (rightly) refuses it,
since llama.cpp derives those from Gemma 3's rules. `tiny_gemma3` follows them: six layers with the sixth global,
head_dim 256 = query_pre_attn_scalar, and a 16-token sliding window so the probe prompts exercise both kinds of
attention. Width 32 keeps it at about 9M parameters, nearly all of them the real 262k-token embedding.

Not a conftest.py: conftest modules outside packages share the name "conftest" and would shadow tests/conftest.py
for `from conftest import ...`. Builders cache their results per session, so modules share one trained run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import tiny_cfg

_CACHE: dict[str, Path] = {}


def build_tiny_gemma3(folder: Path, embedded_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(vocab_size=262144, hidden_size=32, intermediate_size=64, num_hidden_layers=6,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=256, query_pre_attn_scalar=256,
                              max_position_embeddings=1024, sliding_window=16, bos_token_id=2, eos_token_id=1,
                              pad_token_id=0)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():  # random norms, so that a missed "+1" on export shows in the logits
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(-0.5, 0.5)
    model.config._name_or_path = "tiny-gemma3"
    model.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(embedded_dir / name, folder / name)
    return folder


def tiny_gemma3(tmp_path_factory, embedded_dir: Path) -> Path:
    if "base" not in _CACHE:
        _CACHE["base"] = build_tiny_gemma3(tmp_path_factory.mktemp("tiny-gemma3"), embedded_dir)
    return _CACHE["base"]


def train_run(base: Path, out: Path, data: Path, *extra: str) -> Path:
    from medqa.training.trainer import run_training

    run_training(tiny_cfg(base, out, "train.max_steps=2", "train.learning_rate=0.01", *extra), data, progress=False)
    return out


def tiny_run(tmp_path_factory, embedded_dir: Path, prepared: Path) -> Path:
    """A finished 2-step LoRA run on `tiny_gemma3` (a high learning rate so the adapter visibly changes logits)."""
    if "run" not in _CACHE:
        base = tiny_gemma3(tmp_path_factory, embedded_dir)
        _CACHE["run"] = train_run(base, tmp_path_factory.mktemp("runs") / "tiny", prepared)
    return _CACHE["run"]


def merged_run(tmp_path_factory, embedded_dir: Path, prepared: Path) -> Path:
    """A copy of `tiny_run` after a successful `run_merge` (tests may add files to it, never change the merge)."""
    from medqa.artifacts.merge import run_merge

    if "merged" not in _CACHE:
        run = tmp_path_factory.mktemp("merged") / "run"
        shutil.copytree(tiny_run(tmp_path_factory, embedded_dir, prepared), run)
        run_merge(run, progress=False)
        _CACHE["merged"] = run
    return _CACHE["merged"]
