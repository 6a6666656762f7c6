"""Raw text completion with OpenAI's legacy `logprobs` (for `/v1/completions`): likelihood-based evaluation of a
served model, as lm-eval's `local-completions` does it. No chat template, no triage, no answer policy: this is
for evaluation harnesses, never for patients, which is why `medqa serve` offers it only when asked.

`echo` returns the prompt's tokens too, each with its log-probability given the tokens before it (the first has
none), from one forward pass; generated tokens get theirs from the generation loop. Decoding here has no
repetition penalty (OpenAI's semantics): only the request's own presence and frequency penalties apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medqa.config import GenerationConfig
from medqa.inference.rows import Row, Scoring

HEAD_CHUNK = 256  # prompt positions per LM-head pass


@dataclass
class RawCompletion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tokens: list[str] = field(default_factory=list)
    token_logprobs: list[float | None] = field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = field(default_factory=list)

    def logprobs(self) -> dict[str, Any]:
        offsets, at = [], 0
        for token in self.tokens:
            offsets.append(at)
            at += len(token)
        return {"tokens": self.tokens, "token_logprobs": self.token_logprobs, "top_logprobs": self.top_logprobs,
                "text_offset": offsets}


def prompt_logprobs(generator: Any, ids: list[int], adapter: str | None, k: int) -> RawCompletion:
    """Each prompt token's log-probability given the ones before it, and the `k` likeliest alternatives. The LM head
    runs over a few hundred positions at a time: a 2,048-token prompt's full logits would take gigabytes."""
    import torch

    from medqa.modeling.parts import decoder_and_head

    tok = generator.tokenizer
    out = RawCompletion("", "stop", len(ids), 0, [tok.decode([i]) for i in ids], [None], [None])
    softcap = getattr(getattr(generator.model, "config", None), "final_logit_softcapping", None)
    with generator.lock, generator.use(adapter, greedy=False), torch.inference_mode():
        decoder, head = decoder_and_head(generator.model)
        device = next(generator.model.parameters()).device
        hidden = decoder(input_ids=torch.tensor([ids], device=device)).last_hidden_state[0, :-1]
        for start in range(0, len(hidden), HEAD_CHUNK):
            logits = head(hidden[start:start + HEAD_CHUNK]).float()
            if softcap:  # as the model's own forward does
                logits = torch.tanh(logits / softcap) * softcap
            scores = torch.log_softmax(logits, dim=-1)
            targets = torch.tensor(ids[start + 1:start + 1 + len(scores)], device=device)
            out.token_logprobs += scores.gather(1, targets[:, None])[:, 0].tolist()
            for row in scores:
                top = torch.topk(row, k) if k else None
                out.top_logprobs.append({tok.decode([i]): float(v) for v, i in zip(
                    top.values.tolist(), top.indices.tolist())} if top is not None else {})
    return out


def complete(generator: Any, ids: list[int], gen: GenerationConfig, adapter: str | None, max_tokens: int,
             stop: tuple[str, ...], scoring: Scoring, echo: bool) -> RawCompletion:
    """The continuation of `ids` (and, with `echo`, the prompt before it), with logprobs when `scoring` asks."""
    k = scoring.logprobs or 0
    if echo:
        out = prompt_logprobs(generator, ids, adapter, k) if scoring.logprobs is not None else RawCompletion(
            "", "stop", len(ids), 0)
        out.text = generator.tokenizer.decode(ids, skip_special_tokens=False)
    else:
        out = RawCompletion("", "stop", len(ids), 0)
    if max_tokens == 0:
        return out
    row = Row(ids, generator.tokenizer, generator.stop_ids, max_tokens, stop, scoring=scoring, score_stop=True)
    generator.run([row], gen.model_copy(update={"repetition_penalty": 1.0}), adapter)
    done = row.result()
    text = generator.tokenizer.decode(row.ids, skip_special_tokens=True)  # exact: no stripping here
    out.text += text[:min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))]  # without the stop
    out.finish_reason, out.completion_tokens = done.finish_reason, done.tokens
    for entry in done.logprobs or []:
        out.tokens.append(entry["token"])
        out.token_logprobs.append(entry["logprob"])
        out.top_logprobs.append({t["token"]: t["logprob"] for t in entry["top_logprobs"]})
    return out


def complete_many(generator: Any, prompts: list[list[int]], gen: GenerationConfig, adapter: str | None,
                  max_tokens: int, stop: tuple[str, ...], scoring: Scoring, echo: bool, n: int) -> list[RawCompletion]:
    """`n` completions of each prompt, prompt by prompt; each choice gets its own seed (seed + k), so `n` seeded
    samples differ as they would in one batch."""
    def choice(k: int) -> GenerationConfig:
        return gen if gen.seed is None else gen.model_copy(update={"seed": gen.seed + k})

    return [complete(generator, ids, choice(k), adapter, max_tokens, stop, scoring, echo)
            for ids in prompts for k in range(n)]
