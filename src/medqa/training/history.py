"""Loss history: one JSON line per optimiser step (validation loss on evaluation steps) and its PNG curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.runs import atomic_write_text


class History:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        if path.is_file():
            self.records = _read_records(path)

    def truncate_after(self, step: int) -> None:
        """Forget steps after a resumed checkpoint, so the history matches an uninterrupted run."""
        self.records = [r for r in self.records if r["step"] <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.records))  # a kill keeps one copy

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Complete records only: a process killed mid-write leaves a partial last line, which is dropped."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_loss(records: list[dict[str, Any]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot([r["step"] for r in records], [r["loss"] for r in records], label="train", lw=1.2)
    val = [r for r in records if r.get("val_loss") is not None]
    if val:
        ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="validation", lw=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("answer-token loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
