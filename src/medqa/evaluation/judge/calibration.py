"""`medqa judge calibrate`: how often the judge agrees with people, so every judged number can carry that.

    medqa judge calibrate --labels labels.jsonl --judge http://127.0.0.1:8001/v1 --judge-model NAME \
        --output runs/judge-calibration.json
    medqa eval --task judge ... --judge-calibration runs/judge-calibration.json

A labels file holds JSON lines of two kinds (mixed freely):
- statement labels: `question`, `answer`, `statement`, `label` (entailed / contradicted / not_addressed);
- criterion labels: `question` (or a `conversation` list), `answer`, `criterion`, optional `points` (default 1),
  `met` (true / false). `medqa review labels REVIEW_DIR` writes these from clinicians' review ratings.
The judge grades every pair with the prompts eval uses; agreement is macro F1 and Cohen's kappa (scikit-learn)
with the confusion matrix, per kind. An unparseable judge reply counts as a disagreement, in its own column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.config import JudgeConfig
from medqa.errors import DataError
from medqa.evaluation.judge.grader import STATEMENT_LABELS, Grader, JudgeCache
from medqa.evaluation.judge.prompts import load_prompt, transcript

UNPARSEABLE = "unparseable"


def read_labels(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """{"statement": [...], "rubric": [...]}; a malformed line stops with its file and line, nothing is graded."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist")
    out: dict[str, list[dict[str, Any]]] = {"statement": [], "rubric": []}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("answer"), str):
                raise ValueError("each line needs an `answer`")
            if "statement" in row:
                if row.get("label") not in STATEMENT_LABELS:
                    raise ValueError(f"label must be one of {', '.join(STATEMENT_LABELS)}")
                out["statement"].append(row)
            elif "criterion" in row:
                if not isinstance(row.get("met"), bool):
                    raise ValueError("met must be true or false")
                if not isinstance(row.get("points", 1), int | float):
                    raise ValueError("points must be a number")
                out["rubric"].append(row)
            else:
                raise ValueError("a line needs a `statement` (with `label`) or a `criterion` (with `met`)")
        except ValueError as err:
            raise DataError(f"{path}:{number}: {err}") from err
    if not out["statement"] and not out["rubric"]:
        raise DataError(f"{path} holds no labels")
    return out


def _messages(kind: str, row: dict[str, Any]) -> list[dict[str, str]]:
    prompt = load_prompt(kind)
    question = row.get("question") or ""
    if kind == "statement":
        return prompt.messages(question=question, answer=row["answer"], statement=row["statement"])
    conversation = row.get("conversation") or [{"role": "user", "content": question}]
    return prompt.messages(conversation=transcript(conversation), answer=row["answer"], criterion=row["criterion"],
                           points=f"{float(row.get('points', 1)):g}")


def agreement(human: list[str], judge: list[str], labels: list[str]) -> dict[str, Any]:
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score

    columns = labels + ([UNPARSEABLE] if UNPARSEABLE in judge else [])
    kappa = cohen_kappa_score(human, judge, labels=columns)
    return {"n": len(human), "macro_f1": float(f1_score(human, judge, labels=labels, average="macro",
                                                         zero_division=0)),
            "cohen_kappa": None if kappa != kappa else float(kappa), "accuracy": sum(
                h == j for h, j in zip(human, judge)) / len(human),
            "confusion": {"rows_human": labels, "columns_judge": columns,
                          "matrix": confusion_matrix(human, judge, labels=columns)[:len(labels)].tolist()},
            "unparseable": judge.count(UNPARSEABLE)}


def calibrate(labels_file: str | Path, cfg: JudgeConfig, cache: Path | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Grade every labelled pair with the judge and measure agreement per kind."""
    from medqa.evaluation.judge.client import describe, judge_client

    rows = read_labels(labels_file)
    client = judge_client(cfg)
    grader = Grader(client, JudgeCache(cache).load(), progress)
    result: dict[str, Any] = {"judge_model": client.model, "judge": describe(cfg, client.model),
                              "labels_file": str(labels_file), "prompts": {}, "kinds": {}}
    try:
        for kind, found in rows.items():
            if not found:
                continue
            prompt = load_prompt(kind)
            judged = grader.grade(kind, prompt.id, client.model, [_messages(kind, r) for r in found],
                                  f"calibrate {kind}s")
            if kind == "statement":
                human, names = [r["label"] for r in found], list(STATEMENT_LABELS)
                judge = [j.verdict or UNPARSEABLE for j in judged]
            else:
                human, names = [str(r["met"]).lower() for r in found], ["true", "false"]
                judge = [UNPARSEABLE if j.verdict is None else str(j.verdict).lower() for j in judged]
            result["prompts"][kind] = prompt.id
            result["kinds"][kind] = agreement(human, judge, names)
    finally:
        client.close()
    result["usage"] = {"calls": grader.usage.calls, "cached": grader.usage.cached, "tokens": grader.usage.tokens}
    return result
