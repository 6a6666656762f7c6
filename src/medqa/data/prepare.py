"""`medqa prepare`: raw rows → cleaned, deduplicated, split JSONL with statistics and a data card.

    medqa prepare --source embedded --output data/prepared
    medqa prepare --source a.jsonl,weight=2 --source ../shared/data/medquad,weight=1 --eval-file mmlu.csv

Steps: plan the sources (caps or weights) → read (streaming) → map schema → clean (named rules) → per-row
filters (empty, short, language) → in chunks: token lengths and length filter → exact and near duplicates
→ split (by group or question) → contamination check of training rows → write → describe (`stats.json`,
`DATA_CARD.md`, length histograms). Malformed rows go to `quarantine.jsonl` with their source line and
reason; the run fails only when their share passes `data.max_bad_fraction`. The output folder is written
beside the target and renamed into place at the end, so a failed run leaves nothing behind. Inputs over
8 MB are cleaned in worker processes (`data.workers`); the output does not depend on their number.
Throughput: `python benchmarks/prepare_throughput.py` (100,000 noisy HealthCareMagic-style rows).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig
from medqa.data.dedup import NearDuplicateIndex
from medqa.data.mixing import SourcePlan, plan_sources
from medqa.data.pipeline import RunState, chunks, process_chunk, read_examples
from medqa.data.schema import Example
from medqa.data.splits import SPLITS
from medqa.errors import DataError


@dataclass
class PrepareResult:
    output_dir: Path
    rows_in: int = 0
    rows_out: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    dropped: Counter = field(default_factory=Counter)
    changed: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # before/after pairs per rule or drop


def _counter(cfg: MedqaConfig, tokenizer: Any) -> Any:
    from medqa.data.lengths import PieceCounter, WordCounter

    if tokenizer is None:
        return WordCounter()
    from medqa.data.formatting import system_prompt

    return PieceCounter(tokenizer, system_prompt(cfg.prompt.system_prompt))


def _eval_index(cfg: MedqaConfig, state: RunState) -> None:
    files = cfg.data.contamination.eval_files
    if files:
        from medqa.data.contamination import build_eval_index

        state.eval_index = build_eval_index(files, cfg.data.contamination.ngram)


def _process_rows(cfg: MedqaConfig, plans: list[SourcePlan], out: Path, tokenizer: Any, keep: int) -> RunState:
    from medqa.data.cleaning import CleaningLog

    # errors="replace": a lone surrogate from a JSON escape must not stop the write
    handles = {s: (out / f"{s}.jsonl").open("w", encoding="utf-8", errors="replace") for s in SPLITS}
    quarantine = (out / "quarantine.jsonl").open("w", encoding="utf-8", errors="replace")
    try:
        state = RunState(cfg, _counter(cfg, tokenizer), handles, quarantine, CleaningLog(keep=keep))
        if cfg.data.near_dup.enabled:
            state.near = NearDuplicateIndex(cfg.data.near_dup)
        _eval_index(cfg, state)
        for chunk in chunks(read_examples(plans, state)):
            process_chunk(state, chunk)
    finally:
        for h in (*handles.values(), quarantine):
            h.close()
    return state


def _sources_label(cfg: MedqaConfig) -> str:
    return ", ".join(s.source for s in cfg.data.source_list())


def _check_outcome(cfg: MedqaConfig, result: PrepareResult) -> None:
    if result.rows_in == 0:
        raise DataError(f"{_sources_label(cfg)} is empty or holds no rows: give a data file with question/answer rows")
    bad = result.dropped["malformed"] / result.rows_in
    if bad > cfg.data.max_bad_fraction:
        raise DataError(f"{result.dropped['malformed']} of {result.rows_in} rows are malformed ({bad:.0%} > "
                        f"data.max_bad_fraction={cfg.data.max_bad_fraction}); see the quarantine file for the first "
                        "reasons, fix the schema mapping (--question-field/--answer-field) or the file")
    if result.rows_out["train"] == 0:
        raise DataError(f"no usable training rows remain out of {result.rows_in} (dropped: {dict(result.dropped)}); "
                        "check the schema mapping or lower data.min_question_words / data.min_answer_words")


def read_split(prepared_dir: Path, split: str) -> list[Example]:
    path = Path(prepared_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path} not found: run `medqa prepare --output {prepared_dir}` first")
    with path.open(encoding="utf-8") as fh:
        return [Example.from_json(json.loads(line)) for line in fh if line.strip()]


def _source_stats(plans: list[SourcePlan], state: RunState) -> list[dict[str, Any]]:
    from medqa.data.datacard import license_for

    out = []
    for plan in plans:
        tally = state.per_source.get(plan.index, Counter())
        dropped = {k: v for k, v in tally.items() if k not in ("in", "out")}
        out.append({"source": plan.cfg.source, "license": license_for(plan.cfg.source, plan.cfg.license),
                    "weight": plan.cfg.weight, "max_rows": plan.cap, "rows_available": plan.available,
                    "rows_in": tally["in"], "rows_out": tally["out"], "dropped": dropped})
    return out


def _is_medquad(source: str) -> bool:
    from medqa.data.medquad import is_medquad_dir

    return is_medquad_dir(Path(source))


def _stats(cfg: MedqaConfig, result: PrepareResult, state: RunState, plans: list[SourcePlan]) -> dict[str, Any]:
    data = cfg.data
    stats: dict[str, Any] = {
        "source": _sources_label(cfg), "rows_in": result.rows_in, "rows_out": sum(result.rows_out.values()),
        "splits": result.rows_out, "dropped": dict(result.dropped), "dropped_total": sum(result.dropped.values()),
        "changed_by_rule": result.changed, "sources": _source_stats(plans, state),
        "rules_off": [name for name, on in data.cleaning.model_dump().items() if not on],
        "quarantined": result.dropped["malformed"], "encoding_fallbacks": dict(state.notes),
        "lengths": {"unit": "words" if state.counter.method == "words" else "tokens", **state.counter.describe(),
                    "filter": data.length.model_dump()},
        "group_by": {p.cfg.source: p.cfg.group_field or ("document id (MedQuAD)" if _is_medquad(p.cfg.source) else None)
                     for p in plans},
        "rows_split_by_group": state.grouped, "rows_with_topic": sum(state.topics.values()),
    }
    if state.near is not None:
        stats["near_duplicates"] = {**data.near_dup.model_dump(), "bands": state.near.bands, "rows_per_band": state.near.rows}
    if state.eval_index is not None:
        stats["contamination"] = {**state.eval_index.to_json(), "train_rows_overlapping": state.contaminated,
                                  "dropped": data.contamination.drop, "examples": state.contamination_samples}
    if state.counter.method != "words":
        stats["tokens"] = {s: state.lengths[s].summary(cfg.train.max_seq_len) for s in SPLITS}
    return stats


def _attach_passages(cfg: MedqaConfig, out: Path) -> dict[str, Any]:
    """Retrieved passages into the train and validation prompts (see medqa.data.passages); test stays bare, since
    the answer pipeline retrieves at evaluation time."""
    from medqa.data.formatting import system_prompt
    from medqa.data.passages import attach_passages
    from medqa.retrieval.index import Index

    index = Index.load(cfg.index.path, cfg.index)
    stats: dict[str, Any] = {"index": cfg.index.path, "passages_per_prompt": cfg.index.train_passages}
    for split in ("train", "validation"):
        rows, stats[split] = attach_passages(read_split(out, split), index, cfg.index,
                                             system_prompt(cfg.prompt.system_prompt), seed=cfg.train.seed)
        with (out / f"{split}.jsonl").open("w", encoding="utf-8", errors="replace") as fh:
            fh.writelines(json.dumps(ex.to_json(), ensure_ascii=False) + "\n" for ex in rows)
    return stats


def _describe(cfg: MedqaConfig, out: Path, result: PrepareResult, state: RunState, plans: list[SourcePlan],
              passages: dict[str, Any] | None = None) -> None:
    from medqa.data.datacard import write_data_card
    from medqa.runs import save_resolved_config, write_json

    result.stats = _stats(cfg, result, state, plans)
    if passages is not None:
        result.stats["passages"] = passages
    write_json(out / "stats.json", result.stats)
    write_data_card(out, result.stats, state)
    save_resolved_config(out, cfg)


def run_prepare(cfg: MedqaConfig, output_dir: str | Path, tokenizer: Any = None, keep_changes: int = 3) -> PrepareResult:
    """Prepare `cfg.data.source` (or the mix in `cfg.data.sources`) into `output_dir`: train/validation/test
    JSONL, quarantine.jsonl, stats.json, DATA_CARD.md with length histograms, config.yaml."""
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    result = PrepareResult(output_dir)
    try:
        plans = plan_sources(cfg.data)
        state = _process_rows(cfg, plans, tmp, tokenizer, keep_changes)
        passages = _attach_passages(cfg, tmp) if cfg.index.path else None
        result.rows_in, result.rows_out, result.dropped = state.rows_in, state.rows_out, state.dropped
        result.changed, result.changes = state.log.changed, state.log.samples
        _check_outcome(cfg, result)
        _describe(cfg, tmp, result, state, plans, passages)
        _replace_dir(tmp, output_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _replace_dir(src: Path, dst: Path) -> None:
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dst.rename(old)
        src.rename(dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        src.rename(dst)
