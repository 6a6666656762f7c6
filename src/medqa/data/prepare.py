"""`medqa prepare`: raw rows → cleaned, deduplicated, split JSONL with statistics.

    medqa prepare --source embedded --output data/prepared

Steps: read (streaming) → map schema → clean → filter → deduplicate → split → write → describe. Malformed rows
go to `quarantine.jsonl` with their source line and reason; the run fails only when their share passes
`data.max_bad_fraction`. The output folder is written beside the target and renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig
from medqa.data.cleaning import clean_text, normalise_key
from medqa.data.schema import Example, RowError, to_example
from medqa.data.sources import iter_rows
from medqa.data.splits import SPLITS, assign_split
from medqa.errors import DataError


@dataclass
class PrepareResult:
    output_dir: Path
    rows_in: int = 0
    rows_out: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    dropped: Counter = field(default_factory=Counter)
    changed: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def _words(text: str) -> int:
    return len(text.split())


def _drop_reason(ex: Example, cfg: MedqaConfig) -> str | None:
    if not ex.question.strip():
        return "empty_question"
    if not ex.answer.strip():
        return "empty_answer"
    if _words(ex.question) < cfg.data.min_question_words:
        return "short_question"
    if _words(ex.answer) < cfg.data.min_answer_words:
        return "short_answer"
    return None


def _clean(ex: Example, changed: dict[str, int]) -> Example:
    return Example(question=clean_text(ex.question, changed=changed), answer=clean_text(ex.answer, changed=changed),
                   system=ex.system, history=tuple((r, clean_text(t)) for r, t in ex.history), id=ex.id,
                   topic=ex.topic, statements=ex.statements)


def _pair_key(ex: Example) -> bytes:
    return hashlib.blake2b(f"{normalise_key(ex.question)}\x00{normalise_key(ex.answer)}".encode(), digest_size=16).digest()


def _process_rows(cfg: MedqaConfig, out: Path, result: PrepareResult) -> None:
    seen: set[bytes] = set()
    handles = {s: (out / f"{s}.jsonl").open("w", encoding="utf-8") for s in SPLITS}
    quarantine = (out / "quarantine.jsonl").open("w", encoding="utf-8")
    try:
        for raw in iter_rows(cfg.data.source, cfg.data.hub_split):
            if cfg.data.max_rows and result.rows_in >= cfg.data.max_rows:
                break
            result.rows_in += 1
            try:
                if raw.error:
                    raise RowError(raw.error)
                ex = to_example(raw.fields or {}, cfg.data.schema_, cfg.data.question_field, cfg.data.answer_field)
            except RowError as err:
                result.dropped["malformed"] += 1
                quarantine.write(json.dumps({"source": raw.source, "line": raw.line, "reason": str(err)}) + "\n")
                continue
            ex = _clean(ex, result.changed)
            reason = _drop_reason(ex, cfg)
            key = _pair_key(ex)
            if reason is None and key in seen:
                reason = "duplicate"
            if reason:
                result.dropped[reason] += 1
                continue
            seen.add(key)
            split = assign_split(ex.question, cfg.data.val_fraction, cfg.data.test_fraction, cfg.data.split_salt)
            handles[split].write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
            result.rows_out[split] += 1
    finally:
        for h in (*handles.values(), quarantine):
            h.close()


def _check_outcome(cfg: MedqaConfig, result: PrepareResult) -> None:
    if result.rows_in == 0:
        raise DataError(f"{cfg.data.source} holds no rows: give a data file with question/answer rows")
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


def _describe(cfg: MedqaConfig, out: Path, result: PrepareResult, tokenizer: Any) -> None:
    from medqa.runs import save_resolved_config, write_json
    from medqa.data.formatting import system_prompt

    stats: dict[str, Any] = {
        "source": cfg.data.source, "rows_in": result.rows_in, "rows_out": sum(result.rows_out.values()),
        "splits": result.rows_out, "dropped": dict(result.dropped), "dropped_total": sum(result.dropped.values()),
        "changed_by_rule": result.changed,
    }
    if tokenizer is not None:
        from medqa.data.stats import token_stats

        stats["tokens"] = {s: token_stats(tokenizer, read_split(out, s), system_prompt(cfg.prompt.system_prompt), cfg.train.max_seq_len)
                           for s in SPLITS}
    result.stats = stats
    write_json(out / "stats.json", stats)
    save_resolved_config(out, cfg)


def run_prepare(cfg: MedqaConfig, output_dir: str | Path, tokenizer: Any = None) -> PrepareResult:
    """Prepare `cfg.data.source` into `output_dir` (train/validation/test JSONL, stats.json, config.yaml)."""
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    result = PrepareResult(output_dir)
    try:
        _process_rows(cfg, tmp, result)
        _check_outcome(cfg, result)
        _describe(cfg, tmp, result, tokenizer)
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
