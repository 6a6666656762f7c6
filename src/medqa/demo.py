"""`medqa demo`, the main job: prepare the embedded data, fine-tune the embedded model, compare base and
fine-tuned on the held-out test split (loss, and free-text answers to a few questions that `medqa review create
--answers DIR/eval` can put before clinicians), show three of those answer pairs, then answer one question
grounded in a passage index built from the training split's reference answers, with its sources.

    medqa demo --output runs/demo

Sized for about 10 minutes on 2 CPU cores; `DIR/demo.json` holds the numbers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig

DEMO_STEPS = 20
DEMO_OVERRIDES = {  # a short, brisk run: few steps, so a higher learning rate and a short warm-up
    "learning_rate": 4e-4, "warmup_steps": 3, "eval_rows": 16, "save_every": 1000,
}
DEMO_QUESTIONS = 3  # answer pairs shown
DEMO_FREETEXT = 6  # test questions answered by both models in the eval (and so reviewable)
DEMO_ANSWER_TOKENS = 120


def demo_config(cfg: MedqaConfig, out: Path, steps: int) -> MedqaConfig:
    train = cfg.train.model_copy(update={**DEMO_OVERRIDES, "max_steps": steps, "eval_every": steps,
                                         "output_dir": out / "run"})
    evaluation = cfg.eval.model_copy(update={"splits": ["test"], "tasks": ["loss", "freetext"], "limit": DEMO_FREETEXT,
                                             "max_new_tokens": DEMO_ANSWER_TOKENS, "temperature": 0.0})
    return cfg.model_copy(update={"train": train, "eval": evaluation})


def run_demo(output_dir: str | Path, cfg: MedqaConfig, steps: int | None = None) -> dict[str, Any]:
    from medqa.data.prepare import run_prepare
    from medqa.evaluation.runner import load_eval_models, run_eval
    from medqa.modeling.loading import load_tokenizer, resolve_base
    from medqa.runs import write_json
    from medqa.training.trainer import run_training

    t0 = time.perf_counter()
    out = Path(output_dir)
    cfg = demo_config(cfg, out, steps or DEMO_STEPS)
    _say(f"[1/4] preparing the embedded data set → {out / 'data'}")
    prep = run_prepare(cfg, out / "data", tokenizer=load_tokenizer(resolve_base(cfg.model.base), cfg.model))
    _say(f"      {prep.rows_in} rows → {prep.rows_out}")
    _say(f"[2/4] fine-tuning {cfg.model.base} with LoRA for {cfg.train.max_steps} steps → {cfg.train.output_dir}")
    train = run_training(cfg, out / "data", overwrite=True)
    _say(f"[3/4] base vs fine-tuned on the test split: loss, and answers to {DEMO_FREETEXT} held-out questions")
    models = load_eval_models(cfg, [str(cfg.train.output_dir)])  # one load serves the scores and the answers
    metrics = run_eval(cfg, out / "data", [str(cfg.train.output_dir)], out / "eval", models=models)
    (tuned_name,) = metrics["adapters"]
    answers = _compare_answers(out / "eval" / "answers.jsonl", models.pipeline, tuned_name)
    _say(f"[4/4] a grounded answer: indexing the training answers → {out / 'index'}")
    grounded = _grounded_answer(cfg, answers[0]["question"], models, tuned_name, out)
    summary = {
        "base_test_loss": metrics["losses"]["base"]["test"]["loss"],
        "tuned_test_loss": metrics["losses"][tuned_name]["test"]["loss"],
        "train_seconds": round(train.train_seconds, 1), "train_steps": train.steps,
        "tokens_per_second": round(train.tokens_per_second, 1), "wall_seconds": round(time.perf_counter() - t0, 1),
        "rows": prep.rows_out, "run_dir": str(cfg.train.output_dir), "answers": answers, "grounded": grounded,
    }
    write_json(out / "demo.json", summary)
    _show(summary, out)
    return summary


def _compare_answers(answers_file: Path, pipeline: Any, tuned: str) -> list[dict[str, str]]:
    """The eval's base and tuned answers to the first few questions, as `serve` would show them (the same answer
    pipeline: triage, policy)."""
    import json

    from medqa.inference.generator import BASE

    rows = [json.loads(line) for line in answers_file.read_text(encoding="utf-8").splitlines()]
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("task") == "freetext" and row["model"] in (BASE, tuned):
            by_id.setdefault(row["id"], {"question": row["question"], "reference": row["reference"]})[
                "base" if row["model"] == BASE else "tuned"] = row["answer"]
    shown = list(by_id.values())[:DEMO_QUESTIONS]
    for qa in shown:
        verdict = pipeline.triage(pipeline.conversation([{"role": "user", "content": qa["question"]}]))
        qa["base"], qa["tuned"] = (pipeline.finish(qa[k], verdict) for k in ("base", "tuned"))
    return shown


def _grounded_answer(cfg: MedqaConfig, question: str, models: Any, tuned: str, out: Path) -> dict[str, Any]:
    """The fine-tuned model's reply with passages from an index of the training split's answers (never the test
    question's own), checked sentence by sentence and cited, as `ask --index` would show it."""
    from medqa.inference.pipeline import AnswerPipeline
    from medqa.retrieval.index import Index, build_index

    build_index([out / "data" / "train.jsonl"], out / "index", cfg.index, progress=False)
    pipeline = AnswerPipeline(models.pipeline.system, models.pipeline.semantic, Index.load(out / "index", cfg.index),
                              cfg.index)
    prepared = pipeline.prepare([{"role": "user", "content": question}])
    text = ""
    if not prepared.abstains:
        gen_cfg = cfg.generation.model_copy(update={"temperature": 0.0, "max_new_tokens": DEMO_ANSWER_TOKENS})
        text = models.generator.generate_batch([prepared.prompt], gen_cfg, tuned)[0]["text"]
    answer = pipeline.finish(text, pipeline.triage(prepared.conversation), prepared.grounding)
    return {"question": question, "answer": answer, "model_text": text, "index": str(out / "index"),
            "citations": prepared.grounding.citations(),
            "retrieved": [{"title": h.chunk.title, "similarity": round(h.similarity, 3)} for h in prepared.grounding.hits]}


def _say(text: str) -> None:
    print(text, flush=True)


def _show(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.panel import Panel

    console = Console()
    for i, qa in enumerate(summary["answers"], start=1):
        console.print(Panel(qa["question"], title=f"held-out question {i}", border_style="cyan"))
        console.print(Panel(qa["base"] or "(empty)", title="base model", border_style="red"))
        console.print(Panel(qa["tuned"] or "(empty)", title="fine-tuned", border_style="green"))
    grounded = summary["grounded"]
    console.print(Panel(grounded["answer"], title="fine-tuned, grounded in the index (ask --index)",
                        border_style="blue"))
    console.print(f"[bold]test loss[/]: base {summary['base_test_loss']:.3f} → fine-tuned {summary['tuned_test_loss']:.3f}"
                  f"   train {summary['train_seconds']:.0f}s, wall {summary['wall_seconds']:.0f}s")
    console.print(f"data: {out / 'data'}   adapter: {summary['run_dir']}/adapter   loss curve: {summary['run_dir']}/loss.png"
                  f"   eval: {out / 'eval' / 'metrics.json'}   summary: {out / 'demo.json'}")
