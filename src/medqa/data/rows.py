"""From a raw row to a cleaned example, in this process or in worker processes.

`clean_row` is the per-row part of `prepare`: schema mapping, cleaning rules, normalised words and the
per-row filters. It is pure (its only side effect is the `CleaningLog` it is given) and never raises: a row
that does not fit becomes a "bad" outcome for the quarantine file. `clean_rows` runs it over a stream of
raw rows, either inline or, for large inputs, in `workers` spawned processes fed in bounded batches, so
cleaning runs beside the tokenizer and deduplication on a second core and the input is never read ahead
by more than a few batches. Outcomes come back in input order, so results do not depend on `workers`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from medqa.config import DataConfig, SourceConfig
from medqa.data.cleaning import CleaningLog, Rule, clean_example, enabled_rules
from medqa.data.dedup import MinHasher, pair_key
from medqa.data.filters import drop_reason
from medqa.data.fingerprints import hash_words, words
from medqa.data.lengths import PieceCounts, fast_lengths, rust_encoder
from medqa.data.mixing import SourcePlan
from medqa.data.schema import Example, RowError, to_example
from medqa.data.sources import RawRow

BATCH_ROWS = 256
MAX_ROW_CHARS = 100_000  # far beyond any training window; such rows are dropped before the regexes see them
SMALL_INPUT_BYTES = 8 << 20  # below this, starting worker processes costs more than it saves



@dataclass
class Cleaned:
    """A cleaned row that passed the per-row filters, with its fingerprints."""

    example: Example
    question_key: bytes  # normalised question: b" ".join(words(question))
    answer_key: bytes
    key: bytes | None = None  # exact-duplicate key (dedup.pair_key)
    signature: np.ndarray | None = None  # MinHash signature, when near-duplicate removal is on
    lengths: tuple[int, int] | None = None  # token lengths counted by a worker (lengths.fast_lengths)

    def word_hashes(self) -> np.ndarray:
        return hash_words(self.question_key.split() + self.answer_key.split())


Outcome = Union[tuple[str, Cleaned], tuple[str, str], tuple[str, str, Example]]  # ok | bad, reason | drop, reason, ex


def fingerprint(rows: list[Cleaned], hasher: MinHasher | None) -> None:
    """Fill in the exact-duplicate keys and (in one numpy batch) the MinHash signatures of `rows`."""
    todo = [r for r in rows if r.key is None]
    for r in todo:
        r.key = pair_key(r.question_key, r.answer_key)
    if hasher is not None and todo:
        for r, sig in zip(todo, hasher.signatures([r.word_hashes() for r in todo])):
            r.signature = sig


def clean_row(fields: dict[str, Any] | None, error: str | None, src: SourceConfig, data: DataConfig,
              rules: tuple[Rule, ...], log: CleaningLog | None, label: str | None) -> Outcome:
    """The outcome of one raw row; `label` names the source on the example when several are mixed."""
    try:
        if error:
            raise RowError(error)
        ex = to_example(fields or {}, src.schema_, src.question_field, src.answer_field, src.group_field)
        size = len(ex.question) + len(ex.answer) + len(ex.system or "") + sum(len(t) for _, t in ex.history)
        if size > MAX_ROW_CHARS:
            return ("drop", "oversized", ex)
        ex = clean_example(ex, rules, log)
    except RowError as err:
        return ("bad", str(err))
    except Exception as err:  # a rule must never end the run: the row is set aside and counted
        return ("bad", f"unexpected error: {type(err).__name__}: {err}")
    if label is not None:
        ex = Example(ex.question, ex.answer, ex.system, ex.history, ex.id, ex.topic, ex.statements, ex.group, label)
    qw, aw = words(ex.question), words(ex.answer)
    reason = drop_reason(ex, data, qw + aw)
    return ("drop", reason, ex) if reason else ("ok", Cleaned(ex, b" ".join(qw), b" ".join(aw)))


def auto_workers(data: DataConfig) -> int:
    """Worker processes for cleaning: none for small local inputs, else one per core (at most 3): the parent
    mostly waits on the tokenizer and the disk, so two workers keep two cores busy."""
    if data.workers is not None:
        return data.workers
    size = 0
    for src in data.source_list():
        path = Path(src.source)
        if src.source == "embedded" or not path.exists():
            size += 0 if src.source == "embedded" else SMALL_INPUT_BYTES  # a Hub data set: assume large
        elif path.is_file():
            size += path.stat().st_size
        else:
            size += sum(p.stat().st_size for p in path.rglob("*.xml"))
    cores = os.cpu_count() or 1
    return 0 if size < SMALL_INPUT_BYTES or cores < 2 else min(cores, 3)


_WORKER: dict[str, Any] = {}


def _init_worker(data: DataConfig, plans: list[SourcePlan], keep: int, length_spec: tuple[Any, str] | None) -> None:
    hasher = MinHasher(data.near_dup) if data.near_dup.enabled else None
    counts = plan = None
    if length_spec is not None:
        from tokenizers import Tokenizer

        plan, counts = length_spec[0], PieceCounts(rust_encoder(Tokenizer.from_str(length_spec[1])))
    _WORKER.update(data=data, plans=plans, keep=keep, rules=enabled_rules(data.cleaning), mixed=len(plans) > 1,
                   hasher=hasher, plan=plan, counts=counts)


def _clean_batch(batch: list[tuple[int, dict[str, Any] | None, str | None]]) -> tuple[list[Outcome], CleaningLog]:
    """Clean and fingerprint a batch in a worker: the parent is left with tokenizing, LSH lookups and writing."""
    log = CleaningLog(keep=_WORKER["keep"])
    outcomes = []
    for index, fields, error in batch:
        src = _WORKER["plans"][index].cfg
        label = src.source if _WORKER["mixed"] else None
        outcomes.append(clean_row(fields, error, src, _WORKER["data"], _WORKER["rules"], log, label))
    kept: list[Cleaned] = [o[1] for o in outcomes if o[0] == "ok"]  # type: ignore[misc]
    fingerprint(kept, _WORKER["hasher"])
    if _WORKER["plan"] is not None:
        for row, n in zip(kept, fast_lengths(_WORKER["plan"], _WORKER["counts"], [r.example for r in kept])):
            row.lengths = n
    return outcomes, log


def _batches(rows: Iterator[tuple[SourcePlan, RawRow]]) -> Iterator[list[tuple[SourcePlan, RawRow]]]:
    batch: list[tuple[SourcePlan, RawRow]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _in_workers(rows: Iterator[tuple[SourcePlan, RawRow]], data: DataConfig, plans: list[SourcePlan], log: CleaningLog,
                workers: int, length_spec: tuple[Any, str] | None) -> Iterator[tuple[SourcePlan, RawRow, Outcome]]:
    # spawn, not fork: the parent holds the tokenizer's thread pool, which a forked child must not inherit
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(data, plans, log.keep, length_spec)) as pool:
        pending: deque = deque()
        for batch in _batches(rows):
            task = [(plan.index, raw.fields, raw.error) for plan, raw in batch]
            pending.append((batch, pool.apply_async(_clean_batch, (task,))))
            while len(pending) > 2 * workers + 1 or (pending and pending[0][1].ready()):
                yield from _collect(pending.popleft(), log)
        while pending:
            yield from _collect(pending.popleft(), log)


def _collect(item: tuple[list[tuple[SourcePlan, RawRow]], Any], log: CleaningLog) -> Iterator[tuple[SourcePlan, RawRow, Outcome]]:
    batch, result = item
    outcomes, batch_log = result.get()
    log.merge(batch_log)
    for (plan, raw), outcome in zip(batch, outcomes):
        yield plan, raw, outcome


def clean_rows(rows: Iterator[tuple[SourcePlan, RawRow]], data: DataConfig, plans: list[SourcePlan], log: CleaningLog,
               workers: int, length_spec: tuple[Any, str] | None = None) -> Iterator[tuple[SourcePlan, RawRow, Outcome]]:
    """(plan, raw row, outcome) for every raw row, in input order. With workers, `length_spec`
    (`PieceCounter.worker_spec()`) lets them count token lengths too."""
    if workers > 0:
        yield from _in_workers(rows, data, plans, log, workers, length_spec)
        return
    rules, mixed = enabled_rules(data.cleaning), len(plans) > 1
    for plan, raw in rows:
        label = plan.cfg.source if mixed else None
        yield plan, raw, clean_row(raw.fields, raw.error, plan.cfg, data, rules, log, label)
