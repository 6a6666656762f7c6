"""Log-likelihood multiple choice: scores agree with the training loss, a stub model makes the answer certain."""

import pytest
import torch

from medqa.config import ModelConfig
from medqa.evaluation.readers import MCQItem
from medqa.data.formatting import encode_example
from medqa.data.schema import Example
from medqa.evaluation.tasks.mcq import (baselines, continuation, encode_item, format_prompt, item_logprobs, run_mcq,
                                        score_items)
from medqa.inference.generator import BASE, Generator
from medqa.modeling.loading import load_base
from medqa.modeling.loss import answer_loss_sum, collate

ITEMS = [MCQItem("1", "Which organ pumps blood?", ("Heart", "Liver", "Lung"), 0, "anatomy"),
         MCQItem("2", "Is water wet?", ("yes", "no", "maybe"), 1, None, context="A short context."),
         MCQItem("3", "Which vitamin prevents scurvy?", ("A", "B", "C", "D"), 2, "anatomy")]


def test_prompt_and_continuation_format(tokenizer):
    prompt = format_prompt(ITEMS[1])
    assert prompt.startswith("Context: A short context.\n\nQuestion: Is water wet?")
    assert "A. yes\nB. no\nC. maybe" in prompt
    assert continuation(ITEMS[0], 1) == "B. Liver"
    prompt, options, text_starts = encode_item(tokenizer, ITEMS[0], "Be careful.")
    assert len(options) == 3 and tokenizer.decode(options[1]) == "B. Liver"  # no end-of-turn token is scored
    assert tokenizer.decode(options[1][text_starts[1]:]).strip() == "Liver"
    assert tokenizer.decode(prompt).endswith("<start_of_turn>model\n")


def test_shared_prompt_scores_equal_the_training_loss_of_each_full_sequence(tiny_model):
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    item = ITEMS[1]  # with the system prompt the prompt is longer than the tiny model's 64-token sliding window
    system = "You are a careful medical information assistant. " * 4
    prompt, options, _ = encode_item(tok, item, system)
    assert len(prompt) > 64
    scores = item_logprobs(model, prompt, options, tok.pad_token_id)
    for j, token_logps in enumerate(scores):
        total, first = sum(token_logps), token_logps[0]
        row = encode_example(tok, Example(question=format_prompt(item), answer=continuation(item, j)), system, 4096,
                             suffix="")
        with torch.no_grad():
            loss_sum, n = answer_loss_sum(model, **collate([row], tok.pad_token_id))
        assert n == len(options[j])
        assert total == pytest.approx(-float(loss_sum), rel=1e-4, abs=1e-4)
        assert first <= 0 and total <= first + 1e-5
    results = score_items(Generator(model, tok), BASE, ITEMS, None, progress=False)
    assert [len(r["loglik"]) for r in results] == [3, 3, 4]
    for r in results:
        assert r["pred"]["acc"] == max(range(r["k"]), key=r["loglik"].__getitem__)


class _Stub(torch.nn.Module):
    """A 'model' whose next-token distribution is fixed: one favoured token, all others equal."""

    def __init__(self, vocab: int, favoured: int) -> None:
        super().__init__()
        self.head = torch.nn.Linear(4, vocab)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.head.bias.data[favoured] = 10.0

    def get_decoder(self):
        def decoder(input_ids, **kwargs):
            return type("Out", (), {"last_hidden_state": torch.zeros(*input_ids.shape, 4)})
        return decoder

    def get_output_embeddings(self):
        return self.head


def test_a_model_that_always_says_b_answers_b(tokenizer):
    b_id = tokenizer("B", add_special_tokens=False)["input_ids"][0]
    gen = Generator(_Stub(len(tokenizer), b_id), tokenizer)
    items = [MCQItem(str(i), f"Question {i}?", ("yes", "no", "maybe"), i % 3) for i in range(6)]
    assert all(len(tokenizer(continuation(items[0], j), add_special_tokens=False)["input_ids"]) == 3 for j in range(3))
    result = run_mcq(gen, [BASE], items, None, seed=0, progress=False)
    summary = result["models"][BASE]
    assert summary["acc_letter"] == summary["acc"] == pytest.approx(2 / 6)
    assert summary["acc_text"] == pytest.approx(2 / 6)  # texts tie, so the first option (A) wins: gold A twice
    assert summary["pred_distribution"] == {"B": 1.0}
    assert summary["acc_ci95"][0] <= summary["acc"] <= summary["acc_ci95"][1]
    assert result["baselines"]["random"] == pytest.approx(1 / 3)
    assert len(result["rows"]) == 6


def test_baselines_use_the_most_frequent_gold_letter():
    items = [MCQItem(str(i), "q", ("a", "b", "c", "d"), g) for i, g in enumerate([3, 3, 3, 0])]
    b = baselines(items)
    assert b["constant_letter"] == "D" and b["constant"] == 0.75 and b["random"] == 0.25
