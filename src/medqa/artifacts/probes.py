"""Fixed medical prompts, in the chat format the adapter was trained with, that merge and export verify on.

The same prompts every time, so reports from different runs compare; each is formatted with the run's system
prompt and the adapter tokenizer's chat template, exactly as `medqa ask` would send it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

PROBE_QUESTIONS = (
    "I have had a dry cough for two weeks and some chest tightness at night. What could it be?",
    "My 3 year old has a rash on her tummy after a fever but is playing normally. Should I worry?",
    "What is a safe daily maximum of paracetamol for an adult, and what happens if I take too much?",
    "Sudden crushing chest pain spreading to my left arm and I am sweating. What should I do?",
)


def probe_ids(tokenizer: Any, system: str | None) -> list[list[int]]:
    """Token ids of each probe prompt, ending where the model's answer begins."""
    from medqa.data.formatting import encode_prompt, render_prompt

    out = []
    for question in PROBE_QUESTIONS:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
        out.append(encode_prompt(tokenizer, render_prompt(tokenizer, messages)))
    return out


def probe_logits(model: Any, prompts: list[list[int]]) -> Iterator[Any]:
    """Float32 logits at every position of each prompt, one prompt at a time (no padding effects, and a caller
    comparing two models holds only one model's logits: each prompt's are seq_len x vocab floats)."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        for ids in prompts:
            yield model(input_ids=torch.tensor([ids], device=device)).logits[0].float().cpu()


def compare_logits(reference: list[Any], other: Iterable[Any]) -> dict[str, Any]:
    """Max abs logit difference, and next-token (argmax) agreement at each prompt's end and at every position."""
    diff, last, same, total = 0.0, 0, 0, 0
    for ref, got in zip(reference, other, strict=True):
        diff = max(diff, float((ref - got).abs().max()))
        last += int(ref[-1].argmax() == got[-1].argmax())
        same += int((ref.argmax(-1) == got.argmax(-1)).sum())
        total += ref.shape[0]
    return {"max_abs_logit_diff": diff, "last_token_agreement": last / len(reference),
            "all_positions_agreement": same / total, "prompts": len(reference), "positions": total}
