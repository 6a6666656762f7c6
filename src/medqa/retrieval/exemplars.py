"""The default semantic triage signal: the shipped exemplar bank searched with all-MiniLM-L6-v2.

    medqa triage "my grandad is cold and mumbling after a night on the kitchen floor" --json

``medqa.safety`` stays free of torch; this module is what the assistant, the server and the CLI pass in.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from medqa.retrieval.dense import DenseIndex
from medqa.retrieval.encoder import load_encoder
from medqa.safety.semantic import MARGIN, MIN_SCORE, SemanticSignal, load_exemplars


@lru_cache(maxsize=4)
def load_semantic_signal(min_score: float = MIN_SCORE, margin: float = MARGIN) -> SemanticSignal:
    """One signal per process and setting: the bank's vectors come from the on-disk cache after the first build."""
    bank = load_exemplars()
    index = DenseIndex.build(load_encoder(), [e.text for e in bank])
    return SemanticSignal(index.scores, bank, min_score, margin)


def semantic_signal(safety: Any) -> SemanticSignal | None:
    """The signal a `SafetyConfig` asks for, or None for rules alone."""
    if not safety.semantic:
        return None
    return load_semantic_signal(safety.semantic_min_score, safety.semantic_margin)
