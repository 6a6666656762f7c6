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
from typing import Any, Union

from medqa.config import DataConfig, SourceConfig
from medqa.data.cleaning import CleaningLog, Rule, clean_example, enabled_rules
from medqa.data.filters import drop_reason
from medqa.data.fingerprints import words
from medqa.data.mixing import SourcePlan
from medqa.data.schema import Example, RowError, to_example
from medqa.data.sources import RawRow

BATCH_ROWS = 256
MAX_ROW_CHARS = 100_000  # far beyond any training window; such rows are dropped before the regexes see them
SMALL_INPUT_BYTES = 8 << 20  # below this, starting worker processes costs more than it saves

Ok = tuple[str, Example, list[bytes], list[bytes]]  # ("ok", example, question words, answer words)
Outcome = Union[Ok, tuple[str, str], tuple[str, str, Example]]  # ("bad", reason) | ("drop", reason, example)


def clean_row(fields: dict[str, Any] | None, error: str | None, src: SourceConfig, data: DataConfig,
              rules: tuple[Rule, ...], log: CleaningLog | None, label: str | None) -> Outcome:
    """The outcome of one raw row; `label` names the source on the example when several are mixed."""
    try:
        if error:
            raise RowError(error)
        ex = to_example(fields or {}, src.schema_, src.question_field, src.answer_field, src.group_field)
        if len(ex.question) + len(ex.answer) + sum(len(t) for _, t in ex.history) > MAX_ROW_CHARS:
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
    return ("drop", reason, ex) if reason else ("ok", ex, qw, aw)


def auto_workers(data: DataConfig) -> int:
    """Worker processes for cleaning: none for small local inputs, else one per spare core (at most 3)."""
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
    return 0 if size < SMALL_INPUT_BYTES or cores < 2 else min(cores - 1, 3)


_WORKER: dict[str, Any] = {}


def _init_worker(data: DataConfig, plans: list[SourcePlan], keep: int) -> None:
    _WORKER.update(data=data, plans=plans, keep=keep, rules=enabled_rules(data.cleaning), mixed=len(plans) > 1)


def _clean_batch(batch: list[tuple[int, dict[str, Any] | None, str | None]]) -> tuple[list[Outcome], CleaningLog]:
    log = CleaningLog(keep=_WORKER["keep"])
    outcomes = []
    for index, fields, error in batch:
        src = _WORKER["plans"][index].cfg
        label = src.source if _WORKER["mixed"] else None
        outcomes.append(clean_row(fields, error, src, _WORKER["data"], _WORKER["rules"], log, label))
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
                workers: int) -> Iterator[tuple[SourcePlan, RawRow, Outcome]]:
    # spawn, not fork: the parent holds the tokenizer's thread pool, which a forked child must not inherit
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(data, plans, log.keep)) as pool:
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
               workers: int) -> Iterator[tuple[SourcePlan, RawRow, Outcome]]:
    """(plan, raw row, outcome) for every raw row, in input order."""
    if workers > 0:
        yield from _in_workers(rows, data, plans, log, workers)
        return
    rules, mixed = enabled_rules(data.cleaning), len(plans) > 1
    for plan, raw in rows:
        label = plan.cfg.source if mixed else None
        yield plan, raw, clean_row(raw.fields, raw.error, plan.cfg, data, rules, log, label)
