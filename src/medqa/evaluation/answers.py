"""Answer many conversations with one model through the generation cache: batched, left-padded, with progress.

    medqa eval --task freetext --task safety --adapter runs/demo --output runs/eval

Missing answers are generated in batches of similar prompt length (less padding) and appended to the cache
after every batch, so an interrupted evaluation resumes where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from medqa.config import GenerationConfig
from medqa.evaluation.cache import GenerationCache, generation_params
from medqa.inference.generator import BASE


@dataclass(frozen=True)
class ModelRef:
    """One model under evaluation: `name` as shown and used with Generator.use, ids that key the cache."""

    name: str
    model_id: str  # the base: resolved name, dtype, quantization
    adapter_hash: str = "base"

    @property
    def adapter(self) -> str:
        return self.name if self.adapter_hash != "base" else BASE


@dataclass
class AnswerSettings:
    gen: GenerationConfig
    max_new_tokens: int
    batch_size: int = 32
    progress: bool = True


def answer_all(generator: Any, ref: ModelRef, conversations: list[list[dict[str, str]]],
               settings: AnswerSettings, cache: GenerationCache, desc: str = "") -> list[dict[str, Any]]:
    """{"text", "stopped", "tokens", ...} for each conversation, from the cache or freshly generated."""
    params = generation_params(settings.gen, settings.max_new_tokens)
    prompts = [generator.render(c) for c in conversations]
    keys = [cache.key(ref.model_id, ref.adapter_hash, p, params) for p in prompts]
    missing = sorted({k: i for i, k in reversed(list(enumerate(keys))) if cache.get(k) is None}.values(),
                     key=lambda i: len(prompts[i]))
    if missing:
        _generate_missing(generator, ref, conversations, keys, missing, settings, cache, desc)
    return [cache.get(k) for k in keys]  # type: ignore[misc]


def _generate_missing(generator: Any, ref: ModelRef, conversations: list[list[dict[str, str]]],
                      keys: list[str], missing: list[int], settings: AnswerSettings, cache: GenerationCache,
                      desc: str) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(missing), desc=f"{desc} [{ref.name}]".strip(), unit="answer", disable=not settings.progress)
    try:
        n_batches = -(-len(missing) // settings.batch_size)
        size = -(-len(missing) // n_batches)  # even batches: 44 answers at 32 → 22 + 22, not 32 + 12
        for start in range(0, len(missing), size):
            batch = missing[start:start + size]
            t0 = time.perf_counter()
            outs = generator.generate_batch([conversations[i] for i in batch], settings.gen, ref.adapter,
                                            settings.max_new_tokens)
            elapsed = time.perf_counter() - t0
            cache.generated += len(batch)
            cache.generation_seconds += elapsed
            seconds = elapsed / len(batch)
            cache.add([{"key": keys[i], "model": ref.model_id, "adapter": ref.adapter_hash, "name": ref.name,
                        **out, "seconds": round(seconds, 3)} for i, out in zip(batch, outs, strict=True)])
            bar.update(len(batch))
    finally:
        bar.close()
