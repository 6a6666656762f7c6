"""The Assistant's batcher on the tiny model: batched rows equal unbatched answers, per-request limits, stop strings,
a bounded queue, and the safety layer on every reply."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from medqa.config import GenerationConfig, ModelConfig
from medqa.inference.assistant import Assistant, AssistantClosed, InputTooLong, QueueFull, UnknownModel
from medqa.inference.pipeline import BadConversation
from medqa.inference.generator import Generator
from medqa.inference.rows import _stop_prefix_len
from medqa.modeling.loading import load_base
from medqa.safety import REFERRAL_SENTENCE

GREEDY = GenerationConfig(temperature=0.0, max_new_tokens=8)
QUESTIONS = ["My ankle is swollen after a fall.", "What helps a mild cold?", "Why do I sneeze in the sun?",
             "Is it fine to run with a blister on my heel that has been there for two days?"]


@pytest.fixture(scope="module")
def generator(tiny_model) -> Generator:
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    return Generator(model, tok)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_batched_rows_match_generate_batch_and_limits_hold(generator):
    with Assistant(generator, "Be careful.", GREEDY, batch_wait_s=0.05) as assistant:
        with ThreadPoolExecutor(len(QUESTIONS)) as pool:
            tickets = list(pool.map(lambda q: assistant.submit(user(q), max_tokens=8), QUESTIONS))
        results = [t.done.result(timeout=120) for t in tickets]
        assert assistant.stats()["max_batch_size"] > 1
        short = assistant.submit(user(QUESTIONS[0]), max_tokens=3).done.result(timeout=60)
    expected = generator.generate_batch([assistant.pipeline.conversation(user(q)) for q in QUESTIONS],
                                        GREEDY)
    assert [r.text for r in results] == [e["text"] for e in expected]  # left padding changes nothing
    assert all(r.tokens <= 8 for r in results)
    assert short.tokens == 3 and short.finish_reason == "length"
    assert results[0].text.startswith(short.text)


def test_stop_string_ends_the_row_without_showing_it(generator):
    with Assistant(generator, None, GREEDY) as assistant:
        full = assistant.submit(user(QUESTIONS[1])).done.result(timeout=60).text
        stop = full.split()[1][:3] if len(full.split()) > 1 else full[2:4]
        ticket = assistant.submit(user(QUESTIONS[1]), stop=[stop], stream=True)
        streamed = "".join(ticket.pieces())
        result = ticket.done.result()
    assert result.finish_reason == "stop" and stop not in result.text
    assert full.startswith(result.text) and streamed.strip() == result.text


def test_stream_and_complete_apply_the_safety_layer(generator):
    stroke = "my face droops on one side and my words come out wrong"
    with Assistant(generator, None, GREEDY) as assistant:
        reply = assistant.complete(user(stroke))
        streamed = "".join(assistant.stream(user(stroke)))
        calm = assistant.complete(user(QUESTIONS[1]))
    assert reply.triage.urgent and reply.text.startswith(reply.triage.message)
    assert streamed.strip() == reply.text
    assert not calm.triage.urgent and calm.text.endswith(REFERRAL_SENTENCE)


def test_refusals(generator):
    # one row per batch, so the worker cannot take the waiting request into the busy one's batch
    assistant = Assistant(generator, None, GREEDY, queue_size=1, max_batch_size=1, max_input_tokens=40)
    with pytest.raises(AssistantClosed):
        assistant.submit(user("hello there"))
    with assistant:
        with pytest.raises(UnknownModel):
            assistant.submit(user("hi"), model="../adapter")
        with pytest.raises(BadConversation):
            assistant.submit([*user("hi"), {"role": "assistant", "content": "hello"}])
        with pytest.raises(InputTooLong):
            assistant.submit(user("word " * 100))
        busy = assistant.submit(user("hi"), max_tokens=400)  # keeps the worker busy
        deadline = time.monotonic() + 30
        while assistant.stats()["queued"] and time.monotonic() < deadline:
            time.sleep(0.01)
        waiting = assistant.submit(user("hi"), max_tokens=2)
        with pytest.raises(QueueFull):
            assistant.submit(user("hi"))
        busy.cancel()  # a cancelled row ends at once; the queued request still runs
        assert waiting.done.result(timeout=60).tokens <= 2


def test_stop_prefix_is_held_back():
    assert _stop_prefix_len("hello wor", ("world",)) == 3
    assert _stop_prefix_len("hello", ("xyz",)) == 0
    assert _stop_prefix_len("ab", ("abc", "b")) == 2


def test_semantic_triage_runs_beside_generation_and_leads_the_reply(generator):
    from medqa.retrieval.exemplars import load_semantic_signal

    text = "the snake got my ankle and it's swelling up fast"  # the rules alone miss this phrasing
    with Assistant(generator, None, GREEDY, semantic=load_semantic_signal()) as assistant:
        ticket = assistant.submit(user(text), max_tokens=4)
        assert not ticket.first_triage.urgent  # queued on the rules' verdict, without waiting for the embedder
        assert ticket.triage.urgent and "rules" not in ticket.triage.signals
        reply = assistant.reply(ticket, ticket.done.result(timeout=60))
        assert reply.text.startswith(ticket.triage.message) and reply.triage.category == "envenomation"
        streamed = "".join(assistant.stream(user(text), max_tokens=4))
        assert streamed.startswith(ticket.triage.message)
