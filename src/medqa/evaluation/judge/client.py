"""One judge call over HTTP: `POST {url}/chat/completions` at temperature 0, with a timeout, and retries with
exponential backoff on 408, 409, 425, 429, any 5xx, timeouts and dropped connections.

A 4xx that retrying cannot fix (a wrong model name, a bad key) stops the run at once with the judge's own message;
a judge still failing after every retry raises `JudgeUnavailable`, and the calls that finished stay cached.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from medqa.config import JudgeConfig
from medqa.errors import ConfigError, MedqaError
from medqa.inference.endpoints import api_key, first_model

RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


class JudgeUnavailable(MedqaError):
    """The judge kept failing (down, overloaded, too slow) after every retry."""


@dataclass
class JudgeReply:
    content: str
    usage: dict[str, int] = field(default_factory=dict)


class JudgeClient:
    """A thread-safe client for one judge model (httpx's Client pools connections across threads)."""

    def __init__(self, cfg: JudgeConfig, model: str, api_key: str | None = None) -> None:
        import httpx

        base = (cfg.url or "").rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model, self.cfg = model, cfg
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(cfg.timeout_s, connect=10.0),
                                  limits=httpx.Limits(max_connections=cfg.concurrency))

    def close(self) -> None:
        self._http.close()

    def complete(self, messages: list[dict[str, str]]) -> JudgeReply:
        import httpx

        payload = {"model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": self.cfg.max_tokens,
                   "stream": False}
        problem = ""
        for attempt in range(self.cfg.retries + 1):
            if attempt:
                time.sleep(self.cfg.backoff_s * 2 ** (attempt - 1) * (1 + 0.25 * random.random()))
            try:
                resp = self._http.post(self.url, json=payload)
            except httpx.TimeoutException:
                problem = f"no reply within {self.cfg.timeout_s:g} s"
                continue
            except httpx.TransportError as err:
                problem = f"unreachable ({type(err).__name__})"
                continue
            if resp.status_code in RETRYABLE or resp.status_code >= 500:
                problem = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                raise ConfigError(f"the judge at {self.url} refused the request with HTTP {resp.status_code}: "
                                  f"{resp.text[:300]} (check --judge-model and the key)")
            try:
                body = resp.json()
                content = body["choices"][0]["message"].get("content")
                usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                problem = "a reply that is not a chat completion"
                continue
            return JudgeReply(str(content or ""), {k: v for k, v in usage.items()
                                                   if k.endswith("_tokens") and isinstance(v, int)})
        raise JudgeUnavailable(f"the judge at {self.url} failed {self.cfg.retries + 1} times: {problem}")


def judge_client(cfg: JudgeConfig) -> JudgeClient:
    """The client for the `judge:` section: the key from the named environment variable (never a flag or a file,
    never logged) and the model, when not given, the judge's first listed one."""
    if not cfg.url:
        raise ConfigError("no judge: pass --judge URL (any OpenAI-compatible server) or set judge.url")
    key = api_key(cfg.api_key_env, "--judge-api-key-env")
    return JudgeClient(cfg, cfg.model or first_model(cfg.url, key, "--judge-model"), key)


def describe(cfg: JudgeConfig, model: str) -> dict[str, Any]:
    return {"url": cfg.url, "model": model, "concurrency": cfg.concurrency, "timeout_s": cfg.timeout_s,
            "retries": cfg.retries}
