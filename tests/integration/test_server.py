"""`medqa serve` as a client sees it: a real server process on a free port, called with the official `openai` client.

The server runs the tiny model with one tiny adapter trained for one step (a large learning rate makes its greedy
answers differ from the base's, so adapter selection is observable).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from conftest import tiny_cfg

from medqa.safety import has_referral

API_KEY = "test-key-123"
MAX_BODY = 64 * 1024
TOKEN_CAP = 64
ERROR_KEYS = {"message", "type", "param", "code"}
STROKE = "my face droops on one side and my words come out wrong"
SORE_THROAT = "I have had a mild sore throat since yesterday, what can I do?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def medqa_process(command: list[str], port: int, ready: str, log: Path,
                  timeout: float = 240.0) -> Iterator[subprocess.Popen]:
    """Start `medqa COMMAND` (a server on `port`), wait until GET `ready` answers 200, yield the process, stop it
    afterwards (unless the test already has). The log is appended to, so a restarted server keeps one log."""
    with open(log, "a") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medqa.cli", *command], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "MEDQA_API_KEY": ""})
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{command[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{command[0]} not ready after {timeout}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def running_server(args: list[str], log: Path, timeout: float = 240.0) -> Iterator[str]:
    """Start `medqa serve ARGS` on a free port, wait for /health, yield its base URL, stop it afterwards."""
    port = free_port()
    with medqa_process(["serve", "--port", str(port), *args], port, "/health", log, timeout):
        yield f"http://127.0.0.1:{port}"


_ADAPTERS: dict[Path, Path] = {}  # one trained adapter per session, shared with test_web_page.py


@pytest.fixture(scope="session")
def adapter_run(tmp_path_factory, tiny_model, prepared_small) -> Path:
    from medqa.training.trainer import run_training

    if tiny_model not in _ADAPTERS:
        run = tmp_path_factory.mktemp("serve-adapter") / "run"
        cfg = tiny_cfg(tiny_model, run, "train.max_steps=1", "train.learning_rate=0.05", "train.warmup_steps=0",
                       "train.eval_every=100", "train.save_every=100")
        run_training(cfg, prepared_small, progress=False)
        _ADAPTERS[tiny_model] = run
    return _ADAPTERS[tiny_model]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model, adapter_run) -> Iterator[str]:
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    args = ["--adapter", f"demo={adapter_run}", "--base", str(tiny_model), "--api-key", API_KEY,
            "--max-body-bytes", str(MAX_BODY), "--max-tokens-cap", str(TOKEN_CAP),
            "--set", "generation.max_new_tokens=8", "--set", "generation.temperature=0"]
    with running_server(args, log) as url:
        yield url
    assert SORE_THROAT not in log.read_text(), "message text must not be logged by default"


@pytest.fixture()
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=API_KEY, max_retries=0, timeout=120)


def ask(client: openai.OpenAI, text: str, model: str = "demo", **kw):
    kw = {"temperature": 0, "max_tokens": 8, **kw}
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kw)


def test_models_lists_base_and_adapters(client):
    assert [m.id for m in client.models.list()] == ["base", "demo"]


def test_completion_is_openai_shaped_with_triage_and_referral(client):
    resp = ask(client, SORE_THROAT)
    assert resp.object == "chat.completion" and resp.model == "demo" and resp.id.startswith("chatcmpl-")
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert has_referral(choice.message.content)
    assert 0 < resp.usage.completion_tokens <= 8 and resp.usage.prompt_tokens > 0
    assert resp.model_extra["triage"]["urgent"] is False


def test_streaming_gives_the_same_answer(client):
    whole = ask(client, SORE_THROAT).choices[0].message.content
    chunks = list(ask(client, SORE_THROAT, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra["triage"]["urgent"] is False
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 8


def test_model_selects_the_adapter(client):
    base, demo = (ask(client, SORE_THROAT, model=m) for m in ("base", "demo"))
    assert base.model == "base" and demo.model == "demo"
    assert base.choices[0].message.content != demo.choices[0].message.content


def test_emergency_leads_with_urgent_message(client):
    resp = ask(client, STROKE)
    triage = resp.model_extra["triage"]
    assert triage["urgent"] is True and triage["category"] == "stroke"
    assert resp.choices[0].message.content.startswith(triage["message"])
    chunks = list(ask(client, STROKE, stream=True))
    assert chunks[0].model_extra["triage"]["urgent"] is True
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.startswith(triage["message"]) and "emergency" in streamed.lower()


def test_wrong_or_missing_api_key_is_401(server):
    for key in ("wrong", ""):
        bad = openai.OpenAI(base_url=f"{server}/v1", api_key=key or "x", max_retries=0,
                            default_headers={} if key else {"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as err:
            bad.models.list()
        assert set(err.value.body) == ERROR_KEYS and err.value.code == "invalid_api_key"
    assert httpx.get(f"{server}/health").status_code == 200  # health needs no key


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as err:
        ask(client, SORE_THROAT, model="../../etc/passwd")
    assert err.value.code == "model_not_found" and err.value.param == "model"


def post(server: str, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    return httpx.post(f"{server}/v1/chat/completions", headers=headers, timeout=60, **kw)


def assert_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    return body["error"]


def test_bad_bodies_get_openai_errors_and_server_stays_healthy(server, client):
    user = [{"role": "user", "content": "hi there"}]
    assert assert_error(post(server, content=b"{not json"), 400)["code"] == "invalid_json"
    assert assert_error(post(server, json={"model": "base", "messages": []}), 400)["param"] == "messages"
    assert assert_error(post(server, json={"model": "base", "messages": user, "temperature": "hot"}),
                        400)["param"] == "temperature"
    assert "typo_field" in assert_error(post(server, json={"model": "base", "messages": user, "typo_field": 1}),
                                        400)["message"]
    assert assert_error(post(server, json={"messages": user}), 400)["param"] == "model"
    last_assistant = [*user, {"role": "assistant", "content": "hello"}]
    assert assert_error(post(server, json={"model": "base", "messages": last_assistant}), 400)["code"] == \
        "invalid_messages"
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, SORE_THROAT, max_tokens=TOKEN_CAP + 1)
    assert err.value.param == "max_tokens"
    health = httpx.get(f"{server}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert has_referral(ask(client, SORE_THROAT).choices[0].message.content)


def test_body_too_large_is_413(server):
    big = {"model": "base", "messages": [{"role": "user", "content": "x" * (MAX_BODY + 10)}]}
    assert assert_error(post(server, json=big), 413)["code"] == "request_too_large"

    def chunked():  # no Content-Length: the limit applies while the body streams in
        yield b'{"model": "base", "messages": [{"role": "user", "content": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"y" * 1024
        yield b'"}]}'

    assert_error(post(server, content=chunked()), 413)
    assert httpx.get(f"{server}/health").status_code == 200


def test_concurrent_requests_are_batched(server, client):
    questions = [f"{SORE_THROAT} (question {i})" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda q: ask(client, q), questions))
    assert all(has_referral(r.choices[0].message.content) for r in replies)
    stats = httpx.get(f"{server}/health").json()
    assert stats["max_batch_size"] > 1, stats


def test_web_page_is_served_self_contained(server):
    resp = httpx.get(f"{server}/")
    assert resp.status_code == 200 and "text/html" in resp.headers["content-type"]
    assert "connect-src 'self'" in resp.headers["content-security-policy"]
    assert "src=\"http" not in resp.text and "href=\"http" not in resp.text
