"""Length statistics of prepared splits (what `stats.json` reports under "tokens").

`LengthStats` collects (prompt tokens, answer tokens) per kept row while `prepare` streams, as compact
integer arrays, and summarises them as percentiles, totals and how many rows `train.max_seq_len` truncates.
`token_stats` measures a list of examples directly.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

from medqa.data.schema import Example

PERCENTILES = (50, 90, 95, 99, 100)


def percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    idx = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[idx]


class LengthStats:
    """Prompt and answer lengths of the rows of one split."""

    def __init__(self) -> None:
        self.prompt = array("I")
        self.answer = array("I")

    def add(self, prompt_tokens: int, answer_tokens: int) -> None:
        self.prompt.append(prompt_tokens)
        self.answer.append(answer_tokens)

    def summary(self, max_len: int) -> dict[str, Any]:
        totals = sorted(p + a for p, a in zip(self.prompt, self.answer))
        answers = sorted(self.answer)
        truncated_rows = truncated_tokens = 0
        for p, a in zip(self.prompt, self.answer):
            if p + a > max_len:
                truncated_rows += 1
                truncated_tokens += min(p + a - max_len, a)
        return {
            "rows": len(totals),
            "tokens_total": sum(totals),
            "sequence_tokens": {f"p{q}": percentile(totals, q) for q in PERCENTILES},
            "answer_tokens": {f"p{q}": percentile(answers, q) for q in PERCENTILES},
            "truncated_rows": truncated_rows,
            "truncated_answer_tokens": truncated_tokens,
            "max_seq_len": max_len,
        }


def token_stats(tokenizer: Any, examples: Iterable[Example], system: str | None, max_len: int) -> dict[str, Any]:
    """Length percentiles (full sequence and answer) and how many rows the sequence cap truncates."""
    from medqa.data.lengths import PieceCounter

    counter, stats = PieceCounter(tokenizer, system), LengthStats()
    batch: list[Example] = []
    for ex in [*examples, None]:
        if ex is not None:
            batch.append(ex)
        if batch and (ex is None or len(batch) == 512):
            for prompt, answer in counter.lengths(batch):
                stats.add(prompt, answer)
            batch = []
    return stats.summary(max_len)
