"""Shared fixtures: the real Gemma tokenizer (from the embedded cache) and tiny random Gemma-architecture models.

The embedded cache is built once per machine under MEDQA_HOME (the first run takes about two minutes).
Tiny models keep the real 262k vocabulary and tokenizer but have 2 layers of width 32, so training and
generation tests run in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# Property and fuzz tests draw the same cases on every run, so a green suite stays green; set
# HYPOTHESIS_PROFILE=explore to draw fresh random cases (and ten times as many) when hunting for bugs.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

HCM_ROWS = [  # HealthCareMagic-style noise, written for these tests
    {"instruction": "If you are a doctor, please answer the medical questions based on the patient's description.",
     "input": "Hi doctor, I have had a dry cough for two weeks and some chest tightness at night. What could it be?",
     "output": "Hi, Welcome to Chat Doctor. I have gone through your query. A lingering dry cough after a cold is "
               "common, but night-time tightness can point to asthma. See your doctor for a lung check. "
               "Visit www.example-health.com for more. Regards, Chat Doctor."},
    {"instruction": "If you are a doctor, please answer the medical questions based on the patient's description.",
     "input": "My 3 year old has a rash on her tummy after a fever, she is playing normally. Should I worry?",
     "output": "Thanks for asking on Chat Doctor. A rash that appears as a fever settles is often viral and harmless "
               "in a child who is playing well. Press a glass on it; if it does not fade, seek urgent care. "
               "Write to me at doc.helper@example.com if you need more."},
]


def _gemma_tiny_config(hidden: int = 32):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(vocab_size=262144, hidden_size=hidden, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
                            sliding_window=64, layer_types=["sliding_attention", "full_attention"],
                            bos_token_id=2, eos_token_id=1, pad_token_id=0)


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    from medqa.modeling.embedded import ensure_embedded

    return ensure_embedded()


@pytest.fixture(scope="session")
def tokenizer(embedded_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_dir))


def build_tiny_model(folder: Path, embedded_dir: Path, hidden: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_gemma_tiny_config(hidden))
    model.config._name_or_path = f"tiny-gemma-{hidden}"
    model.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(embedded_dir / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, embedded_dir) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma"), embedded_dir)


@pytest.fixture(scope="session")
def tiny_model_other(tmp_path_factory, embedded_dir) -> Path:
    """A second tiny base of another width: adapters of one must be refused by the other."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma-48"), embedded_dir, hidden=48)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def prepared_small(tmp_path_factory, tokenizer) -> Path:
    """The embedded set, first 60 rows, prepared with a split that leaves rows in every part."""
    from medqa.config import build_config
    from medqa.data.prepare import run_prepare

    out = tmp_path_factory.mktemp("prepared") / "small"
    cfg = build_config({}, ["data.max_rows=60", "data.val_fraction=0.2", "data.test_fraction=0.2"])
    run_prepare(cfg, out, tokenizer=tokenizer)
    return out


def nonzero_lora_b(model, std: float) -> None:
    """peft starts LoRA B at zero; random values make every LoRA matrix get a gradient and change the answers."""
    import torch

    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=std)


def fever_batch(tok) -> dict:
    """Three short Q/A rows of different lengths, encoded and collated (padding included)."""
    from medqa.data.formatting import encode_example
    from medqa.data.schema import Example
    from medqa.modeling.loss import collate

    rows = [encode_example(tok, Example(question=f"Is {i} a fever?", answer="Rest and drink. " * (i + 2)), None, 256)
            for i in range(3)]
    return collate(rows, tok.pad_token_id)


def tiny_cfg(tiny_model: Path, out: Path, *extra: str):
    from medqa.config import build_config

    return build_config({}, [f"model.base={tiny_model}", f"train.output_dir={out}", "train.max_steps=3",
                             "train.batch_size=2", "train.eval_every=2", "train.save_every=2", "train.eval_rows=4",
                             "train.max_seq_len=256", *extra])
