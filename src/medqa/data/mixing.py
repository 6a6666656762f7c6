"""Mixing several sources in one `prepare` run: row caps, or weights that set each source's share of the mix.

    data:
      sources:
        - {source: ../shared/data/genmedgpt-5k/chatdoctor5k.json, weight: 1}
        - {source: ../shared/data/medquad, weight: 1, group_field: focus}

With caps (`max_rows`), the first rows of each source are read. With weights, the rows of every source are
counted first (one extra streaming pass), then each source gives `share x mix size` rows, where the mix
size is `data.max_rows` or the largest size that no source runs short of. Rows are sampled by a stable hash
of their position, so the same config always picks the same rows, spread over the whole file. Sources are
read one after another; when two overlap, the earlier source's copy of a duplicate is the one kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from medqa.config import DataConfig, SourceConfig
from medqa.data.sources import RawRow, iter_rows
from medqa.data.splits import bucket


@dataclass(frozen=True)
class SourcePlan:
    index: int
    cfg: SourceConfig
    cap: int | None = None  # most rows to take from this source
    keep_fraction: float = 1.0  # share of its rows sampled (weights only)
    available: int | None = None  # rows counted in the source (weights only)


def count_rows(src: SourceConfig) -> int:
    return sum(1 for _ in iter_rows(src.source, src.hub_split))


def weighted_caps(counts: list[int], weights: list[float], total: int | None) -> list[int]:
    """Rows per source so that the mix follows `weights`; no source gives more rows than it has."""
    shares = [w / sum(weights) for w in weights]
    # an empty source gives nothing and does not shrink the mix of the others
    feasible = min((c / s for c, s in zip(counts, shares) if s > 0 and c > 0), default=0.0)
    size = feasible if total is None else min(float(total), feasible)
    return [min(c, math.floor(size * s + 1e-9)) for c, s in zip(counts, shares)]


def plan_sources(data: DataConfig) -> list[SourcePlan]:
    sources = data.source_list()
    if not any(s.weight is not None for s in sources):
        return [SourcePlan(i, s, cap=s.max_rows) for i, s in enumerate(sources)]
    counts = [count_rows(s) for s in sources]
    caps = weighted_caps(counts, [s.weight or 0.0 for s in sources], data.max_rows)
    return [SourcePlan(i, s, cap=cap, keep_fraction=cap / count if count else 0.0, available=count)
            for i, (s, count, cap) in enumerate(zip(sources, counts, caps))]


def iter_planned(plans: list[SourcePlan], salt: str) -> Iterator[tuple[SourcePlan, RawRow]]:
    """The raw rows of every source in plan order, sampled and capped as planned."""
    for plan in plans:
        taken = 0
        for raw in iter_rows(plan.cfg.source, plan.cfg.hub_split):
            if plan.cap is not None and taken >= plan.cap:
                break
            if plan.keep_fraction < 1.0 and bucket(f"{plan.index}\x00{raw.source}\x00{raw.line}", salt) >= plan.keep_fraction:
                continue
            taken += 1
            yield plan, raw
