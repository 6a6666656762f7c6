"""Human-readable views of evaluation results: a terminal table now, Markdown/HTML reports later."""

from __future__ import annotations

from typing import Any


def print_loss_table(losses: dict[str, dict[str, dict[str, float]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    splits = sorted({s for per in losses.values() for s in per})
    table = Table(title="answer-token loss (perplexity)")
    table.add_column("model")
    for s in splits:
        table.add_column(s, justify="right")
    for name, per in losses.items():
        table.add_row(name, *(f"{per[s]['loss']:.3f} ({per[s]['perplexity']:.1f})" if s in per else "-" for s in splits))
    Console().print(table)


def loss_delta(losses: dict[str, Any], model: str, split: str = "test") -> float:
    return losses[model][split]["loss"] - losses["base"][split]["loss"]
