"""`medqa inspect`: training examples of a prepared folder exactly as the model sees them.

    medqa inspect data/prepared -n 3 --split train

Each example is encoded with `formatting.encode_example` under the tokenizer of the folder's `model.base`
(from its config.yaml) and `train.max_seq_len`, then decoded token by token range: the masked prompt part
(labels -100: system prompt, chat template, question) is wrapped in ⟦ ⟧ and dimmed on a terminal, the
trained part (answer and end-of-turn) follows as is. The header gives the token counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.config import MedqaConfig, load_config
from medqa.data.formatting import IGNORE_INDEX, encode_example, system_prompt
from medqa.data.schema import Example
from medqa.errors import DataError

MASK_OPEN, MASK_CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧
DIM, RESET = "\x1b[2m", "\x1b[0m"


def prepared_config(prepared_dir: Path) -> MedqaConfig:
    """The config a folder was prepared with (defaults when it has no config.yaml)."""
    path = prepared_dir / "config.yaml"
    return load_config(path) if path.is_file() else load_config()


def first_examples(prepared_dir: Path, split: str, n: int) -> list[Example]:
    path = prepared_dir / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path} not found: pass a folder written by `medqa prepare` and one of its splits "
                        "(train, validation, test)")
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if len(out) >= n:
                break
            if line.strip():
                out.append(Example.from_json(json.loads(line)))
    return out


def render_example(tokenizer: Any, ex: Example, system: str | None, max_len: int, color: bool = False) -> tuple[str, dict[str, int]]:
    """The decoded sequence with its masked part marked, and its token counts."""
    enc = encode_example(tokenizer, ex, system, max_len)
    masked = sum(1 for label in enc.labels if label == IGNORE_INDEX)
    prompt = tokenizer.decode(enc.input_ids[:masked], skip_special_tokens=False)
    trained = tokenizer.decode(enc.input_ids[masked:], skip_special_tokens=False)
    shown = f"{MASK_OPEN}{prompt}{MASK_CLOSE}"
    text = (f"{DIM}{shown}{RESET}" if color else shown) + trained
    counts = {"tokens": len(enc.input_ids), "trained": len(enc.input_ids) - masked, "masked": masked,
              "answer_tokens_cut": enc.truncated_answer_tokens}
    return text, counts


def inspect_prepared(prepared_dir: str | Path, n: int = 3, split: str = "train", base: str | None = None,
                     color: bool = False, tokenizer: Any = None) -> str:
    """N formatted examples of `split`, each with a header of token counts."""
    folder = Path(prepared_dir)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder: pass the --output folder of `medqa prepare`")
    cfg = prepared_config(folder)
    if tokenizer is None:
        from medqa.modeling.loading import load_tokenizer, resolve_base

        tokenizer = load_tokenizer(resolve_base(base or cfg.model.base), cfg.model)
    examples = first_examples(folder, split, n)
    system = system_prompt(cfg.prompt.system_prompt)
    blocks = [f"{len(examples)} {split} example(s) from {folder} as the model sees them (max_seq_len "
              f"{cfg.train.max_seq_len}); {MASK_OPEN}…{MASK_CLOSE} is masked (not trained), the rest is trained."]
    for i, ex in enumerate(examples, start=1):
        text, c = render_example(tokenizer, ex, system, cfg.train.max_seq_len, color)
        cut = f", {c['answer_tokens_cut']} answer tokens cut by max_seq_len" if c["answer_tokens_cut"] else ""
        blocks.append(f"── example {i}/{len(examples)} · {c['tokens']} tokens · {c['trained']} trained · "
                      f"{c['masked']} masked{cut} ──\n{text}")
    return "\n\n".join(blocks)
