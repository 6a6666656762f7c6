"""The clients researchers already use, against a real `medqa serve` process: LangChain's ChatOpenAI, LiteLLM,
lm-eval (chat generation and log-likelihood through /v1/completions), and the OpenAI request fields they send
(penalties, logprobs, n, response_format), with the refusals for what a small local model cannot honour.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from test_server import STROKE, adapter_run, running_server  # noqa: F401 (adapter_run is a fixture)

from medqa.safety import REFERRAL_SENTENCE, triage

KEY = "clients-test-key"
QUESTION = "I have had a mild sore throat since yesterday, what can I do?"
MCQ_ROWS = [  # an MMLU-style CSV written for these tests
    "Which organ pumps blood through the body?,Heart,Liver,Lung,Skin,A",
    "Which bone is the longest in the human body?,Femur,Ulna,Rib,Skull,A",
    "Which vessel carries blood away from the heart?,Vein,Artery,Lymph vessel,Nerve,B",
    "Which organ filters the blood to make urine?,Spleen,Stomach,Kidney,Pancreas,C",
    "Which gland makes insulin?,Thyroid,Adrenal,Pituitary,Pancreas,D",
    "Where does digestion of starch begin?,Mouth,Colon,Liver,Bladder,A",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model, adapter_run) -> Iterator[str]:  # noqa: F811
    log = tmp_path_factory.mktemp("clients-log") / "server.log"
    args = ["--adapter", f"demo={adapter_run}", "--base", str(tiny_model), "--api-key", KEY, "--enable-completions",
            "--set", "generation.max_new_tokens=12", "--set", "generation.temperature=0"]
    with running_server(args, log) as url:
        yield url


@pytest.fixture()
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=120)


def ask(client: openai.OpenAI, **kw) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model="demo", messages=[{"role": "user", "content": QUESTION}],
                                          max_tokens=10, **kw)


def test_n_logprobs_penalties_and_response_format(client):
    plain = ask(client, temperature=0)
    several = ask(client, temperature=0, n=3, logprobs=True, top_logprobs=3, response_format={"type": "text"})
    assert [c.index for c in several.choices] == [0, 1, 2]
    assert {c.message.content for c in several.choices} == {plain.choices[0].message.content}  # greedy: all equal
    assert several.usage.completion_tokens == 3 * plain.usage.completion_tokens
    entries = several.choices[0].logprobs.content
    assert len(entries) == plain.usage.completion_tokens and all(len(e.top_logprobs) == 3 for e in entries)
    assert all(e.logprob == max(t.logprob for t in e.top_logprobs) for e in entries)  # greedy picks the top token
    assert all(e.logprob <= 0 and e.bytes == list(e.token.encode()) for e in entries)
    assert REFERRAL_SENTENCE in several.choices[0].message.content  # the safety layer still shapes every choice
    penalised = ask(client, temperature=0, presence_penalty=2.0, frequency_penalty=2.0, logprobs=True)
    tokens = [e.token for e in penalised.choices[0].logprobs.content]
    assert len(set(tokens)) == len(tokens)  # strong penalties: no token twice
    sampled = ask(client, temperature=1.0, seed=7, n=4)
    assert len({c.message.content for c in sampled.choices}) > 1  # one batch, different samples


def test_streaming_several_choices_with_logprobs(client):
    chunks = list(client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": QUESTION}], max_tokens=10, temperature=0, n=2,
        logprobs=True, stream=True, stream_options={"include_usage": True}))
    text = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            text[choice.index] += choice.delta.content or ""
    finals = [c for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert text[0] == text[1] == ask(client, temperature=0).choices[0].message.content
    assert [f.index for f in finals] == [0, 1] and all(f.logprobs.content for f in finals)
    assert chunks[-1].usage.completion_tokens == 2 * len(finals[0].logprobs.content)


@pytest.mark.parametrize("extra, field", [
    ({"n": 1000}, "n"), ({"presence_penalty": -2.5}, "presence_penalty"), ({"frequency_penalty": 9}, "frequency_penalty"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"), ({"top_logprobs": 2}, "top_logprobs"),
    ({"response_format": {"type": "json_object"}}, "constrained decoding"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools")])
def test_out_of_range_and_unsupported_fields_get_a_400_naming_them(client, extra, field):
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, **extra)
    assert field in str(err.value)


def test_completions_endpoint_is_off_unless_enabled(tmp_path, tiny_model):
    with running_server(["--base", str(tiny_model)], tmp_path / "log") as url:
        resp = httpx.post(f"{url}/v1/completions", json={"model": "base", "prompt": "Hi"}, timeout=30)
    assert resp.status_code == 404 and "--enable-completions" in resp.json()["error"]["message"]


def test_completions_echo_logprobs_match_a_forward_pass(server, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    ids = tok("The heart pumps blood")["input_ids"]
    resp = httpx.post(f"{server}/v1/completions", headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                      json={"model": "base", "prompt": [ids], "max_tokens": 1, "echo": True, "logprobs": 2,
                            "temperature": 0}).json()
    lp = resp["choices"][0]["logprobs"]
    assert lp["token_logprobs"][0] is None and len(lp["token_logprobs"]) == len(ids) + 1
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        scores = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    expected = [float(scores[t - 1, ids[t]]) for t in range(1, len(ids))]
    assert lp["token_logprobs"][1:len(ids)] == pytest.approx(expected, abs=1e-4)
    assert all(len(top) == 2 for top in lp["top_logprobs"][1:])
    assert resp["choices"][0]["text"].startswith(tok.decode(ids)) and resp["usage"]["prompt_tokens"] == len(ids)


def test_langchain_chat_openai_invoke_and_stream(server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{server}/v1", api_key=KEY, model="demo", temperature=0, max_tokens=10,
                     max_retries=0)
    answer = llm.invoke(QUESTION)
    streamed = "".join(chunk.content for chunk in llm.stream(QUESTION))
    assert REFERRAL_SENTENCE in answer.content and streamed == answer.content
    urgent = llm.invoke(STROKE)
    assert urgent.content.startswith(triage(STROKE).message)  # the urgent message leads, whatever the model says
    tuned = llm.bind(presence_penalty=0.5, frequency_penalty=0.5).invoke(QUESTION)  # what chat front-ends send
    assert tuned.content


def test_litellm_completion(server):
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of the price list
    import litellm

    resp = litellm.completion(model="openai/demo", api_base=f"{server}/v1", api_key=KEY, temperature=0, max_tokens=10,
                              messages=[{"role": "user", "content": STROKE}], presence_penalty=0.1)
    assert resp.choices[0].message.content.startswith(triage(STROKE).message)
    stream = litellm.completion(model="openai/demo", api_base=f"{server}/v1", api_key=KEY, temperature=0,
                                max_tokens=10, messages=[{"role": "user", "content": QUESTION}], stream=True)
    assert REFERRAL_SENTENCE in "".join(c.choices[0].delta.content or "" for c in stream)


@pytest.fixture(scope="module")
def mcq_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lm-eval") / "anatomy_test.csv"
    path.write_text("\n".join(MCQ_ROWS) + "\n")
    return path


def test_lm_eval_log_likelihood_matches_medqa_mcq(server, tiny_model, mcq_csv, tmp_path):
    import lm_eval
    from lm_eval.tasks import TaskManager
    from transformers import AutoTokenizer

    from medqa.config import build_config
    from medqa.evaluation.lm_eval_task import LOGLIK_TASK, write_lm_eval_tasks
    from medqa.evaluation.readers import read_mcq
    from medqa.evaluation.runner import run_eval

    cfg = build_config({}, [f"model.base={tiny_model}", "eval.tasks=[mcq]", f"eval.mcq_files=[{mcq_csv}]"])
    bench = run_eval(cfg, tmp_path, [], tmp_path / "eval", progress=False)["mcq"]["benchmarks"]["mmlu"]
    ours = bench["models"]["base"]
    rows = [json.loads(line) for line in (tmp_path / "eval" / "answers.jsonl").read_text().splitlines()]
    tasks = write_lm_eval_tasks(read_mcq(mcq_csv, "mmlu"), AutoTokenizer.from_pretrained(tiny_model), cfg,
                                tmp_path / "tasks")
    os.environ["OPENAI_API_KEY"] = KEY  # lm-eval's local-completions reads the key from here
    out = lm_eval.simple_evaluate(
        model="local-completions", tasks=[LOGLIK_TASK], task_manager=TaskManager(include_path=str(tasks)),
        model_args=f"base_url={server}/v1/completions,model=base,tokenizer={tiny_model},tokenizer_backend=huggingface,"
                   "tokenized_requests=True,max_retries=1")
    theirs = out["results"][LOGLIK_TASK]
    print(f"lm-eval acc {theirs['acc,none']}, medqa acc {ours['acc']} on {bench['items']} items")
    assert theirs["acc,none"] == pytest.approx(ours["acc"]) and bench["items"] == len(MCQ_ROWS)
    # Not by chance: every option's log-likelihood is medqa's minus one shared term per item, the prompt's closing
    # newline, which lm-eval moves from the context into each continuation (see medqa.evaluation.lm_eval_task).
    local = {r["id"]: r["loglik"] for r in rows if r["task"] == "mcq"}
    samples = out["samples"][LOGLIK_TASK]
    assert len(samples) == len(local) == len(MCQ_ROWS)
    for sample in samples:
        shifts = [ours_ll - resp[0][0] for ours_ll, resp in zip(local[sample["doc"]["id"]], sample["resps"])]
        assert max(shifts) - min(shifts) < 2e-3 and min(shifts) > 0
    assert not math.isnan(theirs["acc_norm,none"])


def test_lm_eval_chat_generation(server, tiny_model, mcq_csv, tmp_path):
    import lm_eval
    from lm_eval.tasks import TaskManager
    from transformers import AutoTokenizer

    from medqa.config import build_config
    from medqa.evaluation.lm_eval_task import CHAT_TASK, write_lm_eval_tasks
    from medqa.evaluation.readers import read_mcq

    cfg = build_config({}, [f"model.base={tiny_model}"])
    tasks = write_lm_eval_tasks(read_mcq(mcq_csv, "mmlu"), AutoTokenizer.from_pretrained(tiny_model), cfg,
                                tmp_path / "tasks")
    os.environ["OPENAI_API_KEY"] = KEY
    out = lm_eval.simple_evaluate(
        model="local-chat-completions", tasks=[CHAT_TASK], task_manager=TaskManager(include_path=str(tasks)),
        apply_chat_template=True, log_samples=True,
        model_args=f"base_url={server}/v1/chat/completions,model=demo,max_retries=1")
    samples = out["samples"][CHAT_TASK]
    assert len(samples) == len(MCQ_ROWS) and 0.0 <= out["results"][CHAT_TASK]["exact_match,letter"] <= 1.0
    assert all(REFERRAL_SENTENCE in s["resps"][0][0] for s in samples)  # generated through the safety layer
    json.dumps(out["results"])  # a plain, serialisable result
