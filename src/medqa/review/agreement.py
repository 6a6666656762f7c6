"""Inter-rater agreement on the items two or more raters rated: Krippendorff's alpha (`krippendorff`) and Cohen's
kappa (scikit-learn), per axis and for the overall preference.

Axes are ordinal (levels best to worst), so alpha is ordinal and kappa quadratic-weighted; the preference is
nominal (alpha nominal, kappa unweighted). A unit is one shown answer for an axis (an item and its slot) and one
item for the preference. Kappa is computed for every pair of raters that share units and averaged, weighted by
the units they share.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import combinations
from typing import Any

from medqa.review.axes import AXES, PREFERENCES

Units = dict[tuple[str, int], dict[str, int]]  # (item, slot) → {rater: level rank}


def units_by_axis(ratings: list[dict[str, Any]]) -> dict[str, Units]:
    """Each axis's (and the preference's) values as {unit: {rater: rank}}, from stored ratings."""
    out: dict[str, Units] = {a.name: defaultdict(dict) for a in AXES}
    out["preference"] = defaultdict(dict)
    for r in ratings:
        for slot, answer in enumerate(r["rating"]["answers"]):
            for axis in AXES:
                out[axis.name][(r["item"], slot)][r["rater"]] = axis.rank(answer[axis.name])
        if r["rating"].get("preference"):
            out["preference"][(r["item"], 0)][r["rater"]] = PREFERENCES.index(r["rating"]["preference"])
    return out


def agreement(units: Units, ordinal: bool, n_levels: int) -> dict[str, Any]:
    """Alpha and kappa over the units with two or more raters; None where they are undefined (no overlap, or every
    rating the same value, where chance agreement is already perfect)."""
    shared = {u: v for u, v in units.items() if len(v) > 1}
    raters = sorted({r for v in shared.values() for r in v})
    result: dict[str, Any] = {"units": len(shared), "raters": len(raters), "krippendorff_alpha": None,
                              "cohen_kappa": None, "rater_pairs": 0,
                              "observed_agreement": _observed(shared) if shared else None}
    if not shared:
        return result
    result["krippendorff_alpha"] = _alpha(shared, raters, ordinal, n_levels)
    result["cohen_kappa"], result["rater_pairs"] = _kappa(shared, raters, ordinal, n_levels)
    return result


def _observed(shared: Units) -> float:
    """Share of rater pairs within a unit that gave the same value (plain agreement, easy to read beside alpha)."""
    same = total = 0
    for values in shared.values():
        for a, b in combinations(values.values(), 2):
            same += a == b
            total += 1
    return same / total


def _alpha(shared: Units, raters: list[str], ordinal: bool, n_levels: int) -> float | None:
    import krippendorff
    import numpy as np

    data = np.full((len(raters), len(shared)), np.nan)
    for j, values in enumerate(shared.values()):
        for rater, value in values.items():
            data[raters.index(rater), j] = value
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, value_domain=list(range(n_levels)),
                                    level_of_measurement="ordinal" if ordinal else "nominal"))


def _kappa(shared: Units, raters: list[str], ordinal: bool, n_levels: int) -> tuple[float | None, int]:
    from sklearn.metrics import cohen_kappa_score

    weighted, total, pairs = 0.0, 0, 0
    for a, b in combinations(raters, 2):
        both = [(v[a], v[b]) for v in shared.values() if a in v and b in v]
        if len(both) < 2:
            continue
        x, y = zip(*both)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined (0/0) when both raters used one value: skipped below
            kappa = cohen_kappa_score(x, y, labels=list(range(n_levels)), weights="quadratic" if ordinal else None)
        if kappa == kappa:  # not NaN
            weighted += kappa * len(both)
            total += len(both)
            pairs += 1
    return (weighted / total if total else None), pairs


def agreement_table(ratings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Agreement for every axis and the preference."""
    units = units_by_axis(ratings)
    table = {a.name: agreement(units[a.name], True, len(a.levels)) for a in AXES}
    table["preference"] = agreement(units["preference"], False, len(PREFERENCES))
    return table
