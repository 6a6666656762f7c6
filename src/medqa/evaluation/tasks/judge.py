"""`medqa eval --task judge`: answers graded by a judge model, statement by statement and criterion by criterion.

    medqa eval --task judge --judge http://127.0.0.1:8001/v1 --judge-model NAME --judge-file kqa.jsonl \
        --adapter runs/demo --output runs/eval

Each model answers every item through the answer pipeline (the answers `serve` would return: triage, policy),
from the same generation cache as the other tasks. The judge grades each (answer, statement) and (answer,
criterion) pair with the versioned prompts in medqa/evaluation/judge/prompts. Without `--judge-file`, the items
are the data's test rows that carry `statements` (the embedded set does). Without a judge, the task says which
numbers it skipped and why, and the other tasks run as usual.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig
from medqa.evaluation.answers import answer_all
from medqa.evaluation.judge.grader import Grader, JudgeCache
from medqa.evaluation.judge.items import JudgeItems, read_judge_file, statement_items_from_examples
from medqa.evaluation.judge.prompts import load_prompt, transcript
from medqa.evaluation.judge.scores import rubric_scores, statement_scores
from medqa.evaluation.readers import stratified_sample

JUDGED_METRICS = ["comprehensiveness", "hallucinations_per_answer", "rubric score (overall and per tag)"]
JUDGEMENTS_NAME = "judgements.jsonl"


def run_judge(ctx: Any, cfg: MedqaConfig, data: Path) -> dict[str, Any]:
    if not cfg.judge.url:
        return {"skipped": "no judge configured (--judge URL, any OpenAI-compatible server)",
                "skipped_metrics": JUDGED_METRICS}
    from medqa.evaluation.judge.client import describe, judge_client

    items, hashes = _items(cfg, data, ctx.settings)
    calibration = cfg.judge.calibration and _read_calibration(cfg)
    client = judge_client(cfg.judge)
    cache_path = Path(cfg.judge.cache) if cfg.judge.cache else (
        ctx.cache.path.parent / JUDGEMENTS_NAME if ctx.cache.path else None)
    grader = Grader(client, JudgeCache(cache_path).load(), ctx.progress)
    result: dict[str, Any] = {"judge": describe(cfg.judge, client.model), "models": {}, "rows": [], "data": hashes,
                              "items": {"statements": len(items.statements), "rubrics": len(items.rubrics)},
                              "problems": items.problems[:50], "problem_count": len(items.problems),
                              "calibration": _applies(calibration, client.model) if calibration else None}
    try:
        for ref in ctx.refs:
            scores: dict[str, Any] = {}
            if items.statements:
                scores["statements"] = _grade_statements(ctx, ref, items, grader, client.model, result["rows"])
            if items.rubrics:
                scores["rubrics"] = _grade_rubrics(ctx, ref, items, grader, client.model, result["rows"])
            result["models"][ref.name] = scores
    finally:
        client.close()
    u = grader.usage
    result["usage"] = {"calls": u.calls, "cached": u.cached, "unparseable": u.unparseable, "tokens": u.tokens,
                       "cached_tokens": u.cached_tokens, "prompts": {k: load_prompt(k).id for k in ("statement",
                                                                                                   "rubric")}}
    return result


def _items(cfg: MedqaConfig, data: Path, settings: Any) -> tuple[JudgeItems, dict[str, str]]:
    from medqa.evaluation.cache import file_hash

    items = JudgeItems()
    if cfg.judge.files:
        for f in cfg.judge.files:
            read_judge_file(f, items)
        hashes = {f"judge/{Path(f).name}": file_hash(Path(f)) for f in cfg.judge.files}
    else:
        from medqa.evaluation.tasks.freetext import load_examples

        examples, source = load_examples(data, cfg, "test")
        items.statements = statement_items_from_examples(examples)
        hashes = {"judge/statements": file_hash(source)}
    if not items.statements and not items.rubrics:
        from medqa.errors import DataError

        raise DataError("nothing for the judge to grade: give --judge-file with K-QA or HealthBench rows, or data "
                        "whose rows carry `statements`" + (f" ({items.problems[0]})" if items.problems else ""))
    items.statements = stratified_sample(items.statements, settings.limit, key=lambda i: "", seed=settings.seed)
    items.rubrics = stratified_sample(items.rubrics, settings.limit, key=lambda i: ",".join(i.tags),
                                      seed=settings.seed)
    return items, hashes


def _answers(ctx: Any, ref: Any, conversations: list[list[dict[str, str]]], desc: str) -> list[str]:
    """What `serve` would return for each conversation: with an index its passages in the prompt (or the
    abstention), then the model's answer through triage, grounding and the policy."""
    pipeline = ctx.pipeline
    prepared = [pipeline.prepare(c) for c in conversations]
    asked = [i for i, p in enumerate(prepared) if not p.abstains]
    raw = answer_all(ctx.generator, ref, [prepared[i].prompt for i in asked], ctx.answer, ctx.cache, desc)
    texts = dict(zip(asked, (a["text"] for a in raw), strict=True))
    return [pipeline.finish(texts.get(i, ""), pipeline.triage(p.conversation), p.grounding)
            for i, p in enumerate(prepared)]


def _grade_statements(ctx: Any, ref: Any, items: JudgeItems, grader: Grader, judge: str,
                      rows: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = load_prompt("statement")
    answers = _answers(ctx, ref, [i.conversation for i in items.statements], "judge answers")
    pairs = [(k, kind, s) for k, item in enumerate(items.statements)
             for kind, statements in (("must_have", item.must_have), ("nice_to_have", item.nice_to_have))
             for s in statements]
    judged = grader.grade("statement", prompt.id, judge, [
        prompt.messages(question=items.statements[k].question, answer=answers[k], statement=s) for k, _, s in pairs],
        f"judge statements [{ref.name}]")
    must: list[list[str | None]] = [[] for _ in items.statements]
    nice: list[list[str | None]] = [[] for _ in items.statements]
    for (k, kind, statement), j in zip(pairs, judged, strict=True):
        (must if kind == "must_have" else nice)[k].append(j.verdict)
        rows.append({"task": "judge", "kind": kind, "id": items.statements[k].id, "model": ref.name,
                     "question": items.statements[k].question, "answer": answers[k], "statement": statement,
                     "label": j.verdict, "reason": j.reason, **({} if j.verdict else {"raw": j.raw})})
    return statement_scores(must, nice, ctx.settings.seed)


def _grade_rubrics(ctx: Any, ref: Any, items: JudgeItems, grader: Grader, judge: str,
                   rows: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = load_prompt("rubric")
    answers = _answers(ctx, ref, [i.conversation for i in items.rubrics], "judge answers")
    pairs = [(k, c) for k, item in enumerate(items.rubrics) for c in item.criteria]
    judged = grader.grade("rubric", prompt.id, judge, [
        prompt.messages(conversation=transcript(items.rubrics[k].conversation), answer=answers[k],
                        criterion=c.text, points=f"{c.points:g}") for k, c in pairs], f"judge rubrics [{ref.name}]")
    met: list[list[bool | None]] = [[] for _ in items.rubrics]
    for (k, criterion), j in zip(pairs, judged, strict=True):
        met[k].append(j.verdict)
        rows.append({"task": "judge", "kind": "rubric", "id": items.rubrics[k].id, "model": ref.name,
                     "answer": answers[k], "criterion": criterion.text, "points": criterion.points,
                     "tags": list(criterion.tags), "met": j.verdict, "reason": j.reason,
                     **({} if j.verdict is not None else {"raw": j.raw})})
    return rubric_scores(items.rubrics, met, ctx.settings.seed)


def _read_calibration(cfg: MedqaConfig) -> dict[str, Any]:
    try:
        return json.loads(Path(cfg.judge.calibration).read_text(encoding="utf-8"))  # type: ignore[arg-type]
    except (OSError, ValueError) as err:
        from medqa.errors import DataError

        raise DataError(f"--judge-calibration {cfg.judge.calibration} is not a `medqa judge calibrate` result "
                        f"({err})") from None


def _applies(found: dict[str, Any], judge_model: str) -> dict[str, Any]:
    """The calibration, marked with whether it measured this judge model with these prompt versions."""
    same_prompts = all(load_prompt(k).id == v for k, v in found.get("prompts", {}).items())
    return {**found, "applies": found.get("judge_model") == judge_model and same_prompts}
