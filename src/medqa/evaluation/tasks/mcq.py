"""Multiple choice by log-likelihood (lm-eval-harness style), under the chat format used in training.

    medqa eval --task mcq --mcq-file data/mmlu-medical --mcq-file data/pubmedqa/ori_pqal.json --limit 50

The prompt is one user turn (after the training system prompt): the context when the benchmark has one, the
question, the lettered options and an instruction to answer with the letter and text. Each option is scored as
the assistant's answer "B. <option text>" (no end-of-turn token): the summed log-probability of its tokens.
Four read-outs come from the same forward pass:

* acc: argmax of the summed log-likelihood of "letter. text";
* acc_norm: argmax of that sum divided by the continuation's UTF-8 length (lm-eval's length normalisation);
* acc_letter: argmax of the log-probability of the letter token alone (the usual MMLU scoring);
* acc_text: argmax of the option text's log-likelihood after "letter. ", per UTF-8 byte (cloze-style: small
  models put most of their preference on one letter, and this read-out leaves the letter's own probability out).

Each comes with a seeded bootstrap 95% CI, beside a constant-answer baseline (always the most frequent gold
letter of the sample) and a random baseline (mean of 1/k). Each prompt runs once and its KV cache is shared by
the options; the LM head runs only on option tokens.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import torch

from medqa.data.formatting import encode_prompt, render_prompt, to_messages
from medqa.data.schema import Example
from medqa.evaluation import metrics as M
from medqa.evaluation.readers import LETTERS, MCQItem
from medqa.inference.generator import Generator
from medqa.modeling.parts import decoder_and_head, new_cache

READOUTS = ("acc", "acc_norm", "acc_letter", "acc_text")


def format_prompt(item: MCQItem) -> str:
    """The user turn for one item."""
    parts = [f"Context: {item.context}"] if item.context else []
    parts.append(f"Question: {item.question}")
    parts.append("Options:\n" + "\n".join(f"{LETTERS[j]}. {opt}" for j, opt in enumerate(item.options)))
    parts.append("Answer with the letter and the text of the correct option.")
    return "\n\n".join(parts)


def continuation(item: MCQItem, j: int) -> str:
    return f"{LETTERS[j]}. {item.options[j]}"


def encode_item(tokenizer: Any, item: MCQItem, system: str | None) -> tuple[list[int], list[list[int]], list[int]]:
    """Prompt token ids (chat format, up to the answer), each option's token ids (tokenised as in training) and
    where each option's text starts after its "letter." tokens (1 when the tokenizer merges them with the text)."""
    prompt = render_prompt(tokenizer, to_messages(Example(question=format_prompt(item), answer=""), system))
    options, text_starts = [], []
    for j in range(len(item.options)):
        ids = tokenizer(continuation(item, j), add_special_tokens=False)["input_ids"]
        head = tokenizer(f"{LETTERS[j]}.", add_special_tokens=False)["input_ids"]
        options.append(ids)
        text_starts.append(len(head) if ids[: len(head)] == head and len(head) < len(ids) else 1)
    return encode_prompt(tokenizer, prompt), options, text_starts


@torch.no_grad()
def item_logprobs(model: Any, prompt: list[int], options: list[list[int]], pad_id: int) -> list[list[float]]:
    """The log-probability of each token of each option, given `prompt`.

    The prompt runs once; its KV cache is repeated for the k options, which run together right-padded (padding
    sits after every real token, so causal attention never sees it). Same numbers as scoring each full sequence.
    """
    device = next(model.parameters()).device
    decoder, head = decoder_and_head(model)
    cache = new_cache(decoder)
    decoder(input_ids=torch.tensor([prompt[:-1]], device=device), use_cache=True, **cache)
    next(iter(cache.values())).batch_repeat_interleave(len(options))
    width = max(map(len, options))
    inputs = torch.tensor([[prompt[-1], *o[:-1]] + [pad_id] * (width - len(o)) for o in options], device=device)
    hidden = decoder(input_ids=inputs, use_cache=True, **cache).last_hidden_state
    keep = torch.tensor([[t < len(o) for t in range(width)] for o in options], device=device)
    targets = torch.tensor([o + [pad_id] * (width - len(o)) for o in options], device=device)[keep]
    logits = head(hidden[keep]).float()
    softcap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    if softcap:  # Gemma 2 caps its logits; scores must match what generation sees
        logits = torch.tanh(logits / softcap) * softcap
    logp = torch.log_softmax(logits, dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1).tolist()
    out, pos = [], 0
    for o in options:
        out.append(logp[pos:pos + len(o)])
        pos += len(o)
    return out


def score_items(generator: Generator, adapter: str, items: list[MCQItem], system: str | None | Callable[[MCQItem], str | None],
                progress: bool = True, desc: str = "mcq") -> list[dict[str, Any]]:
    """Per item: gold, predictions of each read-out and the option scores. `system` may depend on the item (e.g. its
    retrieved passages)."""
    from tqdm.auto import tqdm

    pad = generator.tokenizer.pad_token_id
    was_training = generator.model.training
    generator.model.eval()
    results = []
    with generator.use(adapter):
        for item in tqdm(items, desc=f"{desc} [{adapter}]", unit="item", disable=not progress):
            prompt, options, text_starts = encode_item(generator.tokenizer, item,
                                                       system(item) if callable(system) else system)
            token_logps = item_logprobs(generator.model, prompt, options, pad)
            results.append(_item_result(item, token_logps, text_starts, len(prompt)))
    generator.model.train(was_training)
    return results


def _argmax(xs: list[float]) -> int:
    return max(range(len(xs)), key=xs.__getitem__)  # the first index wins ties


def _item_result(item: MCQItem, token_logps: list[list[float]], text_starts: list[int],
                 prompt_tokens: int) -> dict[str, Any]:
    sums = [sum(t) for t in token_logps]
    nbytes = [max(len(continuation(item, j).encode("utf-8")), 1) for j in range(len(sums))]
    text = [sum(t[s:]) / max(len(item.options[j].encode("utf-8")), 1)
            for j, (t, s) in enumerate(zip(token_logps, text_starts))]
    pred = {"acc": _argmax(sums), "acc_norm": _argmax([s / b for s, b in zip(sums, nbytes)]),
            "acc_letter": _argmax([t[0] for t in token_logps]), "acc_text": _argmax(text)}
    return {"id": item.id, "subject": item.subject, "gold": item.gold, "k": len(item.options), "pred": pred,
            "loglik": [round(s, 4) for s in sums], "prompt_tokens": prompt_tokens}


def baselines(items: list[MCQItem]) -> dict[str, Any]:
    """Constant-answer (most frequent gold letter) and random (mean 1/k) accuracy of a sample."""
    letters = Counter(item.gold_letter for item in items)
    letter, count = letters.most_common(1)[0] if letters else ("A", 0)
    n = max(len(items), 1)
    return {"constant_letter": letter, "constant": count / n, "random": sum(1 / len(i.options) for i in items) / n,
            "gold_distribution": {k: v / n for k, v in sorted(letters.items())}}


def summarise(results: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Accuracy of each read-out with bootstrap CI, macro-F1, per-subject accuracy and prediction shares."""
    out: dict[str, Any] = {"n": len(results),
                           "mean_prompt_tokens": sum(r["prompt_tokens"] for r in results) / max(len(results), 1)}
    for name in READOUTS:
        hits = [float(r["pred"][name] == r["gold"]) for r in results]
        out[name] = sum(hits) / max(len(hits), 1)
        out[f"{name}_ci95"] = M.bootstrap_ci(hits, seed)
    out["macro_f1"] = M.macro_f1([r["gold"] for r in results], [r["pred"]["acc"] for r in results])
    preds = Counter(LETTERS[r["pred"]["acc"]] for r in results)
    out["pred_distribution"] = {k: v / max(len(results), 1) for k, v in sorted(preds.items())}
    by_subject: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if r["subject"]:
            by_subject[r["subject"]].append(float(r["pred"]["acc"] == r["gold"]))
    if by_subject:
        out["per_subject"] = {s: {"n": len(v), "acc": sum(v) / len(v)} for s, v in sorted(by_subject.items())}
    return out


def run_mcq(generator: Generator, models: list[str], items: list[MCQItem],
            system: str | None | Callable[[MCQItem], str | None],
            seed: int = 0, progress: bool = True, label: str = "mcq") -> dict[str, Any]:
    """Score every model on one benchmark sample."""
    per_model = {m: score_items(generator, m, items, system, progress, label) for m in models}
    subjects = sorted({i.subject for i in items if i.subject})
    result: dict[str, Any] = {"items": len(items), "baselines": baselines(items),
                              "models": {m: summarise(r, seed) for m, r in per_model.items()}}
    if subjects:
        result["baselines"]["per_subject_constant"] = {
            s: baselines([i for i in items if i.subject == s])["constant"] for s in subjects}
    result["rows"] = [{"task": "mcq", "benchmark": label, "model": m, **r} for m, rs in per_model.items() for r in rs]
    return result
