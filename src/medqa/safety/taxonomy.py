"""The emergency taxonomy: what counts as an emergency, for whom, and why.

Why data, not code: the categories, their discriminators, who they apply to,
their first-aid steps and the published triage sources they come from
(NHS 111 / NICE CKS red flags, Manchester Triage System discriminators, WHO
ETAT, RCOG, mental-health crisis guidance) live in ``taxonomy.json`` so a
clinician can review and edit them without reading regexes. Rules
(``rules.py``) and semantic exemplars (``exemplars.jsonl``) must each reach
every category listed here; tests fail when one has neither.

    python -c "from medqa.safety.taxonomy import CATEGORIES; print(len(CATEGORIES))"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.json")
POPULATIONS = frozenset({"adult", "child", "infant", "pregnancy", "postpartum"})


@dataclass(frozen=True)
class Category:
    """One emergency category of the taxonomy."""

    id: str
    group: str
    title: str
    applies_to: tuple[str, ...]
    discriminators: tuple[str, ...]
    sources: tuple[str, ...]
    steps: str


def load_taxonomy(path: Path = TAXONOMY_FILE) -> tuple[Category, ...]:
    """Categories in order of precedence (the first that fires leads the message)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    categories = tuple(
        Category(c["id"], c["group"], c["title"], tuple(c["applies_to"]), tuple(c["discriminators"]),
                 tuple(c["sources"]), c["steps"])
        for c in data["categories"])
    problems = [f"{c.id}: unknown population {p!r}" for c in categories for p in c.applies_to
                if p not in POPULATIONS]
    problems += [f"{c.id}: needs discriminators, sources and steps" for c in categories
                 if not (c.discriminators and c.sources and c.steps.strip())]
    ids = [c.id for c in categories]
    problems += [f"duplicate category {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return categories


CATEGORIES: tuple[Category, ...] = load_taxonomy()
CATEGORY_IDS: tuple[str, ...] = tuple(c.id for c in CATEGORIES)
