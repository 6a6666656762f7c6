"""Small eval outputs in `medqa eval`'s answers.jsonl shape, written for the review tests (imported by them: a
conftest.py here would shadow tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

QUESTIONS = [f"Question {i}: I have had a mild headache for {i + 1} days, what should I do?" for i in range(40)]


def write_eval(folder: Path, models: dict[str, str], n: int = 6, safety: bool = False) -> Path:
    """An eval output folder whose models answer `n` questions; answers are the model's label plus the number."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"task": "freetext", "id": f"q{i}", "model": name, "question": QUESTIONS[i], "reference": "Rest.",
             "answer": f"{style} answer {i}.", "stopped": True, "tokens": 5}
            for name, style in models.items() for i in range(n)]
    rows += [{"task": "mcq", "benchmark": "x", "model": name, "id": "m1", "pred": "A"} for name in models]
    if safety:
        rows += [{"task": "safety", "id": "e1", "model": name, "urgent": True, "question": "Crushing chest pain.",
                  "answer": "raw", "wrapped": f"Call emergency services. {style}."} for name, style in models.items()]
    (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture()
def eval_dir(tmp_path) -> Path:
    return write_eval(tmp_path / "eval", {"base": "Plain", "tuned-qx7": "Careful"})
