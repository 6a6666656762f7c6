"""Token-length statistics of prepared splits under the chosen tokenizer (what `stats.json` reports)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medqa.data.formatting import answer_suffix, encode_example
from medqa.data.schema import Example

PERCENTILES = (50, 90, 95, 99, 100)


def percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    idx = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[idx]


def token_stats(tokenizer: Any, examples: Iterable[Example], system: str | None, max_len: int) -> dict[str, Any]:
    """Length percentiles (full sequence and answer) and how many rows the sequence cap truncates."""
    suffix = answer_suffix(tokenizer)
    totals, answers, truncated_rows, truncated_tokens = [], [], 0, 0
    for ex in examples:
        enc = encode_example(tokenizer, ex, system, max_len=10**9, suffix=suffix)
        n = len(enc.input_ids)
        totals.append(n)
        answers.append(enc.answer_tokens)
        if n > max_len:
            truncated_rows += 1
            truncated_tokens += min(n - max_len, enc.answer_tokens)
    totals.sort()
    answers.sort()
    return {
        "rows": len(totals),
        "tokens_total": sum(totals),
        "sequence_tokens": {f"p{q}": percentile(totals, q) for q in PERCENTILES},
        "answer_tokens": {f"p{q}": percentile(answers, q) for q in PERCENTILES},
        "truncated_rows": truncated_rows,
        "truncated_answer_tokens": truncated_tokens,
        "max_seq_len": max_len,
    }
