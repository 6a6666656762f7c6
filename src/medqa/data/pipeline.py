"""The streaming steps of `medqa prepare`, one row or one chunk of rows at a time.

`read_examples` turns raw rows into cleaned `Example`s: schema mapping (bad rows go to the quarantine file
with their source line and reason), cleaning rules, and the per-row filters (empty, short, language).
`process_chunk` takes a few hundred of those at once so that numpy and the tokenizer work in batches:
token lengths and the length filter, exact then near duplicates, the split, the contamination check of
training rows, and finally the write. Only hashes and integer arrays outlive a chunk.
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
from medqa.data.dedup import NearDuplicateIndex, pair_key
from medqa.data.filters import STOPWORDS_EN, length_reason
from medqa.data.fingerprints import hash_words, words
from medqa.data.mixing import SourcePlan, iter_planned
from medqa.data.rows import auto_workers, clean_rows
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

    def __post_init__(self) -> None:
        if self.cfg.data.near_dup.enabled:
            self.near = NearDuplicateIndex(self.cfg.data.near_dup)

    def drop(self, source: int, reason: str, ex: Example | None = None) -> None:
        self.dropped[reason] += 1
        self.per_source.setdefault(source, Counter())[reason] += 1
        if ex is not None:
            self.log.sample(reason, f"Q: {ex.question}\nA: {ex.answer}", "(dropped)")


def _quarantine(state: RunState, plan: SourcePlan, raw: RawRow, reason: str) -> None:
    state.drop(plan.index, "malformed")
    record = {"source": raw.source, "line": raw.line, "reason": reason}
    state.quarantine.write(json.dumps(record, ensure_ascii=False) + "\n")


Row = tuple[int, Example, list[bytes], list[bytes]]  # source index, example, normalised question and answer words


def read_examples(plans: list[SourcePlan], state: RunState) -> Iterator[Row]:
    """(source index, cleaned Example, its words) for every row that passes the per-row filters."""
    data = state.cfg.data
    outcomes = clean_rows(iter_planned(plans, data.split_salt), data, plans, state.log, auto_workers(data))
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
                yield plan.index, outcome[1], outcome[2], outcome[3]


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
    """Drop rows outside the length limits and exact duplicates; return survivors with their word hashes."""
    kept = []
    overhead = state.counter.prompt_overhead
    for (source, ex, qw, aw), (prompt, answer) in zip(rows, lengths):
        reason = length_reason(prompt - overhead, answer, state.cfg.data.length)
        key = pair_key(qw, aw)
        if reason is None and key in state.seen:
            reason = "duplicate"
        if reason:
            state.drop(source, reason, ex)
            continue
        state.seen.add(key)
        kept.append((source, ex, (prompt, answer), b" ".join(qw).decode("utf-8", "surrogatepass"),
                     hash_words(qw + aw)))
    return kept


def _near_duplicates(state: RunState, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    if state.near is None or not rows:
        return rows
    sigs = state.near.signatures_of([r[4] for r in rows])
    kept = []
    for row, sig in zip(rows, sigs):
        if state.near.add_if_new(sig) is not None:
            state.drop(row[0], "near_duplicate", row[1])
        else:
            kept.append(row)
    return kept


def _contamination(state: RunState, rows: list[tuple[Any, ...]], splits: list[str]) -> set[int]:
    """Positions of training rows that share an n-gram with an evaluation item (reported, maybe dropped)."""
    if state.eval_index is None:
        return set()
    train = [i for i, s in enumerate(splits) if s == "train"]
    hits = find_overlaps(state.eval_index, [rows[i][4] for i in train])
    flagged = set()
    for i, owner in zip(train, hits):
        if owner is None:
            continue
        flagged.add(i)
        state.contaminated += 1
        if len(state.contamination_samples) < CONTAMINATION_SAMPLES:
            file, item, text = state.eval_index.items[owner]
            state.contamination_samples.append({"question": rows[i][1].question[:160], "eval_file": file,
                                                "eval_item": item, "eval_text": text})
    return flagged if state.cfg.data.contamination.drop else set()


def _describe_row(state: RunState, source: int, split: str, ex: Example) -> None:
    state.grouped += ex.group is not None
    if ex.topic:
        state.topics[ex.topic] += 1
    elif sum(state.rows_out.values()) <= KEYWORD_ROWS:
        state.keywords.update(w for w in (b.decode("utf-8", "replace") for b in words(ex.question))
                              if len(w) > 3 and w not in STOPWORDS_EN and not w.isdigit())
    if split == "train" and state.example_counts[source] < EXAMPLES_KEPT:
        state.example_counts[source] += 1
        state.examples.append(ex)


def process_chunk(state: RunState, chunk: list[Row]) -> None:
    """Length filter, duplicates, split, contamination and write for a chunk of cleaned rows."""
    data = state.cfg.data
    lengths = state.counter.lengths([row[1] for row in chunk])
    rows = _deduplicate(state, chunk, lengths)
    rows = _near_duplicates(state, rows)
    splits = [assign_split_key(split_key(r[3], r[1].group), data.val_fraction, data.test_fraction, data.split_salt)
              for r in rows]
    flagged = _contamination(state, rows, splits)
    for i, ((source, ex, (prompt, answer), _, _), split) in enumerate(zip(rows, splits)):
        if i in flagged:
            state.drop(source, "contaminated", ex)
            continue
        state.handles[split].write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
        state.rows_out[split] += 1
        state.per_source.setdefault(source, Counter())["out"] += 1
        state.lengths[split].add(prompt, answer)
        _describe_row(state, source, split, ex)
