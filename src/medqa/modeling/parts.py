"""The pieces of a causal LM that medqa drives directly: its decoder, its LM head and an empty KV cache."""

from __future__ import annotations

import inspect
from typing import Any


def decoder_and_head(model: Any) -> tuple[Any, Any]:
    """(decoder, output embeddings) of a model, through a peft wrapper; decoder is None where it has no getter."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = inner.get_decoder() if hasattr(inner, "get_decoder") else None
    return decoder, inner.get_output_embeddings()


def new_cache(decoder: Any) -> dict[str, Any]:
    """An empty KV cache for the decoder (sliding-window aware via its config), under the keyword that its forward
    and generate() expect: `cache` in recent transformers, `past_key_values` before."""
    from transformers import DynamicCache

    params = inspect.signature(getattr(decoder, "forward", decoder)).parameters
    key = "cache" if "cache" in params else "past_key_values"
    return {key: DynamicCache(config=getattr(decoder, "config", None))}
