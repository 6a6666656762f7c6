"""From `medqa eval` answers to blinded review items and rater assignments: pure functions, seeded.

A *system* is one model's answers in one eval folder (`base`, `demo`, `demo+sources`; prefixed with the folder's
label when several folders are given). Pairwise items put two systems' answers to the same question side by side in
a random order; single items show one answer. A share of the items (`overlap`) goes to two raters so that agreement
can be measured; the rest is spread so that every rater has about the same load.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from medqa.errors import MedqaError

ItemKind = Literal["pairwise", "single", "both"]
ANSWERS_FILE = "answers.jsonl"
REVIEWED_TASKS = ("freetext", "safety")  # tasks whose rows are answers a clinician can read (mcq rows are letters)


class ReviewError(MedqaError):
    """A review request that cannot be met as given (exit code 2 in the CLI, 4xx in the app)."""


@dataclass(frozen=True)
class Answer:
    system: str
    task: str
    qid: str
    question: str
    text: str
    reference: str | None = None
    sources: tuple[dict[str, Any], ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.qid, self.question)


@dataclass(frozen=True)
class Item:
    """One thing a rater judges: a question and one or two answers (indices into the answer list), in shown order."""

    id: str
    answers: tuple[int, ...]
    raters: tuple[int, ...] = field(default=())


def read_answers(folders: dict[str, Path]) -> tuple[list[Answer], list[str]]:
    """Every reviewable answer in the eval folders ({label: folder}; one unlabelled folder keeps plain system
    names), and notes on what was left out. Safety rows are reviewed as `serve` returns them (wrapped)."""
    answers: list[Answer] = []
    notes: list[str] = []
    for label, folder in folders.items():
        path = Path(folder) / ANSWERS_FILE
        if not path.is_file():
            raise ReviewError(f"{folder} has no {ANSWERS_FILE}: give a folder written by "
                              "`medqa eval --task freetext` (or --task safety) --output DIR")
        try:
            found = [_answer(row, label) for row in _rows(path) if row.get("task") in REVIEWED_TASKS]
        except KeyError as err:
            raise ReviewError(f"{path}: an answer row has no {err} field; is this a `medqa eval` answers.jsonl?") from None
        if not found:
            raise ReviewError(f"{path} holds no free-text or safety answers to review: run `medqa eval` with "
                              "--task freetext or --task safety")
        answers += found
    return _drop_duplicate_systems(answers, notes), notes


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ReviewError(f"{path}:{number}: not a JSON line ({err.msg}); was the eval interrupted while "
                              "writing? Run it again with the same --output (answers come from its cache)") from err
        if not isinstance(row, dict):
            raise ReviewError(f"{path}:{number}: expected a JSON object")
        rows.append(row)
    return rows


def _answer(row: dict[str, Any], label: str) -> Answer:
    text = row.get("wrapped") if row["task"] == "safety" else row.get("answer")
    system = f"{label}/{row['model']}" if label else str(row["model"])
    return Answer(system=system, task=row["task"], qid=str(row["id"]), question=str(row["question"]),
                  text=str(text or ""), reference=row.get("reference"), sources=tuple(row.get("sources") or ()))


def _drop_duplicate_systems(answers: list[Answer], notes: list[str]) -> list[Answer]:
    """A system whose answers equal an earlier system's on every shared question (the same base evaluated in two
    folders) would make raters compare a thing with itself: keep the first."""
    by_system: dict[str, dict[tuple[str, str, str], str]] = defaultdict(dict)
    for a in answers:
        by_system[a.system][a.key] = a.text
    kept: list[str] = []
    for system, texts in by_system.items():
        twin = next((k for k in kept if (shared := texts.keys() & by_system[k].keys())
                     and all(texts[q] == by_system[k][q] for q in shared)), None)
        if twin is None:
            kept.append(system)
        else:
            notes.append(f"{system} answers exactly as {twin}; left out")
    return [a for a in answers if a.system in kept]


def build_items(answers: list[Answer], kind: ItemKind, limit: int | None, rng: random.Random) -> list[Item]:
    """Items for a seeded sample of `limit` questions (all when None), answers in a random order."""
    if limit is not None and limit < 1:
        raise ReviewError(f"--limit must be at least 1, not {limit}")
    by_question: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, a in enumerate(answers):
        by_question[a.key].append(i)
    questions = sorted(by_question)
    if limit is not None and limit < len(questions):
        questions = sorted(rng.sample(questions, limit))
    systems = {a.system for a in answers}
    if kind == "pairwise" and len(systems) < 2:
        raise ReviewError(f"pairwise review needs answers from two systems; found only {sorted(systems)}: give "
                          "another --answers folder or an eval with --adapter, or use --kind single")
    items: list[tuple[int, ...]] = []
    for q in questions:
        shown = by_question[q]
        if kind in ("single", "both"):
            items += [(i,) for i in shown]
        if kind in ("pairwise", "both"):
            for pair in combinations(shown, 2):
                items.append(tuple(rng.sample(pair, 2)))  # which system is A is a coin flip
    rng.shuffle(items)
    ids = _item_ids(len(items), rng)
    return [Item(id=ids[k], answers=a) for k, a in enumerate(items)]


def _item_ids(n: int, rng: random.Random) -> list[str]:
    """Opaque, distinct ids that say nothing about the systems or the order of creation."""
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(f"{rng.getrandbits(48):012x}")
    return rng.sample(sorted(ids), n)


def assign(items: list[Item], raters: int, overlap: float, rng: random.Random) -> list[Item]:
    """Each item with its raters: a share `overlap` of them get two raters, the rest one, the load balanced."""
    if raters < 1:
        raise ReviewError("--raters must be at least 1")
    if not 0 <= overlap <= 1:
        raise ReviewError(f"--overlap is a share between 0 and 1, not {overlap}")
    doubled = set(rng.sample(range(len(items)), round(overlap * len(items)))) if raters > 1 else set()
    load = [0] * raters
    out = []
    for k, item in enumerate(items):
        want = 2 if k in doubled else 1
        chosen = sorted(range(raters), key=lambda r: (load[r], rng.random()))[:want]
        for r in chosen:
            load[r] += 1
        out.append(Item(item.id, item.answers, tuple(sorted(chosen))))
    return out
