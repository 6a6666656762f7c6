"""Load on `medqa serve` over real HTTP: N concurrent clients for S seconds, JSON and streaming, some hanging up.

    MEDQA_HOME=/tmp/mh python benchmarks/serve_load.py [--base embedded] [--clients 64] [--seconds 60]
        [--max-tokens 16] [--stream-share 0.4] [--hangup-share 0.1] [--threads N] [--url URL --api-key KEY]

Starts `medqa serve` on a free port with the embedded model (or `--base FOLDER`, e.g. a tiny test model), or with
`--url` loads a server that is already running. Each client loops until the time is up: a plain request, a streamed
one read to `[DONE]`, or a streamed one it drops after the first content chunk (a client that hangs up mid-stream).
A failure is anything but 200 or a deliberate 429/503 refusal: another status, a transport error, a stream without
`[DONE]` or with an in-band error. The server's RSS (from /proc/PID/status) is read before and after, and /health
and one normal request are checked afterwards. Prints requests, failures, p50/p95 latency, requests/s and tokens/s.
The server decodes greedily; on a shared CPU `--threads 1` (the server's OMP_NUM_THREADS) gives steadier figures,
as torch's worker threads spin-wait on each other when other processes hold the cores.
tests/reliability/test_reliability_server.py runs a short version of the same load (`run_load`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

QUESTIONS = [
    "I have had a dry cough for two weeks. What could cause it?",
    "What can I do about a mild sore throat at home?",
    "Is it normal to feel dizzy when I stand up quickly?",
    "My ankle is swollen after I twisted it yesterday. Should I rest it?",
    "How long does a common cold usually last?",
    "What helps with mild heartburn after meals?",
    "I have crushing chest pain spreading to my left arm and I am sweating.",  # urgent: triage leads the reply
    "My face droops on one side and my words come out wrong.",  # urgent
]
REFUSALS = (429, 503)  # deliberate: queue full, shutting down
START_TIMEOUT_S = 600.0  # the first run builds the embedded model cache


@dataclass
class LoadReport:
    """What the clients saw; latencies of finished requests only (hang-ups and refusals excluded)."""

    seconds: float = 0.0
    kinds: Counter = field(default_factory=Counter)  # json / stream / hangup -> requests sent
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    rss_before_kib: int | None = None
    rss_after_kib: int | None = None

    @property
    def requests(self) -> int:
        return sum(self.kinds.values())

    @property
    def refused(self) -> int:
        return sum(self.statuses[s] for s in REFUSALS)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> str:
        rss = ""
        if self.rss_before_kib and self.rss_after_kib:
            rss = (f"; server RSS {self.rss_before_kib / 1024:.0f} -> {self.rss_after_kib / 1024:.0f} MiB "
                   f"({(self.rss_after_kib - self.rss_before_kib) / 1024:+.0f} MiB)")
        return (f"{self.requests} requests in {self.seconds:.1f}s ({dict(self.kinds)}), {len(self.failures)} failed, "
                f"{self.refused} refused (429/503); latency p50 {self.percentile(0.5):.2f}s "
                f"p95 {self.percentile(0.95):.2f}s; {len(self.latencies) / self.seconds:.1f} requests/s, "
                f"{self.tokens / self.seconds:.1f} tokens/s{rss}")


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(args: list[str], log: Path, env: dict[str, str] | None = None,
          timeout: float = START_TIMEOUT_S) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run `medqa serve ARGS` on a free port until /health answers; yields (base URL, process); stops it after.

    `env` adds to the environment; $MEDQA_API_KEY is cleared so that only `--api-key` sets a key.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medqa.cli", "serve", "--port", str(port), *args],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "MEDQA_API_KEY": "", **(env or {})})
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy after {timeout:.0f}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _body(rng: random.Random, model: str, max_tokens: int, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": stream,
                            "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}]}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


async def _refused(resp: httpx.Response) -> None:
    """A well-behaved client waits as long as a 429/503 asks before its next request."""
    await asyncio.sleep(float(resp.headers.get("retry-after", "1")))


async def _json_request(client: httpx.AsyncClient, body: dict[str, Any], report: LoadReport) -> None:
    t0 = time.perf_counter()
    resp = await client.post("/v1/chat/completions", json=body)
    report.statuses[resp.status_code] += 1
    if resp.status_code in REFUSALS:
        await _refused(resp)
    if resp.status_code == 200:
        data = resp.json()
        if not data.get("choices") or not data["choices"][0]["message"]["content"]:
            report.failures.append(f"json: 200 without an answer: {resp.text[:200]}")
            return
        report.latencies.append(time.perf_counter() - t0)
        report.tokens += data["usage"]["completion_tokens"]
    elif resp.status_code not in REFUSALS:
        report.failures.append(f"json: {resp.status_code} {resp.text[:200]}")


async def _stream_request(client: httpx.AsyncClient, body: dict[str, Any], report: LoadReport, hangup: bool) -> None:
    """Read the SSE stream to [DONE], or (hangup) close the connection after the first content chunk."""
    t0, done, tokens = time.perf_counter(), False, 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        report.statuses[resp.status_code] += 1
        if resp.status_code != 200:
            text = (await resp.aread()).decode(errors="replace")
            if resp.status_code in REFUSALS:
                await _refused(resp)
            else:
                report.failures.append(f"stream: {resp.status_code} {text[:200]}")
            return
        async for line in resp.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            chunk = json.loads(line[6:])
            if "error" in chunk:
                report.failures.append(f"stream: in-band error {chunk['error']}")
                return
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            if hangup and any(c["delta"].get("content") for c in chunk["choices"]):
                return  # leaving the block closes the connection mid-stream
    if not done:
        report.failures.append("stream: ended without [DONE]")
        return
    report.latencies.append(time.perf_counter() - t0)
    report.tokens += tokens


async def _client(url: str, headers: dict[str, str], deadline: float, rng: random.Random, report: LoadReport,
                  models: list[str], max_tokens: int, stream_share: float, hangup_share: float) -> None:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        while time.monotonic() < deadline:
            roll = rng.random()
            kind = "hangup" if roll < hangup_share else "stream" if roll < hangup_share + stream_share else "json"
            report.kinds[kind] += 1
            body = _body(rng, rng.choice(models), max_tokens, stream=kind != "json")
            try:
                if kind == "json":
                    await _json_request(client, body, report)
                else:
                    await _stream_request(client, body, report, hangup=kind == "hangup")
            except (httpx.HTTPError, json.JSONDecodeError, KeyError) as err:
                report.failures.append(f"{kind}: {type(err).__name__}: {err}")


async def run_load(url: str, *, api_key: str | None = None, clients: int = 64, seconds: float = 60.0,
                   max_tokens: int = 16, stream_share: float = 0.4, hangup_share: float = 0.1, seed: int = 0,
                   pid: int | None = None) -> LoadReport:
    """`clients` concurrent clients against `url` for `seconds`; RSS of process `pid` before and after if given."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    models = [m["id"] for m in httpx.get(f"{url}/v1/models", headers=headers, timeout=30).json()["data"]]
    report = LoadReport(rss_before_kib=rss_kib(pid) if pid else None)
    t0 = time.monotonic()
    await asyncio.gather(*(_client(url, headers, t0 + seconds, random.Random(seed * 1000 + i), report, models,
                                   max_tokens, stream_share, hangup_share) for i in range(clients)))
    report.seconds = time.monotonic() - t0
    if pid:
        report.rss_after_kib = rss_kib(pid)
    return report


def check_after(url: str, api_key: str | None = None, settle_s: float = 60.0) -> str:
    """Wait for the queue to drain, then check /health and one normal request; returns the reply's first words."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + settle_s
    while (health := httpx.get(f"{url}/health", timeout=10)).json().get("queued") and time.monotonic() < deadline:
        time.sleep(0.2)
    if health.status_code != 200 or health.json()["status"] != "ok":
        raise RuntimeError(f"server unhealthy after the load: {health.status_code} {health.text[:300]}")
    resp = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=120,
                      json={"model": "base", "max_tokens": 8, "messages": [{"role": "user", "content": QUESTIONS[1]}]})
    if resp.status_code != 200:
        raise RuntimeError(f"a normal request after the load failed: {resp.status_code} {resp.text[:300]}")
    return resp.json()["choices"][0]["message"]["content"][:60]


def _measure(args: argparse.Namespace, url: str, pid: int | None) -> LoadReport:
    for _ in range(2):  # warm-up, so that the first batch's allocations count as "before"
        check_after(url, args.api_key)
    report = asyncio.run(run_load(url, api_key=args.api_key, clients=args.clients, seconds=args.seconds,
                                  max_tokens=args.max_tokens, stream_share=args.stream_share,
                                  hangup_share=args.hangup_share, seed=args.seed, pid=pid))
    print(f"after the load: healthy, a normal request answers {check_after(url, args.api_key)!r}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="embedded", help="'embedded' or a model folder (when starting a server)")
    parser.add_argument("--url", help="load a running server instead of starting one (no RSS unless --pid)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for RSS")
    parser.add_argument("--api-key")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--stream-share", type=float, default=0.4, help="share of requests streamed to the end")
    parser.add_argument("--hangup-share", type=float, default=0.1, help="share of streams dropped mid-stream")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="the started server's torch CPU threads (default: torch's choice)")
    parser.add_argument("--log", default="serve_load.log", help="server log (when starting a server)")
    args = parser.parse_args()
    if args.url:
        report = _measure(args, args.url.rstrip("/"), args.pid)
    else:
        serve_args = ["--base", args.base, "--set", "generation.temperature=0"]
        if args.api_key:
            serve_args += ["--api-key", args.api_key]
        env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else None
        with serve(serve_args, Path(args.log), env) as (url, proc):
            print(f"serving {args.base} at {url} (pid {proc.pid}, log {args.log})")
            report = _measure(args, url, proc.pid)
    for failure in report.failures[:20]:
        print(f"failure: {failure}")
    print(f"status codes: {dict(report.statuses)}")
    print(f"{args.clients} clients: {report.summary()}")
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
