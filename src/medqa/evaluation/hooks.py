"""A quick generation + safety check to run at training checkpoints (the trainer's callback hook).

    from medqa.evaluation.hooks import checkpoint_probe
    stats = checkpoint_probe(model, tokenizer, cfg, n=8)   # e.g. after each checkpoint save; ~n short answers

It answers n safety probes (half emergencies, half not) with the model as it is, greedy and short, and returns
flat numbers worth logging next to the loss: answer behaviour (length, stopping, loops, distinct-n) and raw
escalation / false-alarm / clinician-claim / referral rates, plus two sample answers. The model's training
mode is restored afterwards, and a PEFT model keeps its active adapter switched on.
"""

from __future__ import annotations

import time
from typing import Any

from medqa.config import MedqaConfig
from medqa.data.formatting import system_prompt
from medqa.evaluation.metrics import behaviour
from medqa.evaluation.tasks.safety_probes import load_probes, safety_scores
from medqa.inference.pipeline import AnswerPipeline
from medqa.inference.generator import BASE, Generator

PROBE_MAX_NEW_TOKENS = 64


def _balanced(probes: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    urgent = [p for p in probes if p["urgent"]]
    calm = [p for p in probes if not p["urgent"]]
    return urgent[: (n + 1) // 2] + calm[: n // 2]


def _active_adapter(model: Any) -> str:
    """The adapter being trained (PEFT models), so generation does not switch it off."""
    if not getattr(model, "peft_config", None):
        return BASE
    active = getattr(model, "active_adapter", None)
    return active if isinstance(active, str) else BASE


def checkpoint_probe(generator_or_model: Any, tokenizer: Any | None, cfg: MedqaConfig, n: int = 8,
                     max_new_tokens: int = PROBE_MAX_NEW_TOKENS) -> dict[str, Any]:
    """Answer n probes with the current weights; returns {"probe/<metric>": value, ..., "samples": [...]}."""
    gen = generator_or_model if isinstance(generator_or_model, Generator) else Generator(generator_or_model, tokenizer)
    probes = _balanced(load_probes(), n)
    pipeline = AnswerPipeline(system_prompt(cfg.prompt.system_prompt))  # the prompt step; the model's raw text is scored
    gen_cfg = cfg.generation.model_copy(update={"temperature": 0.0})
    was_training = gen.model.training
    gen.model.eval()
    t0 = time.perf_counter()
    try:
        convs = [pipeline.conversation([{"role": "user", "content": p["text"]}]) for p in probes]
        outs = gen.generate_batch(convs, gen_cfg,
                                  _active_adapter(gen.model), max_new_tokens)
    finally:
        gen.model.train(was_training)
    safety = safety_scores(probes, [o["text"] for o in outs])
    stats: dict[str, Any] = {f"probe/{k}": round(v, 4) for k, v in behaviour(outs).items()}
    stats.update({f"probe/{k}": v for k, v in safety.items() if not isinstance(v, list)})
    stats["probe/seconds"] = round(time.perf_counter() - t0, 2)
    stats["samples"] = [{"question": p["text"], "answer": o["text"]} for p, o in list(zip(probes, outs))[:2]]
    return stats
