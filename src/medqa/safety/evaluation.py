"""Score triage against a labelled JSONL message set, per category, with confidence intervals.

Why: the rules are only trustworthy if measured, and a rate on a handful of messages means little without
its interval. Rows are single messages (``text``) or conversations (``messages``, triaged as the assistant
does, latest turn in context); ``category`` names the emergency (or, on a non-urgent row, the emergency it
is a near miss of). The report gives recall on emergencies (the number that must stay near 1.0) and the
false-alarm rate, each overall and per category with Wilson 95% intervals, the individual misses and false
alarms for review, and how long triage took per message.

    python benchmarks/triage_heldout.py      # the frozen held-out set, rules alone and with the semantic signal
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .semantic import SemanticSignal
from .triage import TriageResult, triage, triage_conversation

DEFAULT_SET = Path(__file__).with_name("triage_set.jsonl")
Z95 = 1.959963984540054


def load_set(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read a JSONL triage set (one JSON object per non-empty line)."""
    target = Path(path) if path is not None else DEFAULT_SET
    rows = []
    with target.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """Wilson score 95% interval for a proportion (None when n is 0)."""
    if not n:
        return None
    p = successes / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ratio(num: int, den: int) -> float | None:
    """num/den, or None when undefined (e.g. recall on a set without emergencies)."""
    return num / den if den else None


def _rate(hits: int, n: int) -> dict[str, Any]:
    return {"hits": hits, "n": n, "rate": _ratio(hits, n), "ci95": wilson(hits, n)}


def row_text(row: dict[str, Any]) -> str:
    """A row's words, for listing: the text, or the user turns of a conversation."""
    if "messages" in row:
        return " | ".join(str(m.get("content", "")) for m in row["messages"] if m.get("role") == "user")
    return row["text"]


def triage_row(row: dict[str, Any], semantic: SemanticSignal | None = None) -> TriageResult:
    if "messages" in row:
        return triage_conversation(row["messages"], semantic)
    return triage(row["text"], semantic)


@dataclass
class _Tally:
    caught: dict[str, list[int]] = field(default_factory=dict)  # category -> [caught, total]
    alarms: dict[str, list[int]] = field(default_factory=dict)  # category -> [false alarms, total]
    category_agree: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any], result: TriageResult) -> None:
        category = row.get("category") or "unknown"
        stats = (self.caught if row["urgent"] else self.alarms).setdefault(category, [0, 0])
        stats[1] += 1
        if result.urgent:
            stats[0] += 1
            key = "+".join(result.signals) or "rules"
            self.by_signal[key] = self.by_signal.get(key, 0) + 1
        if row["urgent"] and result.urgent:
            self.category_agree += int(row.get("category") in result.categories)
        elif row["urgent"]:
            self.misses.append({"id": row.get("id"), "text": row_text(row), "category": row.get("category")})
        elif result.urgent:
            self.false_alarms.append({"id": row.get("id"), "text": row_text(row), "kind": row.get("kind"),
                                      "predicted": result.category, "matched": list(result.matched),
                                      "signals": list(result.signals)})


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _totals(per_category: dict[str, list[int]]) -> tuple[int, int]:
    return sum(v[0] for v in per_category.values()), sum(v[1] for v in per_category.values())


def evaluate_rows(rows: Iterable[dict[str, Any]], semantic: SemanticSignal | None = None) -> dict[str, Any]:
    """Triage every row and return recall, false alarms, per-category rates with intervals, and timings."""
    tally, timings, overruled = _Tally(), [], 0
    for row in rows:
        start = time.perf_counter()
        result = triage_row(row, semantic)
        timings.append((time.perf_counter() - start) * 1000)
        tally.add(row, result)
        overruled += result.overruled
    caught, emergencies = _totals(tally.caught)
    alarms, non_emergencies = _totals(tally.alarms)
    return {
        "n": emergencies + non_emergencies,
        "emergencies": emergencies,
        "non_emergencies": non_emergencies,
        "signals": ["rules", *(["semantic"] if semantic else []),
                    *(["classifier"] if semantic and semantic.classifier else [])],
        "overruled_by_classifier": overruled,
        "recall": _ratio(caught, emergencies),
        "recall_ci95": wilson(caught, emergencies),
        "false_alarm_rate": _ratio(alarms, non_emergencies),
        "false_alarm_ci95": wilson(alarms, non_emergencies),
        "category_agreement": _ratio(tally.category_agree, caught),
        "caught_by_signal": dict(sorted(tally.by_signal.items())),
        "per_category_recall": {c: _ratio(*v) for c, v in sorted(tally.caught.items())},
        "per_category_counts": {c: {"caught": v[0], "total": v[1]} for c, v in sorted(tally.caught.items())},
        "per_category": {c: {"recall": _rate(*tally.caught[c]) if c in tally.caught else None,
                             "false_alarms": _rate(*tally.alarms[c]) if c in tally.alarms else None}
                         for c in sorted(set(tally.caught) | set(tally.alarms))},
        "latency_ms": {"p50": _percentile(timings, 0.5), "p95": _percentile(timings, 0.95),
                       "max": max(timings, default=None)},
        "misses": tally.misses,
        "false_alarms": tally.false_alarms,
    }


def evaluate_triage(path: str | Path | None = None, semantic: SemanticSignal | None = None) -> dict[str, Any]:
    """Run triage over a labelled JSONL set (default: the shipped ``triage_set.jsonl``)."""
    return evaluate_rows(load_set(path), semantic)
