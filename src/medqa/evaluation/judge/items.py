"""What the judge grades against, read from the files people publish:

- K-QA (`Question`, `Must_have`, `Nice_to_have`, as in questions_w_answers.jsonl) and medqa rows with `question`
  and `statements` (optional `nice_to_have`): a question and physician-written statements;
- HealthBench (`prompt` conversation, `rubrics` of criterion / points / tags, `example_tags`, `prompt_id`): a
  conversation and rubric criteria worth positive or negative points.

Rows that fit neither are counted and reported by file and line, never fatal to the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medqa.errors import DataError


@dataclass(frozen=True)
class StatementItem:
    id: str
    question: str
    must_have: tuple[str, ...]
    nice_to_have: tuple[str, ...] = ()

    @property
    def conversation(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.question}]


@dataclass(frozen=True)
class Criterion:
    text: str
    points: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RubricItem:
    id: str
    conversation: list[dict[str, str]]
    criteria: tuple[Criterion, ...]
    tags: tuple[str, ...] = ()


@dataclass
class JudgeItems:
    statements: list[StatementItem] = field(default_factory=list)
    rubrics: list[RubricItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_judge_file(path: str | Path, items: JudgeItems | None = None) -> JudgeItems:
    """Add a file's items (either kind, detected per row) to `items`."""
    path, items = Path(path), items or JudgeItems()
    if not path.is_file():
        raise DataError(f"judge file {path} does not exist")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            if "rubrics" in row:
                items.rubrics.append(_rubric_item(row, where))
            else:
                items.statements.append(_statement_item(row, where))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            items.problems.append(f"{where}: {err}")
    return items


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(s.strip() for s in value if s.strip())


def _statement_item(row: dict[str, Any], where: str) -> StatementItem:
    question = row.get("Question", row.get("question"))
    must = _strings(row.get("Must_have", row.get("statements")), "Must_have / statements")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question (K-QA's Question, or question)")
    if not must:
        raise ValueError("no reference statements (K-QA's Must_have, or statements)")
    nice = _strings(row.get("Nice_to_have", row.get("nice_to_have")), "Nice_to_have / nice_to_have")
    return StatementItem(str(row.get("id", where.rpartition("/")[2])), question.strip(), must, nice)


def _rubric_item(row: dict[str, Any], where: str) -> RubricItem:
    prompt = row.get("prompt")
    if not isinstance(prompt, list) or not prompt or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") in ("system", "user",
                                                                                             "assistant")
            for m in prompt) or prompt[-1]["role"] != "user":
        raise ValueError("prompt must be a list of {role, content} messages ending with the user's")
    criteria = []
    for rubric in row["rubrics"]:
        if not isinstance(rubric.get("criterion"), str) or not isinstance(rubric.get("points"), int | float):
            raise ValueError("each rubric needs a criterion (text) and points (a number)")
        criteria.append(Criterion(rubric["criterion"], float(rubric["points"]), _strings(rubric.get("tags"), "tags")))
    if not any(c.points > 0 for c in criteria):
        raise ValueError("no criterion with positive points, so no score can be computed")
    return RubricItem(str(row.get("prompt_id", where.rpartition("/")[2])),
                      [{"role": m["role"], "content": m["content"]} for m in prompt], tuple(criteria),
                      _strings(row.get("example_tags"), "example_tags"))


def statement_items_from_examples(examples: list[Any]) -> list[StatementItem]:
    """Prepared rows that carry `statements` (the embedded set does) as statement items."""
    return [StatementItem(str(ex.id or k), ex.question, tuple(ex.statements))
            for k, ex in enumerate(examples) if ex.statements]
