"""`medqa eval`: validation/test answer loss and perplexity of the base model and of base + each adapter.

    medqa eval --data data/prepared --adapter runs/demo --output runs/demo/eval

The base is loaded once; each adapter is attached by name and switched on in turn, so every model is scored
on the same encoded rows.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig, config_to_dict
from medqa.data.formatting import encode_examples, system_prompt
from medqa.data.prepare import read_split
from medqa.inference.generator import BASE, Generator
from medqa.modeling.adapters import load_adapters
from medqa.modeling.loading import load_base
from medqa.modeling.loss import mean_answer_loss


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


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


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


def run_eval(cfg: MedqaConfig, data_dir: str | Path, adapters: list[str] | None = None,
             splits: tuple[str, ...] = ("validation", "test"), output_dir: str | Path | None = None,
             limit: int | None = None) -> dict[str, Any]:
    """Score the base and each adapter; writes metrics.json to `output_dir` when given."""
    data_dir = Path(data_dir)
    model, tokenizer, base = load_base(cfg.model)
    named = adapter_names(adapters or [])
    model = load_adapters(model, named)
    generator = Generator(model, tokenizer)
    system = system_prompt(cfg.prompt.system_prompt)
    encoded = {s: encode_examples(tokenizer, read_split(data_dir, s)[:limit], system, cfg.train.max_seq_len)
               for s in splits}
    results = score_losses(generator, encoded, [BASE, *named])
    metrics = {
        "base": cfg.model.base, "adapters": named, "losses": results,
        "data": {s: _file_hash(data_dir / f"{s}.jsonl") for s in splits}, "config": config_to_dict(cfg),
    }
    if output_dir is not None:
        from medqa.runs import write_json

        write_json(Path(output_dir) / "metrics.json", metrics)
    return metrics
