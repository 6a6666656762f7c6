"""Typed, validated configuration for every medqa stage.

One `MedqaConfig` holds the data, model, LoRA, training and generation settings. It is built from
defaults, an optional YAML file and `--set key=value` overrides, validated once (unknown keys are
rejected and every problem is reported together), and stays typed down to the stage functions.
Exercised by `medqa validate-config configs/embedded-cpu.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medqa.errors import ConfigError

EMBEDDED = "embedded"


class StrictModel(BaseModel):
    """Base for config sections: typos fail loudly instead of silently becoming defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(StrictModel):
    source: str = Field(EMBEDDED, description="'embedded', a Hub dataset id, or a local .json/.jsonl/.csv/.parquet file")
    hub_split: str = "train"
    schema_: Literal["auto", "instruction", "qa", "messages"] = Field("auto", alias="schema")
    question_field: str | None = None
    answer_field: str | None = None
    max_rows: int | None = Field(None, gt=0)
    min_question_words: int = Field(3, ge=0)
    min_answer_words: int = Field(5, ge=0)
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_salt: str = "medqa"
    max_bad_fraction: float = Field(0.5, ge=0.0, le=1.0, description="fail when more rows than this are malformed")

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @model_validator(mode="after")
    def _fractions(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be below 1 so that rows remain for training")
        return self


class ModelConfig(StrictModel):
    base: str = Field(EMBEDDED, description="'embedded', a Hub model id, a local transformers folder, or a .gguf file")
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    quantization: Literal["none", "nf4"] = "none"
    attn_implementation: Literal["sdpa", "eager"] | None = None
    trust_remote_code: bool = False


class LoraConfig(StrictModel):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    use_dora: bool = False
    use_rslora: bool = False


class TrainConfig(StrictModel):
    output_dir: Path = Path("runs/latest")
    max_seq_len: int = Field(512, ge=16)
    batch_size: int = Field(4, gt=0)
    grad_accum: int = Field(1, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(10, ge=0)
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    max_steps: int | None = Field(None, gt=0)
    epochs: float = Field(1.0, gt=0)
    optimizer: Literal["auto", "adamw", "paged_adamw_32bit", "paged_adamw_8bit"] = "auto"
    max_grad_norm: float = Field(1.0, gt=0)
    eval_every: int = Field(50, gt=0)
    eval_rows: int | None = Field(64, gt=0, description="validation rows used for the periodic loss")
    save_every: int = Field(100, gt=0)
    keep_checkpoints: int = Field(2, gt=0)
    gradient_checkpointing: bool = False
    log_every: int = Field(1, gt=0)
    seed: int = 42


class GenerationConfig(StrictModel):
    max_new_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.1, gt=0.0)
    seed: int | None = None


class PromptConfig(StrictModel):
    system_prompt: str | None = Field(
        None, description="None uses medqa's answer policy (medqa.safety.DEFAULT_SYSTEM_PROMPT); '' disables it"
    )


class MedqaConfig(StrictModel):
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    lora: LoraConfig = LoraConfig()
    train: TrainConfig = TrainConfig()
    generation: GenerationConfig = GenerationConfig()
    prompt: PromptConfig = PromptConfig()


def _parse_scalar(text: str) -> Any:
    """Read an override value with YAML rules, so `--set train.max_steps=10` gives an int."""
    return yaml.safe_load(text) if text != "" else ""


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides to a raw config dict (a new dict is returned)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    problems = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            problems.append(f"override {item!r}: write it as section.key=value, e.g. train.max_steps=20")
            continue
        section, _, field = key.strip().partition(".")
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            problems.append(f"override {item!r}: {section!r} is not a section")
            continue
        out[section][field] = _parse_scalar(value.strip())
    if problems:
        raise ConfigError("\n".join(problems))
    return out


def format_validation_error(err: ValidationError) -> str:
    lines = [f"{len(err.errors())} problem(s) in the configuration:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            fix = "unknown key: remove it or check its spelling (see `medqa validate-config --help`)"
        else:
            fix = e["msg"]
        lines.append(f"  - {key}: {fix} (got {e.get('input')!r})")
    return "\n".join(lines)


def build_config(raw: dict[str, Any] | None = None, overrides: list[str] | None = None) -> MedqaConfig:
    """Validate a raw dict (plus overrides) into a MedqaConfig, reporting every problem at once."""
    merged = apply_overrides(raw or {}, overrides or [])
    try:
        return MedqaConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> MedqaConfig:
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist: pass an existing YAML file (see configs/)")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {p} is not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {p} must hold a mapping of sections (data, model, lora, train, ...)")
    return build_config(raw, overrides)


def config_to_dict(cfg: MedqaConfig) -> dict[str, Any]:
    return cfg.model_dump(mode="json", by_alias=True)
