"""`medqa export RUN_DIR --format gguf`: a GGUF file for llama.cpp and Ollama, with a Modelfile beside it.

    medqa export runs/demo --format gguf --quant q8_0        # runs/demo/export-q8_0/{model.gguf,Modelfile,...}

run_export(): the merged model (RUN_DIR/merged, merged first if missing) → refuse what llama.cpp's gemma3 cannot
run → GGUF (hyperparameters, tensors, Gemma 3 vocabulary, chat template) written with the `gguf` package to a
temporary file and renamed into place → Ollama Modelfile → verify: load the GGUF back with transformers and
compare next-token predictions with the merged model on the probe prompts, and the GGUF's tokenizer with the
merged one → export_report.json.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from medqa.artifacts import ArtifactError
from medqa.artifacts.run_info import MERGED_SUBDIR, RunInfo, merged_ready, read_run, run_system_prompt
from medqa.runs import atomic_write_text, provenance, write_json

FORMATS = ("gguf",)
EXPORT_REPORT = "export_report.json"
# All-positions next-token agreement below which an export fails: F16 only rounds weights; Q8_0 may flip near-ties.
MIN_AGREEMENT = {"f16": 0.98, "q8_0": 0.85}


def run_export(run_dir: str | Path, fmt: str = "gguf", quant: str = "f16", output: str | Path | None = None,
               verify: bool = True, progress: bool = True) -> dict[str, Any]:
    """Write, then verify, a GGUF of the run's merged model; returns the report (also export_report.json)."""
    from medqa.artifacts.gguf_model import QUANTS

    _check_request(fmt, quant, QUANTS)
    info = read_run(run_dir)
    target = Path(output).expanduser() if output else info.run_dir / f"export-{quant}" / "model.gguf"
    if target.suffix.lower() != ".gguf":
        raise ArtifactError(f"--output {target} must be a .gguf file path")
    merged_dir = _ensure_merged(info, progress)
    t0 = time.perf_counter()
    model, tokenizer = _load_merged(merged_dir)
    tensor_types = write_gguf(model, tokenizer, target, quant, name=f"medqa {info.run_dir.name}")
    write_seconds = time.perf_counter() - t0
    atomic_write_text(target.parent / "Modelfile", _modelfile(info, target.name))
    report = {"format": fmt, "quant": quant, "file": str(target), "bytes": target.stat().st_size,
              "tensor_types": tensor_types, "merged_from": str(merged_dir), "write_seconds": round(write_seconds, 2),
              "modelfile": str(target.parent / "Modelfile"), **provenance()}
    if verify:
        report.update(verify_gguf(target, model, tokenizer, info, quant))
    write_json(target.parent / EXPORT_REPORT, report)
    if verify and not report["passed"]:
        raise ArtifactError(f"the GGUF's next-token predictions agree with the merged model on only "
                            f"{report['all_positions_agreement']:.1%} of probe positions (need "
                            f"{MIN_AGREEMENT[quant]:.0%}) or its tokenizer or chat template differs; see "
                            f"{target.parent / EXPORT_REPORT}")
    return report


def _check_request(fmt: str, quant: str, quants: tuple[str, ...]) -> None:
    problems = []
    if fmt not in FORMATS:
        problems.append(f"unknown --format {fmt!r}: use {', '.join(FORMATS)}")
    if quant not in quants:
        problems.append(f"unknown --quant {quant!r}: use {', '.join(quants)}")
    if problems:
        raise ArtifactError("cannot export:\n  - " + "\n  - ".join(problems))


def _ensure_merged(info: RunInfo, progress: bool) -> Path:
    merged_dir = info.run_dir / MERGED_SUBDIR
    if not merged_ready(merged_dir):
        from medqa.artifacts.merge import run_merge

        if progress:
            print(f"medqa export: no verified merge in {merged_dir}; merging first", flush=True)
        run_merge(info.run_dir, progress=progress)
    return merged_dir


def _load_merged(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, use_safetensors=True)
    return model.eval(), AutoTokenizer.from_pretrained(str(folder))


def write_gguf(model: Any, tokenizer: Any, target: Path, quant: str, name: str = "medqa") -> dict[str, int]:
    """Write the GGUF atomically (temporary file, then rename); returns tensor counts by GGML type."""
    import gguf

    from medqa.artifacts.gguf_model import add_hparams, add_tensors, unsupported
    from medqa.artifacts.gguf_vocab import add_vocab, check_tokenizer, load_reference_vocab
    from medqa.data.formatting import GEMMA_CHAT_TEMPLATE

    problems = unsupported(model.config)
    if problems:
        raise ArtifactError("cannot export this model to GGUF:\n  - " + "\n  - ".join(problems))
    ref = load_reference_vocab()
    check_tokenizer(tokenizer, ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.GEMMA3])
        writer.add_type("model")
        writer.add_name(name)
        writer.add_license("gemma")  # every Gemma 3 model is under the Gemma terms of use
        writer.add_tags(["medical", "medqa", "gemma3", "lora-merged"])
        add_hparams(writer, model.config, quant)
        add_vocab(writer, ref, tokenizer, _template(tokenizer, GEMMA_CHAT_TEMPLATE))
        counts = add_tensors(writer, model, len(ref.tokens), quant)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return counts


def _template(tokenizer: Any, default: str) -> str:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    return template or default


def _modelfile(info: RunInfo, gguf_name: str) -> str:
    from medqa.artifacts.modelfile import render_modelfile
    from medqa.safety import DEFAULT_SYSTEM_PROMPT

    return render_modelfile(gguf_name, DEFAULT_SYSTEM_PROMPT, info.config.generation)


def verify_gguf(path: Path, merged: Any, tokenizer: Any, info: RunInfo, quant: str) -> dict[str, Any]:
    """Load the GGUF with transformers; compare its next-token predictions and tokenizer with the merged model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medqa.artifacts.probes import compare_logits, probe_ids, probe_logits

    t0 = time.perf_counter()
    loaded = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()
    gguf_tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    load_seconds = time.perf_counter() - t0
    prompts = probe_ids(tokenizer, run_system_prompt(info))
    result = compare_logits(list(probe_logits(merged, prompts)), probe_logits(loaded, prompts))
    same_ids = probe_ids(gguf_tok, run_system_prompt(info)) == prompts
    same_template = gguf_tok.chat_template == _template(tokenizer, "")
    passed = result["all_positions_agreement"] >= MIN_AGREEMENT[quant] and same_ids and same_template
    return {"passed": passed, **result, "min_agreement": MIN_AGREEMENT[quant], "tokenizer_ids_match": same_ids,
            "chat_template_match": same_template, "load_back_seconds": round(load_seconds, 2),
            "verify_seconds": round(time.perf_counter() - t0, 2)}
