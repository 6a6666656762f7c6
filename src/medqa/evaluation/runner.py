"""`medqa eval`: score the base model and base + each adapter on the chosen tasks, side by side.

    medqa eval --data data/prepared --adapter runs/demo --task loss --task freetext --task safety \
        --task mcq --mcq-file /data/mmlu-medical --limit 50 --output runs/demo/eval

Tasks: `loss` (answer-token loss and perplexity on prepared splits, the default), `freetext` (generated answers
against references), `mcq` (multiple-choice benchmarks by log-likelihood) and `safety` (patient-message probes,
raw and through the answer pipeline that `serve` uses). The base is loaded once; each adapter is attached by name
and switched on in turn, so every model sees the same items. With `--backend URL` the generating tasks (freetext,
safety) answer through any OpenAI-compatible server instead, and no local weights are loaded. Settings: the
config's `eval:` section (medqa.config.EvalConfig), which the flags fill in. `--output` receives metrics.json (every number, the config, the
evaluation settings and data hashes), answers.jsonl, generations.jsonl (the generation cache), report.md and a
self-contained report.html.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from medqa.config import EvalConfig, MedqaConfig, config_to_dict
from medqa.data.formatting import encode_examples
from medqa.data.prepare import read_split
from medqa.errors import ConfigError
from medqa.evaluation.cache import GenerationCache, adapter_hash, file_hash
from medqa.inference.generator import BASE, Generator
from medqa.inference.pipeline import AnswerPipeline
from medqa.modeling.loss import mean_answer_loss

LOCAL_TASKS = ("loss", "mcq")  # they score likelihoods, which needs the weights here
FREETEXT_SPLIT = "test"
CACHE_NAME = "generations.jsonl"


def adapter_names(specs: list[str]) -> dict[str, str]:
    """Readable, unique names for adapter specs (the run folder's name, deduplicated)."""
    names: dict[str, str] = {}
    for spec in specs:
        stem = Path(spec.rstrip("/")).name or "adapter"
        name, k = stem, 2
        while name in names or name == BASE:
            name, k = f"{stem}-{k}", k + 1
        names[name] = spec
    return names


def score_losses(generator: Generator, encoded: dict[str, list[Any]], models: list[str],
                 batch_size: int = 8) -> dict[str, dict[str, dict[str, float]]]:
    """{model: {split: {loss, perplexity, rows}}} for the base and each named adapter."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    pad = generator.tokenizer.pad_token_id
    for name in models:
        out[name] = {}
        with generator.use(name):
            for split, rows in encoded.items():
                loss = mean_answer_loss(generator.model, rows, pad, batch_size)
                out[name][split] = {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 3), "rows": len(rows)}
    return out


def check_request(data: Path, settings: EvalConfig, backend: str | None = None,
                  judge_files: list[str] | None = None, calibration: str | None = None) -> None:
    """Every problem with the requested tasks and inputs at once, before any model is loaded."""
    problems = []
    if backend:
        problems += [f"--task {t} scores the model's likelihoods and needs local weights: drop --backend, or run "
                     "only freetext and safety through it" for t in settings.tasks if t in LOCAL_TASKS]
    if "mcq" in settings.tasks and not settings.mcq_files:
        problems.append("--task mcq needs --mcq-file PATH (PubMedQA ori_pqal.json, MedMCQA .json, MMLU CSV/folder, "
                        "MedQA .jsonl)")
    problems += [f"--mcq-file {f} does not exist" for f in settings.mcq_files if not Path(f).exists()]
    if "judge" in settings.tasks:
        problems += [f"--judge-file {f} does not exist" for f in judge_files or [] if not Path(f).is_file()]
        if calibration and not Path(calibration).is_file():
            problems.append(f"--judge-calibration {calibration} does not exist (write it with `medqa judge calibrate`)")
    needs_data = {"loss", "freetext"} | ({"judge"} if not judge_files else set())
    if needs_data & set(settings.tasks) and not data.exists():
        problems.append(f"--data {data} does not exist: pass a prepared folder (medqa prepare) or a data file")
    if "loss" in settings.tasks and data.is_dir():
        problems += [f"--data {data} has no {s}.jsonl (for the loss task)" for s in settings.splits
                     if not (data / f"{s}.jsonl").is_file()]
    if problems:
        raise ConfigError("cannot run the evaluation:\n  - " + "\n  - ".join(problems))


def run_eval(cfg: MedqaConfig, data_dir: str | Path, adapters: list[str] | None = None,
             output_dir: str | Path | None = None, progress: bool = True,
             models: "EvalModels | None" = None) -> dict[str, Any]:
    """Score the base and each adapter on `cfg.eval.tasks`; writes metrics and reports to `output_dir` when given.

    `models` (from `load_eval_models`) lets a caller that answers questions afterwards, like the demo, load the
    base once for both."""
    settings = cfg.eval
    data, out = Path(data_dir), Path(output_dir) if output_dir is not None else None
    check_request(data, settings, cfg.backend.url, cfg.judge.files, cfg.judge.calibration)
    t0 = time.perf_counter()
    ctx = models or load_eval_models(cfg, adapters or [], out, progress)
    timings: dict[str, Any] = {"load_seconds": round(time.perf_counter() - t0, 2), "tasks": {}}
    base = f"{ctx.generator.model} at {ctx.generator.url}" if cfg.backend.url else cfg.model.base
    metrics: dict[str, Any] = {"base": base,
                               "adapters": ctx.named, "models": [r.name for r in ctx.refs],
                               "tasks": list(settings.tasks), "data": {}}
    rows: list[dict[str, Any]] = []
    for task in settings.tasks:
        start = time.perf_counter()
        result = _TASK_RUNNERS[task](ctx, cfg, data)
        rows += result.pop("rows", [])
        metrics["data"].update(result.pop("data", {}))
        metrics["losses" if task == "loss" else task] = result
        timings["tasks"][task] = round(time.perf_counter() - start, 2)
    timings.update(_generation_rate(ctx.cache))
    metrics.update(timings=timings, eval=settings.model_dump(mode="json"), limit=settings.limit,
                   splits=list(settings.splits), config=config_to_dict(cfg))
    if out is not None:
        from medqa.evaluation.report import write_outputs

        write_outputs(metrics, rows, out)
    return metrics


@dataclass
class EvalModels:
    generator: Any  # a Generator, or an OpenAIEngine with --backend (generate_batch either way)
    refs: list[Any]
    named: dict[str, str]
    pipeline: AnswerPipeline
    settings: EvalConfig
    cache: GenerationCache
    answer: Any  # AnswerSettings
    progress: bool = True

    @property
    def system(self) -> str | None:
        return self.pipeline.system


def load_eval_models(cfg: MedqaConfig, adapters: list[str], out: Path | None = None,
                     progress: bool = True) -> EvalModels:
    """The base once, with every adapter attached by name (or the backend), and what the tasks share (answer
    cache, settings, the answer pipeline)."""
    from medqa.evaluation.answers import AnswerSettings, ModelRef

    settings = cfg.eval
    if cfg.backend.url:
        if adapters:
            raise ConfigError("--backend answers with the backend's model: drop --adapter (serve the adapter there "
                              "and name it with --backend-model)")
        from medqa.inference.backend import connect

        generator: Any = connect(cfg.backend)
        named: dict[str, str] = {}
        refs = [ModelRef(BASE, f"backend|{generator.url}|{generator.model}")]
    else:
        generator, named, base_name = _local_generator(cfg, adapters)
        # cached answers are reused only from the same numerics; the int8 head may flip a near-tie greedy pick
        model_id = f"{base_name}|{next(generator.model.parameters()).dtype}|{cfg.model.quantization}" + (
            "|int8-head" if generator.int8_head else "")
        refs = [ModelRef(BASE, model_id)] + [ModelRef(n, model_id, adapter_hash(s)) for n, s in named.items()]
    cache_path = Path(settings.cache) if settings.cache else (out / CACHE_NAME if out is not None else None)
    gen = cfg.generation.model_copy(update={"temperature": settings.temperature})
    answer = AnswerSettings(gen, settings.max_new_tokens or gen.max_new_tokens, settings.batch_size, progress)
    return EvalModels(generator, refs, named, AnswerPipeline.from_config(cfg), settings,
                      GenerationCache(cache_path).load(), answer, progress)


def _local_generator(cfg: MedqaConfig, adapters: list[str]) -> tuple[Generator, dict[str, str], str]:
    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_base

    model, tokenizer, base = load_base(cfg.model)
    named = adapter_names(adapters)
    model = load_adapters(model, named, cfg.model.allow_pickle)
    model.eval()
    generator = Generator(model, tokenizer, merge=cfg.generation.merge_adapter, int8_head=cfg.generation.int8_head)
    return generator, named, base.name


def _task_loss(ctx: EvalModels, cfg: MedqaConfig, data: Path) -> dict:
    splits, limit = ctx.settings.splits, ctx.settings.limit
    if data.is_dir():
        examples = {s: read_split(data, s)[:limit] for s in splits}
        hashes = {f"loss/{s}": file_hash(data / f"{s}.jsonl") for s in splits}
    else:
        from medqa.evaluation.tasks.freetext import load_examples

        examples, hashes = {"file": load_examples(data, cfg)[0][:limit]}, {"loss/file": file_hash(data)}
    tok = ctx.generator.tokenizer
    encoded = {s: encode_examples(tok, ex, ctx.system, cfg.train.max_seq_len) for s, ex in examples.items()}
    result: dict[str, Any] = score_losses(ctx.generator, encoded, [r.name for r in ctx.refs])
    result["data"] = hashes
    return result


def _task_freetext(ctx: EvalModels, cfg: MedqaConfig, data: Path) -> dict:
    from medqa.evaluation.tasks.freetext import load_examples, run_freetext, select_examples

    examples, source = load_examples(data, cfg, FREETEXT_SPLIT)
    chosen = select_examples(examples, ctx.settings.limit, ctx.settings.seed)
    result = run_freetext(ctx.generator, ctx.refs, chosen, ctx.system, ctx.answer, ctx.cache, ctx.settings.seed,
                          ctx.pipeline)
    result.update(source=str(source), available=len(examples), data={"freetext": file_hash(source)})
    return result


def _task_mcq(ctx: EvalModels, cfg: MedqaConfig, data: Path) -> dict:
    from medqa.evaluation.readers import detect_format, item_stratum, read_mcq, stratified_sample
    from medqa.evaluation.tasks.mcq import run_mcq

    s = ctx.settings
    result: dict[str, Any] = {"benchmarks": {}, "rows": [], "data": {}}
    for i, path in enumerate(s.mcq_files):
        fmt = (s.mcq_formats[i] if len(s.mcq_formats) > 1 else s.mcq_formats[0]) if s.mcq_formats else None
        fmt = fmt or detect_format(Path(path))
        items = read_mcq(path, fmt)
        label, k = fmt, 2
        while label in result["benchmarks"]:
            label, k = f"{fmt}-{k}", k + 1
        chosen = stratified_sample(items, s.limit, item_stratum, s.seed)
        systems: list[tuple[str, Any]] = [(label, ctx.system)]
        if ctx.pipeline.index is not None:  # the same items with their retrieved passages before the question
            systems.append((f"{label}+sources", partial(_with_passages, ctx.pipeline)))
        for name, system in systems:
            bench = run_mcq(ctx.generator, [r.name for r in ctx.refs], chosen, system, s.seed, ctx.progress, name)
            result["rows"] += bench.pop("rows")
            result["benchmarks"][name] = {"format": fmt, "path": str(path), "available": len(items), **bench}
        result["data"][f"mcq/{label}"] = _mcq_hash(Path(path), fmt)
    return result


def _with_passages(pipeline: AnswerPipeline, item: Any) -> str | None:
    """The system message an MCQ item gets with an index: the configured one plus the stem's passages."""
    prompt = pipeline.prepare([{"role": "user", "content": item.question}]).prompt
    return prompt[0]["content"] if prompt[0]["role"] == "system" else None


def _mcq_hash(path: Path, fmt: str) -> str:
    truth = path.with_name("test_ground_truth.json")
    extra = file_hash(truth) if fmt == "pubmedqa" and truth.is_file() else ""
    return file_hash(path) + (f"+{extra}" if extra else "")


def _task_safety(ctx: EvalModels, cfg: MedqaConfig, data: Path) -> dict:
    from medqa.evaluation.tasks.safety_probes import PROBES_PATH, run_safety

    result = run_safety(ctx.generator, ctx.refs, ctx.pipeline, ctx.answer, ctx.cache)
    result["data"] = {"safety/probes": file_hash(PROBES_PATH)}
    return result


def _task_judge(ctx: EvalModels, cfg: MedqaConfig, data: Path) -> dict:
    from medqa.evaluation.tasks.judge import run_judge

    return run_judge(ctx, cfg, data)


_TASK_RUNNERS = {"loss": _task_loss, "freetext": _task_freetext, "mcq": _task_mcq, "safety": _task_safety,
                 "judge": _task_judge}


def _generation_rate(cache: GenerationCache) -> dict[str, Any]:
    """Measured generation speed of this run, and what 200 free-text items per model would take at that rate."""
    if not cache.generated:
        return {"generated_answers": 0}
    per = cache.generation_seconds / cache.generated
    return {"generated_answers": cache.generated, "generation_seconds": round(cache.generation_seconds, 2),
            "seconds_per_answer": round(per, 3), "projected_seconds_200_answers": round(200 * per, 1)}
