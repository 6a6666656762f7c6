"""Resolve a base-model spec and load it: 'embedded', a `.gguf` file, a local transformers folder, or a Hub id.

Only safetensors weights are loaded and `trust_remote_code` stays off unless the config turns it on.
`quantization: nf4` loads the base in 4-bit NF4 with double quantisation through bitsandbytes (CPU or CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medqa.config import EMBEDDED, ModelConfig
from medqa.errors import ModelLoadError


@dataclass(frozen=True)
class ResolvedBase:
    spec: str  # what the user asked for
    path: str  # what from_pretrained receives
    gguf_file: str | None = None
    name: str = ""  # the id adapters record as their base


def resolve_base(spec: str, dtype: Any = None) -> ResolvedBase:
    """Where `spec` loads from; for the embedded model, the cache in `dtype` (a torch dtype) when it is half
    precision, so it loads without an fp32 copy."""
    if spec == EMBEDDED:
        from medqa.modeling.embedded import CACHE_DTYPES, EMBEDDED_UPSTREAM_ID, ensure_embedded

        name = str(dtype).removeprefix("torch.")
        path = ensure_embedded(dtype=name if name in CACHE_DTYPES else "float32")
        return ResolvedBase(spec, str(path), name=EMBEDDED_UPSTREAM_ID)
    p = Path(spec).expanduser()
    if p.suffix.lower() == ".gguf":
        if not p.is_file():
            raise ModelLoadError(f"GGUF file {p} does not exist: pass an existing .gguf file or 'embedded'")
        return ResolvedBase(spec, str(p.parent), gguf_file=p.name, name=p.stem)
    if p.exists():
        if not (p / "config.json").is_file():
            raise ModelLoadError(f"{p} is not a transformers model folder (no config.json): pass a folder "
                                 "written by save_pretrained, a .gguf file, a Hub id or 'embedded'")
        return ResolvedBase(spec, str(p), name=_recorded_name(p) or str(p))
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return ResolvedBase(spec, spec, name=spec)
    raise ModelLoadError(f"base model {spec!r} not found: pass 'embedded', a Hub id such as google/gemma-2-2b-it, "
                         "a local model folder or a .gguf file")


def _recorded_name(folder: Path) -> str | None:
    import json

    try:
        return json.loads((folder / "config.json").read_text()).get("_name_or_path") or None
    except (OSError, ValueError):
        return None


def resolve_dtype(name: str, quantization: str = "none") -> Any:
    """'auto' picks bf16 only where the hardware runs it fast: CUDA with bf16, or a CPU with bf16 matmul units."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


def load_tokenizer(base: ResolvedBase, cfg: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(base.path, gguf_file=base.gguf_file, revision=cfg.revision,
                                            trust_remote_code=cfg.trust_remote_code)
    except Exception as err:
        raise ModelLoadError(f"could not load the tokenizer of {base.spec!r}: {err}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def quantization_config(cfg: ModelConfig, dtype: Any) -> Any:
    if cfg.quantization != "nf4":
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype)


def load_model(base: ResolvedBase, cfg: ModelConfig) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    dtype = resolve_dtype(cfg.dtype, cfg.quantization)
    kwargs: dict[str, Any] = {"dtype": dtype, "revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
    if base.gguf_file:
        kwargs["gguf_file"] = base.gguf_file
    else:
        kwargs["use_safetensors"] = True  # never unpickle .bin weights
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    qconf = quantization_config(cfg, dtype)
    if qconf is not None:
        kwargs["quantization_config"] = qconf
        kwargs["device_map"] = {"": 0} if torch.cuda.is_available() else {"": "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(base.path, **kwargs)
    except Exception as err:
        raise ModelLoadError(f"could not load base model {base.spec!r}: {err}. Check the id or path; only "
                             "safetensors checkpoints are loaded") from None
    if base.gguf_file:
        model.is_quantized, model.hf_quantizer = False, None  # dequantised tensors, see modeling.embedded
    if qconf is None and torch.cuda.is_available():
        model.to("cuda")
    model.config._name_or_path = base.name or base.spec
    return model


def load_base(cfg: ModelConfig) -> tuple[Any, Any, ResolvedBase]:
    """Load (model, tokenizer, resolved base) for a model config."""
    base = resolve_base(cfg.base, resolve_dtype(cfg.dtype, cfg.quantization))
    tokenizer = load_tokenizer(base, cfg)
    return load_model(base, cfg), tokenizer, base


def base_fingerprint(model: Any) -> dict[str, Any]:
    """Architecture facts an adapter must agree with, whatever the base was called."""
    c = model.config
    return {k: getattr(c, k, None) for k in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size",
                                              "intermediate_size", "num_attention_heads")}
