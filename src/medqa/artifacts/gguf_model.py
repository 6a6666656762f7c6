"""The model part of an exported GGUF: Gemma 3 text hyperparameters and tensors under llama.cpp's names.

Follows llama.cpp's convert_hf_to_gguf.py (Gemma3Model): arch "gemma3"; tensor names from gguf's own
TensorNameMap; RMSNorm weights stored as 1 + w (Gemma's norm multiplies by 1 + w, llama.cpp's by w); the tied
output head left out; embedding rows beyond the vocabulary dropped; norms and other 1-D tensors kept in F32.
llama.cpp derives some Gemma 3 settings instead of reading them (every sixth layer global, local RoPE base 10000,
query scale 1/sqrt(head_dim)), so a model that differs is refused rather than silently exported wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MODEL_TYPE = "gemma3_text"
GLOBAL_EVERY = 6  # llama.cpp: LLAMA_SWA_TYPE_STANDARD with pattern 6 for gemma3
LOCAL_ROPE_BASE = 10_000.0
QUANTS = ("f16", "q8_0")


def rope_settings(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(global layers, local layers) RoPE parameters, from either transformers config layout."""
    params = getattr(config, "rope_parameters", None) or {}
    if "full_attention" in params or "sliding_attention" in params:
        full, local = dict(params.get("full_attention") or {}), dict(params.get("sliding_attention") or {})
    else:
        full, local = dict(params), {}
    full.setdefault("rope_theta", getattr(config, "rope_theta", 1_000_000.0))
    full.setdefault("rope_type", "default")
    local.setdefault("rope_theta", getattr(config, "rope_local_base_freq", LOCAL_ROPE_BASE))
    return full, local


def unsupported(config: Any) -> list[str]:
    """Every reason llama.cpp's gemma3 graph would compute something other than this model."""
    model_type = getattr(config, "model_type", None)
    if model_type != MODEL_TYPE:
        return [f"the model type is {model_type!r}; GGUF export writes Gemma 3 text models ({MODEL_TYPE}). Convert "
                "the merged folder with llama.cpp's convert_hf_to_gguf.py instead"]
    n, problems = config.num_hidden_layers, []
    expected = ["full_attention" if (i + 1) % GLOBAL_EVERY == 0 else "sliding_attention" for i in range(n)]
    if list(getattr(config, "layer_types", expected) or expected) != expected:
        problems.append(f"layer_types is not 'every {GLOBAL_EVERY}th layer global', which llama.cpp assumes")
    full, local = rope_settings(config)
    if float(local["rope_theta"]) != LOCAL_ROPE_BASE:
        problems.append(f"local RoPE base is {local['rope_theta']}; llama.cpp fixes it at {LOCAL_ROPE_BASE:g}")
    if full["rope_type"] not in ("default", "linear"):
        problems.append(f"RoPE scaling {full['rope_type']!r} is not written by this exporter (only linear)")
    scalar, head_dim = getattr(config, "query_pre_attn_scalar", None), config.head_dim
    if scalar != head_dim and not (n == 62 and scalar == config.hidden_size // config.num_attention_heads):
        problems.append(f"query_pre_attn_scalar {scalar} differs from head_dim {head_dim}; llama.cpp scales queries "
                        "by 1/sqrt(head_dim)")
    if getattr(config, "attn_logit_softcapping", None) is not None:
        problems.append("attention logit soft-capping is set; Gemma 3 in llama.cpp has none")
    if getattr(config, "hidden_activation", "gelu_pytorch_tanh") != "gelu_pytorch_tanh":
        problems.append(f"activation {config.hidden_activation!r}; llama.cpp's gemma3 uses tanh-approximated GELU")
    if getattr(config, "use_bidirectional_attention", False):
        problems.append("bidirectional attention (an embedding model) is not a causal LM")
    return problems


def add_hparams(writer: Any, config: Any, quant: str) -> None:
    import gguf

    full, _ = rope_settings(config)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    writer.add_rope_freq_base(float(full["rope_theta"]))  # global layers; local layers use LOCAL_ROPE_BASE
    writer.add_sliding_window(config.sliding_window)
    if full["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(full["factor"]))
    if getattr(config, "final_logit_softcapping", None):
        writer.add_final_logit_softcapping(config.final_logit_softcapping)
    ftype = gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
    writer.add_file_type(int(ftype))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def add_tensors(writer: Any, model: Any, n_vocab: int, quant: str) -> dict[str, int]:
    """Write every tensor; returns how many tensors went out in each GGML type."""
    import gguf

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, model.config.num_hidden_layers)
    tied = bool(getattr(model.config, "tie_word_embeddings", True))
    counts: dict[str, int] = {}
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and tied:
            continue
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"no GGUF name for tensor {hf_name}")  # an internal invariant: unsupported() passed
        data = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("embed_tokens.weight"):
            data = data[:n_vocab]
        if hf_name.endswith("norm.weight"):
            data = data + 1.0
        qtype = _tensor_type(gguf_name, data, quant)
        writer.add_tensor(gguf_name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        counts[qtype.name] = counts.get(qtype.name, 0) + 1
    return counts


def _tensor_type(name: str, data: np.ndarray, quant: str) -> Any:
    from gguf import GGMLQuantizationType as Q

    if data.ndim <= 1 or name.endswith("_norm.weight"):
        return Q.F32
    if quant == "q8_0" and data.shape[-1] % 32 == 0:  # Q8_0 packs rows in blocks of 32
        return Q.Q8_0
    return Q.F16
