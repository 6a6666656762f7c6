from pathlib import Path

import pytest

from medqa.config import build_config, load_config
from medqa.errors import ConfigError

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    cfg = load_config(path)
    assert cfg.lora.r == 16 and cfg.train.max_seq_len == 512


def test_reference_recipe_values():
    cfg = load_config(Path(__file__).parents[2] / "configs" / "gemma2-2b-it-qlora.yaml")
    assert (cfg.model.base, cfg.model.quantization, cfg.train.optimizer) == ("google/gemma-2-2b-it", "nf4",
                                                                             "paged_adamw_32bit")
    assert (cfg.train.batch_size, cfg.train.grad_accum, cfg.train.warmup_steps, cfg.train.seed) == (1, 2, 10, 42)


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as err:
        build_config({"train": {"batch_size": 0, "typo": 1}, "lora": {"r": 0}})
    text = str(err.value)
    assert "3 problem(s)" in text and "train.typo" in text and "lora.r" in text and "train.batch_size" in text


def test_overrides_are_typed():
    cfg = build_config({}, ["train.max_steps=7", "lora.target_modules=[q_proj, v_proj]"])
    assert cfg.train.max_steps == 7 and cfg.lora.target_modules == ["q_proj", "v_proj"]
    with pytest.raises(ConfigError, match="section.key=value"):
        build_config({}, ["max_steps=7"])
