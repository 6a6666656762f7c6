"""The streaming steps of `medqa prepare`, one row or one chunk of rows at a time.

`read_examples` turns raw rows into cleaned rows (medqa.data.rows, in worker processes for large inputs):
schema mapping (bad rows go to the quarantine file with their source line and reason), cleaning rules, the
per-row filters (empty, short, language) and, in workers, fingerprints and token lengths. `process_chunk`
takes a few hundred of those at once so that numpy and the tokenizer work in batches: token lengths and the
length filter, exact then near duplicates, the split, the contamination check of training rows, and the
write. Only hashes and integer arrays outlive a chunk.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import IO, Any

from medqa.config import MedqaConfig
from medqa.data.cleaning import CleaningLog
from medqa.data.contamination import EvalIndex, find_overlaps
from medqa.data.dedup import NearDuplicateIndex
from medqa.data.filters import STOPWORDS_EN, length_reason
from medqa.data.mixing import SourcePlan, iter_planned
from medqa.data.rows import Cleaned, auto_workers, clean_rows, fingerprint
from medqa.data.schema import Example
from medqa.data.sources import RawRow
from medqa.data.splits import SPLITS, assign_split_key, split_key
from medqa.data.stats import LengthStats

CHUNK_ROWS = 512
EXAMPLES_KEPT = 3  # training rows kept per source for the data card
KEYWORD_ROWS = 5000  # questions scanned for keywords when rows have no topic
CONTAMINATION_SAMPLES = 20


@dataclass
class RunState:
    """Everything one prepare run accumulates; files are opened and closed by the caller."""

    cfg: MedqaConfig
    counter: Any  # lengths.PieceCounter or lengths.WordCounter
    handles: dict[str, IO[str]]
    quarantine: IO[str]
    log: CleaningLog
    eval_index: EvalIndex | None = None
    near: NearDuplicateIndex | None = None
    seen: set[bytes] = field(default_factory=set)
    rows_in: int = 0
    rows_out: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    dropped: Counter = field(default_factory=Counter)
    per_source: dict[int, Counter] = field(default_factory=dict)
    notes: Counter = field(default_factory=Counter)
    lengths: dict[str, LengthStats] = field(default_factory=lambda: {s: LengthStats() for s in SPLITS})
    topics: Counter = field(default_factory=Counter)
    keywords: Counter = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)
    example_counts: Counter = field(default_factory=Counter)  # examples kept per source
    contaminated: int = 0
    grouped: int = 0  # kept rows whose split came from their group
    contamination_samples: list[dict[str, Any]] = field(default_factory=list)

    def drop(self, source: int, reason: str, ex: Example | None = None) -> None:
        self.dropped[reason] += 1
        self.per_source.setdefault(source, Counter())[reason] += 1
        if ex is not None:
            self.log.sample(reason, f"Q: {ex.question}\nA: {ex.answer}", "(dropped)")


def _quarantine(state: RunState, plan: SourcePlan, raw: RawRow, reason: str) -> None:
    state.drop(plan.index, "malformed")
    record = {"source": raw.source, "line": raw.line, "reason": reason}
    state.quarantine.write(json.dumps(record, ensure_ascii=False) + "\n")


Row = tuple[int, Cleaned]  # source index, cleaned row


def read_examples(plans: list[SourcePlan], state: RunState) -> Iterator[Row]:
    """(source index, cleaned row) for every row that passes the per-row filters."""
    data = state.cfg.data
    outcomes = clean_rows(iter_planned(plans, data.split_salt), data, plans, state.log, auto_workers(data),
                          state.counter.worker_spec())
    with closing(outcomes):
        for plan, raw, outcome in outcomes:
            if data.max_rows and state.rows_in >= data.max_rows:
                return
            state.rows_in += 1
            state.per_source.setdefault(plan.index, Counter())["in"] += 1
            if raw.note:
                state.notes[raw.note] += 1
            if outcome[0] == "bad":
                _quarantine(state, plan, raw, outcome[1])
            elif outcome[0] == "drop":
                state.drop(plan.index, outcome[1], outcome[2])
            else:
                yield plan.index, outcome[1]


def chunks(rows: Iterator[Row], size: int = CHUNK_ROWS) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _deduplicate(state: RunState, rows: list[Row], lengths: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
    """Drop rows outside the length limits, exact and near duplicates; return (source, row, lengths) of the rest."""
    fingerprint([c for _, c in rows], state.near.hasher if state.near else None)  # done already by workers
    kept = []
    overhead = state.counter.prompt_overhead
    for (source, row), (prompt, answer) in zip(rows, lengths):
        reason = length_reason(prompt - overhead, answer, state.cfg.data.length)
        if reason is None and row.key in state.seen:
            reason = "duplicate"
        if reason is None and state.near is not None and state.near.add_if_new(row.signature) is not None:
            reason = "near_duplicate"
        if reason:
            state.drop(source, reason, row.example)
            continue
        state.seen.add(row.key)
        kept.append((source, row, (prompt, answer)))
    return kept


def _contamination(state: RunState, rows: list[tuple[Any, ...]], splits: list[str]) -> set[int]:
    """Positions of training rows that share an n-gram with an evaluation item (reported, maybe dropped)."""
    if state.eval_index is None:
        return set()
    train = [i for i, s in enumerate(splits) if s == "train"]
    hits = find_overlaps(state.eval_index, [rows[i][1].word_hashes() for i in train])
    flagged = set()
    for i, owner in zip(train, hits):
        if owner is None:
            continue
        flagged.add(i)
        state.contaminated += 1
        if len(state.contamination_samples) < CONTAMINATION_SAMPLES:
            file, item, text = state.eval_index.items[owner]
            state.contamination_samples.append({"question": rows[i][1].example.question[:160], "eval_file": file,
                                                "eval_item": item, "eval_text": text})
    return flagged if state.cfg.data.contamination.drop else set()


def _describe_row(state: RunState, source: int, split: str, row: Cleaned) -> None:
    ex = row.example
    state.grouped += ex.group is not None
    if ex.topic:
        state.topics[ex.topic] += 1
    elif sum(state.rows_out.values()) <= KEYWORD_ROWS:
        state.keywords.update(w for w in row.question_key.decode("utf-8", "replace").split()
                              if len(w) > 3 and w not in STOPWORDS_EN and not w.isdigit())
    if split == "train" and state.example_counts[source] < EXAMPLES_KEPT:
        state.example_counts[source] += 1
        state.examples.append(ex)


def process_chunk(state: RunState, chunk: list[Row]) -> None:
    """Length filter, duplicates, split, contamination and write for a chunk of cleaned rows."""
    data = state.cfg.data
    known = [row.lengths for _, row in chunk]  # counted by workers; None where the exact path is needed
    lengths = state.counter.lengths([row.example for _, row in chunk], known if any(known) else None)
    rows = _deduplicate(state, chunk, lengths)
    splits = [assign_split_key(split_key(row.question_key.decode("utf-8", "surrogatepass"), row.example.group),
                               data.val_fraction, data.test_fraction, data.split_salt) for _, row, _ in rows]
    flagged = _contamination(state, rows, splits)
    for i, ((source, row, (prompt, answer)), split) in enumerate(zip(rows, splits)):
        ex = row.example
        if i in flagged:
            state.drop(source, "contaminated", ex)
            continue
        state.handles[split].write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
        state.rows_out[split] += 1
        state.per_source.setdefault(source, Counter())["out"] += 1
        state.lengths[split].add(prompt, answer)
        _describe_row(state, source, split, row)
