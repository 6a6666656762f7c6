"""Score the triage rules against a labelled JSONL message set.

Why: the rules are only trustworthy if measured. The shipped set
(``triage_set.jsonl``) pairs emergencies with deliberately tricky
non-emergencies (negated, past, informational, mild); this module reports
recall on emergencies (the number that must stay at 1.0) and the false-alarm
rate, plus the individual misses and false alarms for review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .triage import TriageResult, triage

DEFAULT_SET = Path(__file__).with_name("triage_set.jsonl")


def load_set(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read a JSONL triage set (one JSON object per non-empty line)."""
    target = Path(path) if path is not None else DEFAULT_SET
    rows = []
    with target.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _ratio(num: int, den: int) -> float | None:
    """num/den, or None when undefined (e.g. recall on a set without emergencies)."""
    return num / den if den else None


@dataclass
class _Tally:
    caught: int = 0
    category_agree: int = 0
    per_cat: dict[str, list[int]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any], result: TriageResult) -> None:
        if row["urgent"]:
            stats = self.per_cat.setdefault(row.get("category") or "unknown", [0, 0])
            stats[1] += 1
            if result.urgent:
                self.caught += 1
                stats[0] += 1
                self.category_agree += int(row.get("category") in result.categories)
            else:
                self.misses.append({"id": row.get("id"), "text": row["text"],
                                    "category": row.get("category")})
        elif result.urgent:
            self.false_alarms.append({"id": row.get("id"), "text": row["text"],
                                      "kind": row.get("kind"),
                                      "predicted": result.category,
                                      "matched": list(result.matched)})


def evaluate_triage(path: str | Path | None = None) -> dict[str, Any]:
    """Run ``triage`` over a labelled set and return summary metrics.

    ``path`` defaults to the shipped ``triage_set.jsonl``. Returned keys: n,
    emergencies, non_emergencies, recall, false_alarm_rate,
    category_agreement (share of caught emergencies whose labelled category
    is among the fired categories), per_category_recall,
    per_category_counts, misses, false_alarms. Rates are None when their
    denominator is zero.
    """
    rows = load_set(path)
    tally = _Tally()
    for row in rows:
        tally.add(row, triage(row["text"]))
    emergencies = sum(1 for r in rows if r["urgent"])
    non_emergencies = len(rows) - emergencies
    cats = sorted(tally.per_cat.items())
    return {
        "n": len(rows),
        "emergencies": emergencies,
        "non_emergencies": non_emergencies,
        "recall": _ratio(tally.caught, emergencies),
        "false_alarm_rate": _ratio(len(tally.false_alarms), non_emergencies),
        "category_agreement": _ratio(tally.category_agree, tally.caught),
        "per_category_recall": {c: _ratio(v[0], v[1]) for c, v in cats},
        "per_category_counts": {c: {"caught": v[0], "total": v[1]} for c, v in cats},
        "misses": tally.misses,
        "false_alarms": tally.false_alarms,
    }
