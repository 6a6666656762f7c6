"""The Assistant's surface over any OpenAI-compatible `/v1/chat/completions` backend (vLLM, Ollama, llama.cpp's
server, another `medqa serve`), so medqa's triage, answer policy, limits, auth and page stand in front of it.

    medqa serve --backend http://127.0.0.1:8001/v1 --backend-model NAME [--backend-api-key-env VAR]
    medqa ask "question" --backend http://127.0.0.1:8001/v1        # also chat

Triage runs on the user's words before anything is sent; the backend's tokens stream back through the same
answer pipeline (medqa.inference.pipeline) that the in-process engine uses, so the urgent message still leads a reply whose
backend is down. The policy is idempotent (an urgent message or referral the backend already wrote is not
repeated), so fronting another `medqa serve` applies it once, as the user sees it. Backend faults become
`BackendError`s that the server maps to OpenAI-shaped 502 (failed or unreachable) and 504 (too slow) answers.
Exercised by tests/integration/test_gateway.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from medqa.config import BackendConfig, GenerationConfig
from medqa.errors import ConfigError
from medqa.inference.assistant import Answering, AssistantClosed, QueueFull, Ticket, UnknownModel, sampling
from medqa.inference.endpoints import api_key, first_model
from medqa.inference.pipeline import AnswerPipeline, RequestError
from medqa.inference.rows import Generated, Scoring
from medqa.safety.semantic import SemanticSignal

_DEFAULT = BackendConfig()
MAX_CONCURRENT = 64  # requests relayed at once; one more is refused (QueueFull -> HTTP 429)


class BackendError(RequestError):
    """The backend failed: `status` is the HTTP status the gateway answers with (502 or 504)."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class OpenAIEngine:
    """Generation by a remote `/v1/chat/completions`: the in-process Generator's `stream()`, over HTTP.

    `ask` and `chat` take it in place of a Generator (`--backend`); `BackendAssistant` relays through it."""

    def __init__(self, url: str, model: str, api_key: str | None = None,
                 connect_timeout_s: float = _DEFAULT.connect_timeout_s,
                 read_timeout_s: float = _DEFAULT.read_timeout_s) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model, self._api_key = model, api_key
        self.timeouts = (connect_timeout_s, read_timeout_s)

    def stream(self, messages: list[dict[str, str]], gen: GenerationConfig, adapter: str | None = None) -> Iterator[str]:
        """The backend's text pieces as they arrive (raw: the caller applies triage and policy)."""
        for item in self.chunks(messages, gen, gen.max_new_tokens):
            if isinstance(item, str):
                yield item

    def generate_batch(self, conversations: list[list[dict[str, str]]], gen: GenerationConfig,
                       adapter: str | None = None, max_new_tokens: int | None = None) -> list[dict[str, Any]]:
        """The Generator's `generate_batch` over HTTP (eval's answers): one request per conversation, all in flight
        at once, so the backend batches them itself."""
        from concurrent.futures import ThreadPoolExecutor

        def one(conversation: list[dict[str, str]]) -> dict[str, Any]:
            *_, done = self.chunks(conversation, gen, max_new_tokens or gen.max_new_tokens)
            assert isinstance(done, Generated)
            return {"text": done.text, "stopped": done.finish_reason == "stop", "tokens": done.tokens}

        with ThreadPoolExecutor(max(1, min(len(conversations), MAX_CONCURRENT))) as pool:
            return list(pool.map(one, conversations))

    def render(self, conversation: list[dict[str, str]]) -> str:
        """The prompt as the cache keys it: the backend applies its own chat template to these messages."""
        return json.dumps(conversation, ensure_ascii=False, sort_keys=True)

    def chunks(self, messages: list[dict[str, str]], gen: GenerationConfig, max_tokens: int,
               stop: tuple[str, ...] = (), model: str | None = None,
               scoring: Scoring = Scoring()) -> Iterator[str | Generated]:
        """Text pieces, then one `Generated` with the finish reason and the backend's token counts."""
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        connect, read = self.timeouts
        text: list[str] = []
        usage: dict[str, Any] = {}
        logprobs: list[dict[str, Any]] = []
        finish = "stop"
        try:
            payload = self._payload(messages, gen, max_tokens, stop, model or self.model, scoring)
            with httpx.stream("POST", self.url, json=payload, headers=headers,
                              timeout=httpx.Timeout(read, connect=connect)) as resp:
                if resp.status_code >= 400:
                    raise BackendError(f"the model backend answered {resp.status_code}: {_error_text(resp)}")
                for chunk in _events(resp.iter_lines()):
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        logprobs += (choice.get("logprobs") or {}).get("content") or []
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            text.append(piece)
                            yield piece
                        finish = choice.get("finish_reason") or finish
        except httpx.TimeoutException as err:
            raise BackendError(f"the model backend at {self.url} did not answer in time ({type(err).__name__}); "
                               "retry, or raise the timeouts", 504) from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as err:
            raise BackendError(f"the model backend at {self.url} is unreachable or broke off: "
                               f"{type(err).__name__}") from None
        yield Generated("".join(text).strip(), int(usage.get("completion_tokens") or len(text)), finish,
                        prompt_tokens=int(usage.get("prompt_tokens") or 0),
                        logprobs=logprobs if scoring.logprobs is not None else None)

    def _payload(self, messages: list[dict[str, str]], gen: GenerationConfig, max_tokens: int,
                 stop: tuple[str, ...], model: str, scoring: Scoring) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": model, "messages": messages, "stream": True,
                                   "stream_options": {"include_usage": True}, "max_tokens": max_tokens,
                                   "temperature": gen.temperature, "top_p": gen.top_p}
        if gen.seed is not None:
            payload["seed"] = gen.seed
        if stop:
            payload["stop"] = list(stop)
        if scoring.presence_penalty or scoring.frequency_penalty:
            payload.update(presence_penalty=scoring.presence_penalty, frequency_penalty=scoring.frequency_penalty)
        if scoring.logprobs is not None:
            payload.update(logprobs=True, top_logprobs=scoring.logprobs)
        return payload


def connect(backend: BackendConfig) -> OpenAIEngine:
    """The engine for the `backend:` section (`--backend URL`): the key comes from the named environment variable
    (never a flag or a file, never logged), and the model, when not given, is the backend's first listed one."""
    if not backend.url:
        raise ConfigError("no backend to connect to: pass --backend URL or set backend.url")
    key = api_key(backend.api_key_env, "--backend-api-key-env")
    return OpenAIEngine(backend.url, backend.model or first_model(backend.url, key, "--backend-model"), key,
                        backend.connect_timeout_s, backend.read_timeout_s)


class BackendAssistant(Answering):
    """Submit / stream / reply like `Assistant`, generating with a remote OpenAI-compatible model."""

    def __init__(self, engine: OpenAIEngine, system: str | None = None, defaults: GenerationConfig | None = None, *,
                 semantic: SemanticSignal | None = None, max_concurrent: int = MAX_CONCURRENT,
                 models: list[str] | None = None, pipeline: AnswerPipeline | None = None) -> None:
        self.engine, self.defaults = engine, defaults or GenerationConfig()
        self.pipeline = pipeline or AnswerPipeline(system, semantic)
        self.model = engine.model  # the default; `models` (e.g. vLLM's base and adapters) may be asked for by name
        self._models = list(dict.fromkeys([engine.model, *(models or [])]))
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._running = False
        self.completed = 0

    @property
    def models(self) -> list[str]:
        return self._models

    @property
    def running(self) -> bool:
        return self._running

    def stats(self) -> dict[str, Any]:
        return {"backend": self.engine.url, "completed": self.completed}

    def start(self) -> BackendAssistant:
        self._running = True
        return self

    def close(self, timeout: float = 30.0) -> None:
        self._running = False

    def submit(self, messages: list[dict[str, str]], model: str | None = None, *, max_tokens: int | None = None,
               temperature: float | None = None, top_p: float | None = None, seed: int | None = None,
               stop: Iterable[str] = (), stream: bool = False, scoring: Scoring = Scoring()) -> Ticket:
        """Triage, then relay the conversation on a thread of its own (penalties and logprobs passed on to the
        backend); raises a RequestError when refused."""
        model = model or self.model
        if model not in self.models:
            raise UnknownModel(f"model {model!r} does not exist; this server has {self.models}")
        if not self._running:
            raise AssistantClosed("the gateway is not running; retry later")
        prepared = self.pipeline.prepare(messages)
        ticket = Ticket(model, self.pipeline.triage(prepared.conversation), [],
                        sampling(self.defaults, temperature, top_p, seed),
                        max_tokens or self.defaults.max_new_tokens, tuple(s for s in stop if s), stream,
                        grounding=prepared.grounding, scoring=scoring)
        if prepared.abstains:  # nothing relevant in the sources: the reply says so, the backend is not asked
            ticket.finish(Generated("", 0, "stop", prompt_tokens=0))
            return ticket
        if not self._slots.acquire(blocking=False):
            raise QueueFull(f"the gateway is relaying {self.max_concurrent} requests already; retry shortly")
        threading.Thread(target=self._relay, args=(ticket, prepared.prompt), name="medqa-relay", daemon=True).start()
        return ticket

    # -- relay -------------------------------------------------------------------------------------------------

    def _relay(self, ticket: Ticket, conversation: list[dict[str, str]]) -> None:
        try:
            for item in self.engine.chunks(conversation, ticket.gen, ticket.max_new_tokens, ticket.stop, ticket.model,
                                           ticket.scoring):
                if ticket.cancelled():
                    ticket.finish(Generated("", 0, "stop"))
                    return
                if isinstance(item, str):
                    ticket.push(item)
                else:
                    ticket.finish(item)
                    self.completed += 1
        except BackendError as err:
            ticket.finish(err)
        except Exception as err:  # anything else the backend did wrong is still the backend's fault: 502
            ticket.finish(BackendError(f"the model backend failed: {type(err).__name__}: {err}"))
        finally:
            self._slots.release()


def _events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON chunks of an OpenAI server-sent event stream; an error event from the backend raises."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        chunk = json.loads(data)
        if "error" in chunk:
            raise BackendError(f"the model backend reported an error mid-stream: {chunk['error']}")
        yield chunk
    raise BackendError("the model backend's stream ended before [DONE]")


def _error_text(resp: Any) -> str:
    resp.read()
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return resp.text[:200]
