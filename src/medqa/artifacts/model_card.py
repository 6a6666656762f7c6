"""The model card written with every adapter: RUN_DIR/adapter/README.md, Hub metadata first.

    write_model_card(run_dir)   # at the end of `medqa train`; `medqa push` writes it when missing

The YAML header carries what the Hub indexes (base_model, library_name: peft, license, datasets, tags, and a
model-index with the run's losses and, when `medqa eval --output RUN_DIR/eval` was run, its evaluation). The body
states intended use, limitations and the safety statement: not a medical device, never a replacement for a
clinician, emergencies go to the local emergency number.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from medqa.artifacts.run_info import RunInfo, read_run
from medqa.runs import atomic_write_text

CARD_NAME = "README.md"
GENERATED_MARK = "<!-- written by medqa: delete this line to keep your edits when `medqa push` runs -->"
EVAL_METRICS = Path("eval") / "metrics.json"
_PEFT_TEMPLATE = ("# Model Card for Model ID", "[More Information Needed]")  # what peft's save_pretrained writes
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

SAFETY_STATEMENT = (
    "**This model is not a medical device** and has not been clinically validated. Its answers are general "
    "information that can be wrong, incomplete or out of date, and it **never replaces a clinician**: anyone with "
    "symptoms should see a doctor or another qualified health professional. **In an emergency** (chest pain, "
    "trouble breathing, signs of stroke, severe bleeding, thoughts of self-harm) **call your local emergency "
    "number** (for example 112, 911 or 999) or go to the nearest emergency department, rather than asking a model."
)


def write_model_card(run_dir: str | Path, eval_metrics: str | Path | None = None,
                     repo_id: str | None = None) -> Path:
    """Write RUN_DIR/adapter/README.md from run.json, config.yaml and eval metrics; returns its path."""
    info = read_run(run_dir)
    path = info.adapter_dir / CARD_NAME
    atomic_write_text(path, render_model_card(info, eval_metrics, repo_id))
    return path


def render_model_card(info: RunInfo, eval_metrics: str | Path | None = None, repo_id: str | None = None) -> str:
    """The card's text: YAML metadata between --- lines, then the body."""
    metrics = _read_eval(Path(eval_metrics) if eval_metrics else info.run_dir / EVAL_METRICS, info)
    meta = card_metadata(info, metrics)
    body = _body(info, metrics, repo_id or "path/to/adapter")
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def is_generated(path: Path) -> bool:
    """Whether a card is medqa's own or PEFT's empty template (both replaced freely), not one the user wrote."""
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    return GENERATED_MARK in text or all(s in text for s in _PEFT_TEMPLATE)


def parse_card_metadata(text: str) -> dict[str, Any]:
    """The YAML header of a model card's text (empty when it has none)."""
    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text[4:text.index("\n---", 4)]) or {}


def card_metadata(info: RunInfo, eval_losses: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """The Hub metadata block: base model, library, license, datasets, tags and model-index results."""
    base, source = info.base_name, info.config.data.source
    meta: dict[str, Any] = {"base_model": base} if _HUB_ID.match(base) else {}  # the Hub rejects local paths here
    meta.update({"library_name": "peft", "pipeline_tag": "text-generation",
                 "license": "gemma" if "gemma" in base.lower() else "other", "language": ["en"]})
    if _HUB_ID.match(source):
        meta["datasets"] = [source]
    meta["tags"] = (["medical", "medqa", "lora", "peft", "text-generation"]
                    + (["qlora"] if info.meta.get("quantization") == "nf4" else [])
                    + ([f"base_model:adapter:{base}"] if "base_model" in meta else []))
    metrics = _run_metrics(info) + _eval_metrics(eval_losses or {})
    if metrics:
        dataset = {"name": source if source != "embedded" else "medqa embedded medical QA set",
                   "type": source if _HUB_ID.match(source) else f"medqa/{Path(source).name}"}
        meta["model-index"] = [{"name": info.run_dir.name, "results": [{
            "task": {"type": "text-generation", "name": "Medical question answering"},
            "dataset": dataset, "metrics": metrics}]}]
    return meta


def _run_metrics(info: RunInfo) -> list[dict[str, Any]]:
    out = []
    for key, label in (("val_loss", "validation answer loss"), ("final_train_loss", "final training loss")):
        value = info.meta.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            out.append({"type": "loss", "name": label, "value": round(float(value), 4)})
    val = info.meta.get("val_loss")
    if isinstance(val, (int, float)) and math.isfinite(val):
        out.append({"type": "perplexity", "name": "validation perplexity", "value": round(math.exp(val), 3)})
    return out


def _eval_metrics(losses: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for split, row in losses.items():
        out.append({"type": "loss", "name": f"{split} answer loss (medqa eval)", "value": row["loss"]})
        out.append({"type": "perplexity", "name": f"{split} perplexity (medqa eval)", "value": row["perplexity"]})
    return out


def _read_eval(path: Path, info: RunInfo) -> dict[str, dict[str, float]] | None:
    """This adapter's {split: {loss, perplexity}} from a `medqa eval` metrics.json, if there is one."""
    if not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    losses, adapters = metrics.get("losses") or {}, metrics.get("adapters") or {}
    mine = [name for name, spec in adapters.items() if Path(spec).expanduser().resolve() == info.run_dir.resolve()]
    name = mine[0] if mine else (next(iter(adapters)) if len(adapters) == 1 else None)
    rows = losses.get(name) if name else None
    return {s: r for s, r in rows.items() if {"loss", "perplexity"} <= set(r)} if rows else None


def _body(info: RunInfo, eval_losses: dict[str, dict[str, float]] | None, repo_id: str) -> str:
    cfg, run = info.config, info.meta
    source = cfg.data.source if cfg.data.source != "embedded" else "medqa's embedded medical QA set"
    lines = [
        GENERATED_MARK, "", f"# {info.run_dir.name}", "",
        f"A LoRA adapter for [{info.base_name}](https://huggingface.co/{info.base_name}), fine-tuned with medqa "
        "to answer patients' health questions cautiously.", "",
        "## Intended use", "",
        "Research, teaching and prototyping of careful medical question answering: general health information "
        "in plain English, with urgent-care advice first when a message describes warning signs. Use it with "
        "medqa's safety layer (red-flag triage and answer policy), which runs on every request in `medqa ask` "
        "and `medqa chat`.", "",
        "## Limitations", "",
        f"- Trained for {run.get('steps')} steps on {source}; a small model that can state wrong facts fluently.",
        "- English only; no images, lab results or patient records; no knowledge of the user's history.",
        "- Doses and thresholds in answers are examples that change with guidance and with the patient.",
        "- Losses below measure agreement with reference answers, not clinical correctness.", "",
        "## Safety", "", SAFETY_STATEMENT, "",
        "## Training", "", "| setting | value |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in _training_rows(info).items()], "",
    ]
    if eval_losses:
        lines += ["## Evaluation (`medqa eval`)", "", "| split | answer loss | perplexity |", "|---|---|---|",
                  *[f"| {s} | {r['loss']} | {r['perplexity']} |" for s, r in eval_losses.items()], ""]
    lines += ["## How to use", "", "```bash", f"medqa ask \"I have had a dry cough for two weeks\" --adapter "
              f"{repo_id} --base {cfg.model.base}", "```", "", "```python",
              "from peft import PeftModel", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
              f"base = AutoModelForCausalLM.from_pretrained(\"{info.base_name}\")",
              f"model = PeftModel.from_pretrained(base, \"{repo_id}\")",
              f"tokenizer = AutoTokenizer.from_pretrained(\"{repo_id}\")  # carries the chat template", "```", ""]
    return "\n".join(lines)


def _training_rows(info: RunInfo) -> dict[str, Any]:
    cfg, run = info.config, info.meta
    return {"base model": info.base_name, "quantisation": run.get("quantization", cfg.model.quantization),
            "LoRA": f"r={cfg.lora.r}, alpha={cfg.lora.alpha}, dropout={cfg.lora.dropout}, "
                    f"targets={cfg.lora.target_modules}", "learning rate": cfg.train.learning_rate,
            "batch × accumulation": f"{cfg.train.batch_size} × {cfg.train.grad_accum}",
            "max sequence length": cfg.train.max_seq_len, "steps": run.get("steps"),
            "final training loss": _fmt(run.get("final_train_loss")), "validation loss": _fmt(run.get("val_loss")),
            "seed": cfg.train.seed}


def _fmt(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value
