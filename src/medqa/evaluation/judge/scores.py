"""Judged numbers from verdicts, per model, each with a percentile bootstrap 95% interval over items.

Statements (K-QA): comprehensiveness is the share of an answer's must-have statements it entails; hallucination
counts the statements (must-have and nice-to-have) it contradicts. Rubrics (HealthBench): an answer scores the
points of the criteria it meets over the positive points available, clipped to [0, 1]; per criterion tag over
that tag's criteria, per example tag over those items. An unparseable verdict leaves its statement or criterion out
of that item's score and is counted beside the numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from medqa.evaluation.judge.items import Criterion, RubricItem
from medqa.evaluation.metrics import bootstrap_ci


def _mean_ci(values: Sequence[float], seed: int) -> dict[str, Any]:
    if not values:
        return {"mean": None, "ci95": None, "n": 0}
    return {"mean": sum(values) / len(values), "ci95": list(bootstrap_ci(values, seed)), "n": len(values)}


def statement_scores(must: list[list[str | None]], nice: list[list[str | None]], seed: int = 0) -> dict[str, Any]:
    """`must[i]` / `nice[i]`: the labels of answer i's statements (None: unparseable)."""
    comprehensive, contradicted = [], []
    for m, n in zip(must, nice, strict=True):
        parsed = [x for x in m if x is not None]
        if parsed:
            comprehensive.append(sum(x == "entailed" for x in parsed) / len(parsed))
        if any(x is not None for x in [*m, *n]):  # an answer with no parsed verdict says nothing either way
            contradicted.append(float(sum(x == "contradicted" for x in [*m, *n])))
    every = [x for labels in [*must, *nice] for x in labels]
    return {"comprehensiveness": _mean_ci(comprehensive, seed),
            "hallucinations_per_answer": _mean_ci(contradicted, seed),
            "answers_with_hallucination": _mean_ci([float(c > 0) for c in contradicted], seed),
            "statements": len(every), "unparseable": sum(x is None for x in every),
            "labels": {label: sum(x == label for x in every) for label in ("entailed", "contradicted",
                                                                           "not_addressed")}}


def rubric_score(criteria: Sequence[Criterion], met: Sequence[bool | None]) -> float | None:
    """Met points over positive points, clipped to [0, 1]; None when no positive criterion was parsed."""
    parsed = [(c, m) for c, m in zip(criteria, met, strict=True) if m is not None]
    possible = sum(c.points for c, _ in parsed if c.points > 0)
    if possible <= 0:
        return None
    return min(1.0, max(0.0, sum(c.points for c, m in parsed if m) / possible))


def rubric_scores(items: list[RubricItem], met: list[list[bool | None]], seed: int = 0) -> dict[str, Any]:
    overall, by_tag = [], defaultdict(list)
    for item, verdicts in zip(items, met, strict=True):
        score = rubric_score(item.criteria, verdicts)
        if score is not None:
            overall.append(score)
            for tag in item.tags:
                by_tag[tag].append(score)
        for tag in {t for c in item.criteria for t in c.tags}:
            chosen = [(c, v) for c, v in zip(item.criteria, verdicts) if tag in c.tags]
            tagged = rubric_score([c for c, _ in chosen], [v for _, v in chosen])
            if tagged is not None:
                by_tag[tag].append(tagged)
    every = [v for verdicts in met for v in verdicts]
    return {"score": _mean_ci(overall, seed), "tags": {t: _mean_ci(v, seed) for t, v in sorted(by_tag.items())},
            "criteria": len(every), "unparseable": sum(v is None for v in every),
            "met": sum(v is True for v in every)}
