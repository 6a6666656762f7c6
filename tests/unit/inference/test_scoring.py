"""Per-row penalties and logprobs in the one generation loop, and raw completions with echo (for /v1/completions)."""

from __future__ import annotations

import pytest
import torch

from medqa.config import GenerationConfig, ModelConfig
from medqa.inference.completions import complete, prompt_logprobs
from medqa.inference.generator import Generator
from medqa.inference.rows import Row, Scoring
from medqa.modeling.loading import load_base

GREEDY = GenerationConfig(temperature=0.0, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def gen(tiny_model) -> Generator:
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    return Generator(model, tok)


def test_rows_in_one_batch_keep_their_own_penalties_and_logprobs(gen):
    ids = gen.prompt_ids([{"role": "user", "content": "My ankle is swollen after a fall."}])
    plain, scored, penalised = (Row(ids, gen.tokenizer, gen.stop_ids, 12, scoring=s)
                                for s in (Scoring(), Scoring(logprobs=3), Scoring(2.0, 2.0)))
    gen.run([plain, scored, penalised], GREEDY)
    assert scored.result().text == plain.result().text  # recording logprobs changes nothing
    entries = scored.result().logprobs
    assert len(entries) == len(scored.ids) and all(len(e["top_logprobs"]) == 3 for e in entries)
    assert all(e["logprob"] == e["top_logprobs"][0]["logprob"] for e in entries)  # greedy: the top token
    assert len(set(penalised.ids)) == len(penalised.ids) > len(set(plain.ids))  # no token twice
    assert plain.result().logprobs is None


def test_a_stop_token_is_scored_only_where_completions_ask(gen):
    for score_stop, expected in ((False, 0), (True, 1)):
        row = Row([2], gen.tokenizer, gen.stop_ids, 4, scoring=Scoring(logprobs=0), score_stop=score_stop)
        row.distribution = torch.log_softmax(torch.randn(len(gen.tokenizer)), -1)
        row.feed(next(iter(gen.stop_ids)))
        assert row.done and len(row.token_logprobs) == expected


def test_echo_logprobs_equal_a_plain_forward_pass_and_stop_strings_are_cut(gen):
    ids = gen.tokenizer("The heart pumps blood around the body")["input_ids"]
    echoed = prompt_logprobs(gen, ids, None, 2)
    with torch.no_grad():
        scores = torch.log_softmax(gen.model(torch.tensor([ids])).logits[0].float(), -1)
    assert echoed.token_logprobs[0] is None
    assert echoed.token_logprobs[1:] == pytest.approx([float(scores[t - 1, ids[t]]) for t in range(1, len(ids))],
                                                      abs=1e-4)
    full = complete(gen, ids, GREEDY, None, 6, (), Scoring(logprobs=1), echo=True)
    assert len(full.token_logprobs) == len(ids) + full.completion_tokens + (full.finish_reason == "stop")
    generated = full.text[len(gen.tokenizer.decode(ids)):]
    if len(generated) > 2:  # cut at a stop string taken from the greedy continuation itself
        cut = complete(gen, ids, GREEDY, None, 6, (generated[2:4],), Scoring(), echo=False)
        assert cut.text == generated[:2] and generated[2:4] not in cut.text
