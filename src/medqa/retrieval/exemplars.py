"""The default semantic triage signal: the shipped triage classifier and exemplar bank, both on all-MiniLM-L6-v2.

    medqa triage "my grandad is cold and mumbling after a night on the kitchen floor" --json

``medqa.safety`` stays free of torch; this module is what the assistant, the server and the CLI pass in.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from medqa.retrieval.dense import DenseIndex
from medqa.retrieval.encoder import load_encoder
from medqa.retrieval.triage_classifier import WEIGHTS_FILE, load_triage_classifier
from medqa.safety.semantic import (CLASSIFIER_FLOOR, CLASSIFIER_THRESHOLD, EMERGENCY, EXEMPLARS_FILE, MARGIN,
                                   MIN_SCORE, ROUTINE, SemanticSignal, load_exemplars, message_parts)
from medqa.safety.triage import conversation_parts


@lru_cache(maxsize=4)
def load_semantic_signal(min_score: float = MIN_SCORE, margin: float = MARGIN, classifier: bool = True,
                         threshold: float = CLASSIFIER_THRESHOLD, floor: float = CLASSIFIER_FLOOR,
                         classifier_path: str | None = None) -> SemanticSignal:
    """One signal per process and setting: the bank's vectors come from the on-disk cache after the first build."""
    bank = load_exemplars()
    index = DenseIndex.build(load_encoder(), [e.text for e in bank])
    model = load_triage_classifier(classifier_path or WEIGHTS_FILE) if classifier else None
    return SemanticSignal(index.scores, bank, min_score, margin, model, threshold, floor)


def semantic_signal(safety: Any) -> SemanticSignal | None:
    """The signal a `SafetyConfig` asks for, or None for rules alone."""
    if not safety.semantic:
        return None
    return load_semantic_signal(safety.semantic_min_score, safety.semantic_margin, safety.classifier,
                                safety.classifier_threshold, safety.classifier_floor, safety.classifier_path)


def mine_exemplars(rows: list[dict[str, Any]], signal: SemanticSignal) -> list[dict[str, str]]:
    """New bank rows from a labelled triage set: every current part of a non-emergency becomes a routine
    exemplar of the category it nearly matches, and the most emergency-like part of each emergency an
    emergency exemplar. Used once per development set; the set then counts as training data, not held-out."""
    known = {e.text for e in signal.exemplars}
    mined: list[dict[str, str]] = []
    for row in rows:
        parts = conversation_parts(row["messages"]) if "messages" in row else message_parts(row["text"])
        parts = [p for p in parts if len(p.split()) >= 3 and p not in known]
        if not parts:
            continue
        if row["urgent"]:
            margins = [signal.margin_of(r) for r in signal.scorer(parts)]
            new = [{"text": parts[max(range(len(parts)), key=margins.__getitem__)], "label": EMERGENCY,
                    "category": row["category"]}]
        else:
            new = [{"text": p, "label": ROUTINE, "category": row["category"]} for p in parts]
        mined += new
        known.update(m["text"] for m in new)
    return mined


def main() -> None:
    import argparse
    import json

    from medqa.safety.evaluation import load_set

    parser = argparse.ArgumentParser(description="append exemplars mined from labelled triage sets to the bank")
    parser.add_argument("sets", nargs="+")
    args = parser.parse_args()
    signal = load_semantic_signal(classifier=False)
    mined = [m for path in args.sets for m in mine_exemplars(load_set(path), signal)]
    with EXEMPLARS_FILE.open("a", encoding="utf-8") as handle:
        for m in mined:
            handle.write(json.dumps(m, ensure_ascii=False) + "\n")
    print(f"appended {len(mined)} exemplars to {EXEMPLARS_FILE}")


if __name__ == "__main__":
    main()
