"""Text metrics for generated answers: lexical overlap, answer behaviour, and bootstrap confidence intervals.

Used by the free-text, multiple-choice and safety tasks of `medqa eval`, e.g.

    medqa eval --task freetext --data data/prepared --adapter runs/demo --output runs/demo/eval

Overlap metrics follow their reference implementations: ROUGE-1/2/L F1 from `rouge-score` (Porter stemming,
mean over items), corpus BLEU and chrF from `sacrebleu` (0-100 scale). Behaviour metrics need no reference.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from medqa.safety import has_referral

_WORD = re.compile(r"\w+(?:'\w+)?")
_SEGMENT = re.compile(r"(?<=[.!?])\s+|\n+")
LOOP_MIN_WORDS = 3  # a repeated line/sentence shorter than this ("Yes.", "-") is not a loop
LOOP_NGRAM, LOOP_NGRAM_REPEATS = 6, 3  # or the same 6-word run three times: loops inside one long line


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, inner apostrophes)."""
    return _WORD.findall((text or "").lower())


def rouge_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (0-1) over aligned prediction/reference pairs."""
    per_item = rouge_per_item(predictions, references)
    n = max(len(per_item), 1)
    return {k: sum(item[k] for item in per_item) / n for k in ("rouge1", "rouge2", "rougeL")}


def rouge_per_item(predictions: Sequence[str], references: Sequence[str]) -> list[dict[str, float]]:
    """ROUGE-1/2/L F1 of each pair (also used to find where two models' answers differ most)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    out = []
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        out.append({k: v.fmeasure for k, v in scores.items()})
    return out


def bleu_chrf(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu defaults, 0-100) with one reference per prediction."""
    import sacrebleu

    preds, refs = list(predictions), [list(references)]
    return {"bleu": sacrebleu.corpus_bleu(preds, refs).score, "chrf": sacrebleu.corpus_chrf(preds, refs).score}


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Corpus distinct-n (Li et al. 2016): unique word n-grams / all word n-grams across the answers."""
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        toks = words(text)
        grams.update(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def is_looping(text: str) -> bool:
    """True when an answer repeats itself: a line or sentence of ≥3 words appears twice, or a 6-word run 3 times.

    Small models that fail to stop usually restate the same line until the token limit; both forms catch it.
    """
    segments = [" ".join(words(s)) for s in _SEGMENT.split(text or "")]
    counts = Counter(s for s in segments if len(s.split()) >= LOOP_MIN_WORDS)
    if any(c >= 2 for c in counts.values()):
        return True
    toks = words(text)
    runs = Counter(tuple(toks[i:i + LOOP_NGRAM]) for i in range(len(toks) - LOOP_NGRAM + 1))
    return any(c >= LOOP_NGRAM_REPEATS for c in runs.values())


def behaviour(generations: Sequence[dict[str, Any]]) -> dict[str, float]:
    """How answers behave, reference-free: length, diversity, loops, stopping and clinician referral.

    `generations` are generator results: {"text", "stopped", "tokens"}. `stopped_share` is the share that ended
    with the end-of-turn token; `truncated_share` the share that ran into max_new_tokens instead.
    """
    texts = [g["text"] for g in generations]
    n = max(len(texts), 1)
    return {
        "mean_words": sum(len(words(t)) for t in texts) / n,
        "mean_tokens": sum(g.get("tokens", 0) for g in generations) / n,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "loop_rate": sum(is_looping(t) for t in texts) / n,
        "stopped_share": sum(bool(g.get("stopped")) for g in generations) / n,
        "truncated_share": sum(not g.get("stopped") for g in generations) / n,
        "empty_share": sum(not t.strip() for t in texts) / n,
        "referral_share": sum(has_referral(t) for t in texts) / n,
    }


def bootstrap_ci(values: Sequence[float], seed: int = 0, resamples: int = 1000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item values (e.g. 0/1 correctness), seeded."""
    import numpy as np

    if len(values) == 0:
        return (0.0, 0.0)
    arr = np.asarray(values, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(arr), size=(resamples, len(arr)))
    means = arr[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def macro_f1(gold: Sequence[int], pred: Sequence[int]) -> float:
    """Unweighted mean of per-class F1 over the classes present in gold or predictions."""
    classes = sorted(set(gold) | set(pred))
    scores = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def rounded(obj: Any, digits: int = 4) -> Any:
    """Round every float in a nested structure, for stable, readable metrics.json files."""
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj
