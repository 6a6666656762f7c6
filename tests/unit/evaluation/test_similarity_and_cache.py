"""MiniLM metrics (BERTScore-style, statement coverage) offline, and the generation cache's keys and file."""

import pytest

from medqa.config import GenerationConfig
from medqa.evaluation.cache import GenerationCache, generation_params
from medqa.evaluation.similarity import bertscore, sentences, statement_coverage


def test_bertscore_identical_is_one_and_unrelated_is_lower():
    ref = "Drink plenty of fluids and rest."
    out = bertscore([ref, "The invoice is overdue by three weeks.", ""], [ref, ref, ref])
    assert out["per_item_f1"][0] == pytest.approx(1.0, abs=1e-4)
    assert out["per_item_f1"][1] < 0.8 and out["per_item_f1"][2] == 0.0
    assert 0 < out["bertscore_f1"] < 1


def test_statement_coverage_matches_paraphrases_not_unrelated_advice():
    answers = ["Call an ambulance now. Keep the person still.", "Drink water and sleep well."]
    statements = [("Phone emergency services immediately.",), ("Phone emergency services immediately.",)]
    cov = statement_coverage(answers, statements)
    assert cov["per_item"] == [1.0, 0.0] and cov["statement_coverage"] == 0.5 and cov["threshold"] == 0.6
    assert statement_coverage(["x"], [()])["statement_coverage"] is None
    assert sentences("One. Two!\nThree") == ["One.", "Two!", "Three"]


def test_cache_keys_and_file_round_trip(tmp_path):
    greedy = generation_params(GenerationConfig(temperature=0.0, seed=1), 64)
    assert greedy == generation_params(GenerationConfig(temperature=0.0, seed=2), 64)  # seed ignored when greedy
    sampled = generation_params(GenerationConfig(temperature=0.7, seed=1), 64)
    key = GenerationCache.key
    k = key("m", "base", "prompt", greedy)
    variants = {k, key("m", "abc", "prompt", greedy), key("m", "base", "prompt2", greedy),
                key("m", "base", "prompt", sampled), key("m2", "base", "prompt", greedy),
                key("m", "base", "prompt", generation_params(GenerationConfig(temperature=0.0), 32))}
    assert len(variants) == 6  # model, adapter, prompt and every decoding setting change the key
    path = tmp_path / "c" / "generations.jsonl"
    cache = GenerationCache(path).load()
    cache.add([{"key": k, "text": "hello", "stopped": True, "tokens": 2}])
    with path.open("a") as fh:
        fh.write('{"key": "cut sho')  # a line cut short by a killed run
    again = GenerationCache(path).load()
    assert again.get(k)["text"] == "hello" and len(again.entries) == 1
