"""`medqa merge RUN_DIR`: fold the LoRA adapter into its base and save a plain transformers checkpoint.

    medqa merge runs/demo [--output DIR] [--tolerance 1e-4] [--dtype float32]

run_merge(): read the run → load the base unquantised, in float64 (a 4-bit NF4 base is loaded full-precision
instead) → attach the adapter → logits of base + adapter on the probe prompts (and of the base alone, to record
the adapter's effect) → merge_and_unload → logits of the merged model → compare (max abs diff within the
tolerance, else fail and save nothing) → save safetensors + tokenizer (with its chat template) atomically →
merge_report.json in the merged folder and in the run folder. Merging and comparing in float64 keeps rounding far
below the tolerance (in float32 it alone reaches ~1e-4 on Gemma 3 270M's logits), so a failure means a wrong
merge, not noise; the weights are saved in --dtype afterwards. `precision="float32"` halves the memory for large
models.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from medqa.artifacts import ArtifactError
from medqa.artifacts.probes import compare_logits, probe_ids, probe_logits
from medqa.artifacts.run_info import MERGE_REPORT, MERGED_SUBDIR, RunInfo, merged_ready, read_run, run_system_prompt
from medqa.config import ModelConfig
from medqa.runs import provenance, write_json

DEFAULT_TOLERANCE = 1e-4
SAVE_DTYPES = ("float32", "bfloat16", "float16")
PRECISIONS = ("float64", "float32")
NF4_MESSAGE = ("run.json says this adapter was trained on a 4-bit NF4 base. A 4-bit base cannot hold merged weights "
               "without rounding them back to 4 bits, so medqa loads the base unquantised and merges there; "
               "the merged model is the full-precision base plus the adapter")


def run_merge(run_dir: str | Path, output: str | Path | None = None, tolerance: float = DEFAULT_TOLERANCE,
              dtype: str = "float32", precision: str = "float64", progress: bool = True) -> dict[str, Any]:
    """Merge, verify and save; returns the report (also written as merge_report.json)."""
    info = read_run(run_dir)
    out = Path(output).expanduser() if output else info.run_dir / MERGED_SUBDIR
    _check_request(out, tolerance, dtype, precision)
    t0 = time.perf_counter()
    model, tokenizer, base_spec = _load_with_adapter(info, precision, progress)
    prompts = probe_ids(tokenizer, run_system_prompt(info))
    reference = list(probe_logits(model, prompts))
    with model.disable_adapter():  # how far the adapter moves the base: a merge check is only as strong as this
        effect = compare_logits(reference, probe_logits(model, prompts))
    merged = model.merge_and_unload()
    result = compare_logits(reference, probe_logits(merged, prompts))
    diff = result["max_abs_logit_diff"]
    report = _report(info, base_spec, out, result, tolerance, dtype, time.perf_counter() - t0)
    report.update(precision=precision, compared=f"merged model vs base + adapter, both computed in {precision}: "
                  "logits (rounded to float32) at every position of each probe prompt")
    report["adapter_effect"] = {"max_abs_logit_change": effect["max_abs_logit_diff"],
                                "next_token_changed": 1 - effect["all_positions_agreement"]}
    if diff > tolerance:
        write_json(info.run_dir / MERGE_REPORT, report)
        raise ArtifactError(f"merged logits differ from base + adapter by {diff:.3g}, above the tolerance "
                            f"{tolerance:g}; nothing was saved (numbers in {info.run_dir / MERGE_REPORT}). A DoRA or "
                            "unusual adapter may not merge exactly: check peft's version, or pass a looser --tolerance")
    _save(merged, tokenizer, out, dtype, report)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_json(out / MERGE_REPORT, report)  # last: marks the folder complete
    write_json(info.run_dir / MERGE_REPORT, report)
    return report


def _check_request(out: Path, tolerance: float, dtype: str, precision: str) -> None:
    problems = [] if precision in PRECISIONS else [f"precision {precision!r}: use one of {', '.join(PRECISIONS)}"]
    if not tolerance > 0:
        problems.append(f"--tolerance must be positive (got {tolerance})")
    if dtype not in SAVE_DTYPES:
        problems.append(f"--dtype {dtype!r}: use one of {', '.join(SAVE_DTYPES)}")
    if out.exists() and not (out.is_dir() and (merged_ready(out) or not any(out.iterdir()))):
        problems.append(f"{out} exists and is not a previous `medqa merge` output; choose another --output")
    if problems:
        raise ArtifactError("cannot merge:\n  - " + "\n  - ".join(problems))


def unquantised_model_config(info: RunInfo, progress: bool = True) -> ModelConfig:
    """The run's base in float32 without quantisation, the precision merge and its verification need."""
    if info.meta.get("quantization", info.config.model.quantization) == "nf4" and progress:
        print(f"medqa merge: {NF4_MESSAGE}", flush=True)
    return info.config.model.model_copy(update={"quantization": "none", "dtype": "float32"})


def _load_with_adapter(info: RunInfo, precision: str, progress: bool) -> tuple[Any, Any, str]:
    import torch
    from transformers import AutoTokenizer

    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_model, resolve_base

    base = resolve_base(info.config.model.base)
    model = load_model(base, unquantised_model_config(info, progress)).to(getattr(torch, precision))
    # The adapter folder's tokenizer carries the chat template the adapter was trained with.
    tokenizer = AutoTokenizer.from_pretrained(str(info.adapter_dir))
    model = load_adapters(model, {"adapter": str(info.run_dir)}, info.config.model.allow_pickle)
    model.eval()
    return model, tokenizer, base.spec


def _report(info: RunInfo, base_spec: str, out: Path, result: dict[str, Any], tolerance: float, dtype: str,
            seconds: float) -> dict[str, Any]:
    quantization = info.meta.get("quantization", info.config.model.quantization)
    return {
        "passed": result["max_abs_logit_diff"] <= tolerance, "max_abs_logit_diff": result["max_abs_logit_diff"],
        "tolerance": tolerance,
        "probe_prompts": result["prompts"], "probe_tokens": result["positions"],
        "next_token_agreement": result["all_positions_agreement"],
        "base": base_spec, "base_name": info.base_name, "trained_quantization": quantization,
        "dequantised": quantization == "nf4", "saved_dtype": dtype, "output": str(out),
        "run_dir": str(info.run_dir), "steps": info.meta.get("steps"), "seconds": round(seconds, 2), **provenance(),
    }


def _save(merged: Any, tokenizer: Any, out: Path, dtype: str, report: dict[str, Any]) -> None:
    import torch

    from medqa.data.formatting import GEMMA_CHAT_TEMPLATE

    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    merged = merged.to(getattr(torch, dtype))
    merged.config._name_or_path = report["base_name"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        for f in tmp.iterdir():
            f.chmod(0o644)  # shareable like any checkpoint, whatever mode the writers chose
        publish_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_dir(tmp: Path, target: Path) -> None:
    """Put a completed folder in place of `target`; a reader sees the old folder or the new one, never half."""
    tmp.chmod(0o755)
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
