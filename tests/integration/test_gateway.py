"""`medqa serve --backend URL`: medqa's triage and answer policy in front of another OpenAI-compatible server.

The backend is a second real `medqa serve` process (real HTTP); the faults are real too: a closed port, a backend
that accepts connections and never answers, and a backend killed in the middle of a stream.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from test_server import SORE_THROAT, STROKE, free_port, running_server

from medqa.safety import REFERRAL_SENTENCE, triage

GEN = ["--set", "generation.temperature=0", "--set", "generation.max_new_tokens=16"]


@contextlib.contextmanager
def backend_process(tiny_model: Path, log: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A backend `medqa serve` whose process the test may kill."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medqa.cli", "serve", "--port", str(port), "--base",
                                 str(tiny_model), *GEN, *extra], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "MEDQA_API_KEY": ""})
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield url, proc
    finally:
        proc.kill()
        proc.wait(30)


def gateway_args(backend: str, *extra: str) -> list[str]:
    return ["--backend", f"{backend}/v1", "--backend-model", "base", *GEN, *extra]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, tiny_model) -> Iterator[tuple[str, str]]:
    logs = tmp_path_factory.mktemp("gateway-logs")
    with backend_process(tiny_model, logs / "backend.log") as (backend, _):
        with running_server(gateway_args(backend), logs / "gateway.log") as gateway:
            yield backend, gateway


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def ask(url: str, text: str, **kw):
    return client(url).chat.completions.create(model="base", messages=[{"role": "user", "content": text}],
                                               temperature=0, max_tokens=16, **kw)


def sse(url: str, text: str) -> list[dict]:
    """The raw server-sent events of one streamed request (errors included, which the openai client raises on)."""
    body = {"model": "base", "messages": [{"role": "user", "content": text}], "stream": True, "max_tokens": 16}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as resp:
        assert resp.status_code == 200
        return [json.loads(line[5:]) for line in resp.iter_lines()
                if line.startswith("data:") and line[5:].strip() != "[DONE]"]


def content(events: list[dict]) -> str:
    return "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices", []))


def test_gateway_replies_equal_the_backend_and_apply_the_policy_once(pair):
    backend, gateway = pair
    for text in (SORE_THROAT, STROKE):
        direct, through = ask(backend, text), ask(gateway, text)
        assert through.choices[0].message.content == direct.choices[0].message.content
        assert through.triage["urgent"] == direct.triage["urgent"] == (text == STROKE)
        shown = through.choices[0].message.content
        if text == STROKE:
            assert shown.startswith(triage(STROKE).message) and shown.count(triage(STROKE).message) == 1
        assert shown.count(REFERRAL_SENTENCE) <= 1
        streamed = client(gateway).chat.completions.create(
            model="base", messages=[{"role": "user", "content": text}], temperature=0, max_tokens=16, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices).strip() == shown
    assert client(gateway).models.list().data[0].id == "base"


def test_gateway_passes_penalties_logprobs_and_n_to_the_backend(pair):
    backend, gateway = pair
    kw = {"logprobs": True, "top_logprobs": 2, "presence_penalty": 1.5, "frequency_penalty": 1.5}
    direct, through = ask(backend, SORE_THROAT, **kw), ask(gateway, SORE_THROAT, n=2, **kw)
    assert [c.message.content for c in through.choices] == [direct.choices[0].message.content] * 2
    tokens = [(e.token, e.logprob) for e in direct.choices[0].logprobs.content]
    assert tokens and [(e.token, e.logprob) for e in through.choices[1].logprobs.content] == tokens
    assert len({t for t, _ in tokens}) == len(tokens)  # the penalties reached the backend: no token repeats


def test_unreachable_backend_gives_502_and_the_urgent_message_still_leads(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with running_server(gateway_args(closed), tmp_path / "gateway.log") as gateway:
        with pytest.raises(openai.APIStatusError) as err:
            ask(gateway, SORE_THROAT)
        assert err.value.status_code == 502 and err.value.body["code"] == "backend_error"
        with pytest.raises(openai.APIStatusError) as err:
            ask(gateway, STROKE)
        assert err.value.status_code == 502 and err.value.body["message"].startswith(triage(STROKE).message)
        events = sse(gateway, STROKE)
        assert content(events).startswith(triage(STROKE).message)  # sent first, before the backend failed
        assert events[-1]["error"]["code"] == "backend_error"
        assert httpx.get(f"{gateway}/health").status_code == 200  # the gateway keeps serving


def test_silent_backend_gives_504_after_the_read_timeout(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        backend = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with running_server(gateway_args(backend, "--backend-read-timeout", "1"), tmp_path / "g.log") as gateway:
            start = time.monotonic()
            with pytest.raises(openai.APIStatusError) as err:
                ask(gateway, SORE_THROAT)
            assert err.value.status_code == 504 and err.value.body["code"] == "backend_timeout"
            assert time.monotonic() - start < 30


# A second server process that streams an OpenAI-shaped answer slowly, one sentence every 50 ms, so that it can be
# killed while the gateway is relaying it.
SLOW_BACKEND = """
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(400):
            data = json.dumps({"choices": [{"index": 0, "delta": {"content": f"Sentence {i}. "}}]})
            event = f"data: {data}\\n\\n".encode()
            self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(0.05)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_backend_killed_mid_stream_ends_the_stream_with_an_error_event(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BACKEND, str(port)])
    try:
        with running_server(gateway_args(f"http://127.0.0.1:{port}"), tmp_path / "gateway.log") as gateway:
            body = {"model": "base", "messages": [{"role": "user", "content": SORE_THROAT}], "stream": True}
            events = []
            with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=body, timeout=120) as resp:
                for line in resp.iter_lines():
                    if line.startswith("data:") and line[5:].strip() != "[DONE]":
                        events.append(json.loads(line[5:]))
                        if len(events) == 3:  # the role chunk and two sentences: now the backend dies
                            proc.kill()
            assert content(events).startswith("Sentence 0. Sentence 1.")
            assert events[-1]["error"]["code"] == "backend_error"
            with pytest.raises(openai.APIStatusError) as err:
                ask(gateway, SORE_THROAT)
            assert err.value.status_code == 502
    finally:
        proc.kill()
        proc.wait(10)


def medqa_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, timeout=300)


def test_ask_with_a_backend_shows_what_the_gateway_shows(pair):
    backend, _ = pair
    res = medqa_cli("ask", STROKE, "--backend", f"{backend}/v1", "--backend-model", "base", *GEN)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ask(backend, STROKE).choices[0].message.content


def test_eval_with_a_backend_scores_what_the_gateway_serves(pair, tmp_path):
    backend, gateway = pair
    out = tmp_path / "eval"
    res = medqa_cli("eval", "--task", "safety", "--backend", f"{backend}/v1", "--backend-model", "base",
                    "--max-new-tokens", "16", "--output", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"] == ["base"] and metrics["safety"]["items"] == 44 and "at http://127.0.0.1" in metrics["base"]
    rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()][:4]
    assert [r["wrapped"] for r in rows] == [ask(gateway, r["question"]).choices[0].message.content for r in rows]
    again = medqa_cli("eval", "--task", "safety", "--backend", f"{backend}/v1", "--backend-model", "base",
                      "--max-new-tokens", "16", "--output", str(out), "--quiet")
    assert again.returncode == 0 and json.loads((out / "metrics.json").read_text())["timings"]["generated_answers"] == 0


def test_ask_with_a_dead_backend_still_leads_with_the_urgent_message():
    res = medqa_cli("ask", STROKE, "--backend", f"http://127.0.0.1:{free_port()}/v1", "--backend-model", "base")
    assert res.returncode == 2 and "unreachable" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout.startswith(triage(STROKE).message)


def test_launched_backend_is_fronted_and_stopped(tiny_model):
    """`--engine vllm`'s launcher with a real OpenAI-compatible server standing in for vLLM (which needs a GPU)."""
    from medqa.config import GenerationConfig
    from medqa.errors import MedqaError
    from medqa.inference.backend import BackendAssistant, OpenAIEngine
    from medqa.serving.vllm import launch_backend, stop

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "medqa.cli", "serve", "--port", str(port), "--base", str(tiny_model), *GEN]
    proc = launch_backend(cmd, url, {**os.environ, "MEDQA_API_KEY": "engine-key"}, "engine-key", timeout_s=240)
    try:
        assert httpx.get(f"{url}/models", timeout=5).status_code == 401  # not reachable around the front
        engine = OpenAIEngine(url, "base", "engine-key")
        with BackendAssistant(engine, None, GenerationConfig(temperature=0, max_new_tokens=8)) as front:
            reply = front.complete([{"role": "user", "content": STROKE}])
        assert reply.triage.urgent and reply.text.startswith(triage(STROKE).message)
    finally:
        stop(proc)
    assert proc.poll() is not None
    with pytest.raises(MedqaError, match="exited with code 3 before it was ready:\n.*no GPU found"):
        launch_backend([sys.executable, "-c", "import sys; print('no GPU found'); sys.exit(3)"],
                       "http://127.0.0.1:9/v1", timeout_s=30)
