"""Metric tests for the labelled triage sets (see README.md in this folder).

The shipped set (src/medqa/safety/triage_set.jsonl) must keep recall 1.0 and
a false-alarm rate <= 5%. The dev_round*/heldout files are regression guards;
their provenance and the untuned, measured-once numbers are in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.safety import evaluate_triage
from medqa.safety.evaluation import DEFAULT_SET, load_set

HERE = Path(__file__).resolve().parent
from medqa.safety.taxonomy import CATEGORY_IDS

CATEGORIES = set(CATEGORY_IDS)
KINDS = {"emergency", "negation", "history", "informational", "routine",
         "lay-emergency", "third-party"}
# the taxonomy-era sets (dev and held-out) use the writers' brief's kinds and name a category on every row
TAXONOMY_KINDS = {"first-person", "third-party", "understated", "informal", "long-context", "mild", "negated",
                  "history", "informational", "resolved", "worried-well", "multi-turn"}
LEGACY_SETS = [DEFAULT_SET, *sorted(p for p in HERE.glob("*.jsonl") if not p.name.startswith("taxonomy_dev"))]


def test_shipped_set_meets_targets() -> None:
    report = evaluate_triage()
    assert report["n"] >= 160
    assert report["recall"] == 1.0, report["misses"]
    assert report["false_alarm_rate"] <= 0.05, report["false_alarms"]


def test_report_structure() -> None:
    report = evaluate_triage()
    for key in ("n", "emergencies", "non_emergencies", "recall",
                "false_alarm_rate", "per_category_recall", "misses",
                "false_alarms"):
        assert key in report
    assert report["emergencies"] + report["non_emergencies"] == report["n"]
    assert set(report["per_category_recall"]) <= CATEGORIES | {"severe_pain"}
    lo, hi = report["recall_ci95"]
    assert lo <= report["recall"] <= hi
    json.dumps(report)


@pytest.mark.parametrize("path", LEGACY_SETS, ids=lambda p: Path(p).name)
def test_set_files_are_well_formed(path: Path) -> None:
    rows = load_set(path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for row in rows:
        assert set(row) == {"id", "text", "urgent", "category", "kind"}
        assert row["text"].strip()
        assert row["kind"] in KINDS
        if row["urgent"]:
            assert row["category"] in CATEGORIES
        else:
            assert row["category"] is None


def test_shipped_set_is_balanced_and_covers_all_core_categories() -> None:
    rows = load_set()
    urgent = [r for r in rows if r["urgent"]]
    assert 0.4 <= len(urgent) / len(rows) <= 0.6
    legacy = {"cardiac", "stroke", "breathing", "anaphylaxis", "bleeding", "self_harm", "poisoning", "infant",
              "pregnancy", "sepsis", "head_injury", "seizure", "unconscious", "severe_pain"}
    assert legacy <= {r["category"] for r in urgent}
    kinds = {r["kind"] for r in rows if not r["urgent"]}
    assert {"negation", "history", "informational", "routine"} <= kinds


@pytest.mark.parametrize("name", [
    "dev_round1_messages.jsonl", "dev_round2_messages.jsonl",
    "dev_round3_messages.jsonl", "heldout_messages.jsonl",
])
def test_regression_sets(name: str) -> None:
    report = evaluate_triage(HERE / name)
    assert report["recall"] == 1.0, report["misses"]
    assert report["false_alarm_rate"] <= 0.05, report["false_alarms"]


def test_benign_heldout_false_alarm_rate() -> None:
    report = evaluate_triage(HERE / "heldout_benign_messages.jsonl")
    assert report["recall"] is None  # no emergencies in this file
    assert report["false_alarm_rate"] <= 0.05, report["false_alarms"]
