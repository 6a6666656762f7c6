"""Free-text QA: answer held-out questions with each model and compare the answers with the references.

    medqa eval --task freetext --data data/prepared --adapter runs/demo --limit 200 --output runs/demo/eval

`--data` is a prepared folder (its test split is used) or any file `medqa prepare` reads (.json, .jsonl, .csv,
.parquet; mapped with data.question_field / data.answer_field). Answers are the raw model output, greedy by
default, with the training system prompt; the safety policy is scored separately by the safety task because its
fixed urgent/referral text would blur overlap metrics. Metrics: ROUGE-1/2/L, BLEU, chrF, BERTScore-style P/R/F1,
statement coverage (rows with must-have `statements`) and answer behaviour (see `metrics.behaviour`).

With `--index DIR` every model also answers with the retrieved passages in its prompt ("NAME+sources"); those
answers are scored as grounding shows them (unsupported sentences dropped, citations checked), next to the
ungrounded ones, with the abstention rate, the share of answer sentences a passage supports, and the share of
the model's own [n] citations whose passage supports their sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig
from medqa.data.formatting import to_messages
from medqa.data.schema import Example, RowError, to_example
from medqa.errors import DataError
from medqa.evaluation import metrics as M
from medqa.evaluation.answers import AnswerSettings, ModelRef, answer_all
from medqa.evaluation.cache import GenerationCache
from medqa.evaluation.readers import stratified_sample
from medqa.evaluation.similarity import bertscore, statement_coverage
from medqa.inference.generator import BASE

PAIRS_SHOWN = 3  # answer pairs per adapter where base and adapter differ most (lowest ROUGE-L between them)


def load_examples(data: str | Path, cfg: MedqaConfig, split: str = "test") -> tuple[list[Example], Path]:
    """Questions with reference answers from a prepared folder's split or a data file; returns the file read."""
    data = Path(data)
    if data.is_dir():
        from medqa.data.prepare import read_split

        return read_split(data, split), data / f"{split}.jsonl"
    from medqa.data.sources import iter_rows

    examples = []
    for raw in iter_rows(str(data)):
        try:
            if raw.error:
                raise RowError(raw.error)
            ex = to_example(raw.fields or {}, cfg.data.schema_, cfg.data.question_field, cfg.data.answer_field)
        except RowError:
            continue
        if ex.question.strip() and ex.answer.strip():
            examples.append(ex)
    if not examples:
        raise DataError(f"{data} holds no question/answer rows: map its columns with "
                        "--set data.question_field=... --set data.answer_field=...")
    return examples, data


def select_examples(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """All rows, or a seeded sample of `limit` that keeps the topic mix."""
    return stratified_sample(examples, limit, key=lambda ex: ex.topic or "", seed=seed)


def score_answers(answers: list[dict[str, Any]], examples: list[Example], seed: int = 0) -> dict[str, Any]:
    """Every free-text metric of one model's answers against the references."""
    preds, refs = [a["text"] for a in answers], [ex.answer for ex in examples]
    rouge = M.rouge_per_item(preds, refs)
    bert = bertscore(preds, refs)
    coverage = statement_coverage(preds, [ex.statements for ex in examples])
    rouge_l = [r["rougeL"] for r in rouge]
    out: dict[str, Any] = {k: sum(r[k] for r in rouge) / max(len(rouge), 1) for k in ("rouge1", "rouge2", "rougeL")}
    out.update(M.bleu_chrf(preds, refs))
    out.update({k: v for k, v in bert.items() if k != "per_item_f1"})
    out["statement_coverage"] = coverage["statement_coverage"]
    out["coverage_items"] = coverage["items"]
    out.update(M.behaviour(answers))
    out["ci95"] = {"rougeL": M.bootstrap_ci(rouge_l, seed), "bertscore_f1": M.bootstrap_ci(bert["per_item_f1"], seed)}
    if coverage["items"]:
        out["ci95"]["statement_coverage"] = M.bootstrap_ci(coverage["per_item"], seed)
    return out


def differing_pairs(examples: list[Example], base: list[dict[str, Any]], tuned: list[dict[str, Any]],
                    k: int = PAIRS_SHOWN) -> list[dict[str, Any]]:
    """The k items where the two models' answers overlap least (ROUGE-L between them); identical ones never."""
    between = M.rouge_per_item([t["text"] for t in tuned], [b["text"] for b in base])
    differ = [i for i in range(len(examples)) if base[i]["text"].strip() != tuned[i]["text"].strip()]
    order = sorted(differ, key=lambda i: between[i]["rougeL"])[:k]
    return [{"id": examples[i].id, "question": examples[i].question, "reference": examples[i].answer,
             "base": base[i]["text"], "adapter": tuned[i]["text"], "rougeL_between": between[i]["rougeL"]}
            for i in order]


def run_freetext(generator: Any, refs: list[ModelRef], examples: list[Example], system: str | None,
                 settings: AnswerSettings, cache: GenerationCache, seed: int = 0,
                 pipeline: Any = None) -> dict[str, Any]:
    """Answer `examples` with every model (and, with an index in `pipeline`, grounded too), score them, and pick
    the answer pairs that differ most."""
    convs = [to_messages(ex, system) for ex in examples]
    answers = {r.name: answer_all(generator, r, convs, settings, cache, "freetext") for r in refs}
    grounding: dict[str, dict[str, Any]] = {}
    if pipeline is not None and pipeline.index is not None:
        for ref in refs:
            name = f"{ref.name}+sources"
            answers[name], grounding[name] = grounded_answers(generator, ref, convs, pipeline, settings, cache)
    reference_cov = statement_coverage([ex.answer for ex in examples], [ex.statements for ex in examples])
    result: dict[str, Any] = {
        "items": len(examples), "max_new_tokens": settings.max_new_tokens,
        "reference_statement_coverage": reference_cov["statement_coverage"],
        "coverage_threshold": reference_cov["threshold"],
        "models": {name: {**score_answers(a, examples, seed), **grounding.get(name, {})}
                   for name, a in answers.items()},
        "pairs": {name: differing_pairs(examples, answers[BASE], a) for name, a in answers.items()
                  if name != BASE and BASE in answers},
    }
    result["rows"] = [{"task": "freetext", "id": ex.id, "model": name, "question": ex.question,
                       "reference": ex.answer, "answer": a[i]["text"], "stopped": a[i]["stopped"],
                       "tokens": a[i]["tokens"], **({"sources": a[i]["sources"]} if "sources" in a[i] else {})}
                      for name, a in answers.items() for i, ex in enumerate(examples)]
    return result


def grounded_answers(generator: Any, ref: ModelRef, convs: list[list[dict[str, str]]], pipeline: Any,
                     settings: AnswerSettings, cache: GenerationCache) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One model's answers with passages in the prompt, as grounding shows them, and the grounding rates."""
    from medqa.retrieval.grounding import check_answer

    prepared = [pipeline.prepare(c) for c in convs]
    asked = [i for i, p in enumerate(prepared) if not p.abstains]
    raw = answer_all(generator, ref, [prepared[i].prompt for i in asked], settings, cache, "freetext+sources")
    by_item = dict(zip(asked, raw))
    shown, totals = [], {"sentences": 0, "supported": 0, "model_citations": 0, "model_citations_supported": 0}
    for i, p in enumerate(prepared):
        text, stats = check_answer(by_item[i]["text"] if i in by_item else "", p.grounding, pipeline.index.encoder,
                                   pipeline.index_cfg)
        for key in totals:
            totals[key] += stats[key]
        shown.append({**by_item.get(i, {"stopped": True, "tokens": 0}), "text": text, "sources": stats["citations"]})
    rates = {"abstention_rate": 1 - len(asked) / max(len(prepared), 1),
             "supported_share": totals["supported"] / totals["sentences"] if totals["sentences"] else None,
             "citation_precision": (totals["model_citations_supported"] / totals["model_citations"]
                                    if totals["model_citations"] else None),
             "model_citations": totals["model_citations"]}
    return shown, rates
