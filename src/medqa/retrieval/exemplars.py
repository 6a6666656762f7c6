"""The default semantic triage signal: the shipped exemplar bank searched with all-MiniLM-L6-v2.

    medqa triage "my grandad is cold and mumbling after a night on the kitchen floor" --json

``medqa.safety`` stays free of torch; this module is what the assistant, the server and the CLI pass in.
"""

from __future__ import annotations

from functools import lru_cache

from medqa.retrieval.dense import DenseIndex
from medqa.retrieval.encoder import load_encoder
from medqa.safety.semantic import SemanticSignal, load_exemplars


@lru_cache(maxsize=1)
def load_semantic_signal() -> SemanticSignal:
    """One signal per process: the bank's vectors come from the on-disk cache after the first build."""
    bank = load_exemplars()
    index = DenseIndex.build(load_encoder(), [e.text for e in bank])
    return SemanticSignal(index.scores, bank)
