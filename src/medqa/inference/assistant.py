"""The Assistant: one loaded base (+ named adapters) behind a dynamic batcher, with the safety layer on every reply.

Callers `submit()` a conversation and get a `Ticket` at once; a worker thread collects the tickets that arrive
within a few milliseconds, groups them by (adapter, sampling settings) and runs each group as one padded
`generate()` call through the Generator's one loop (`Generator.run`), whose rows (medqa.inference.rows) let each
request stream its own text, stop at its own `max_tokens` or stop string, and be cancelled without holding up the
rest of its batch.

Safety: triage runs on the user's words before the request is queued; the urgent message leads the reply when
triage says urgent; model sentences pass the answer policy; a referral is appended when the answer lacks one.
Exercised by `medqa serve` (tests/integration/test_server.py) and `python benchmarks/serve_concurrency.py`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from medqa.config import (BATCH_WAIT_S, MAX_BATCH_DELAY_S, MAX_BATCH_SIZE, MAX_INPUT_TOKENS, QUEUE_SIZE,
                          GenerationConfig)
from medqa.inference.generator import BASE, Generator
from medqa.inference.rows import Generated, Row, Scoring
from medqa.inference.pipeline import AnswerPipeline, RequestError
from medqa.safety import TriageResult
from medqa.safety.semantic import SemanticSignal

_POLL_S = 0.2  # how often an idle worker checks whether it should stop


class UnknownModel(RequestError):
    pass


class InputTooLong(RequestError):
    pass


class QueueFull(RequestError):
    pass


class AssistantClosed(RequestError):
    pass


@dataclass(frozen=True)
class Reply:
    """A finished, safety-checked answer."""

    text: str
    triage: TriageResult
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    citations: list[dict[str, Any]] = field(default_factory=list)  # cited passages, when grounded in an index


@dataclass(eq=False)
class Ticket:
    """One queued request: its prompt and settings, and where its text goes."""

    model: str
    first_triage: TriageResult  # the rules' verdict, known before the request is queued
    prompt_ids: list[int]
    gen: GenerationConfig
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    streaming: bool = False
    done: Future = field(default_factory=Future)  # resolves to Generated
    _pieces: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    _cancel: threading.Event = field(default_factory=threading.Event)
    final_triage: Future | None = None  # rules + semantic signal, computed while the request waits or generates
    grounding: Any = None  # the request's passages and citations (medqa.retrieval.grounding), with an index
    scoring: Scoring = Scoring()  # penalties and logprobs (per row: tickets with different ones still share a batch)

    @property
    def triage(self) -> TriageResult:
        """The full triage result (waits for the semantic signal's few milliseconds if they are not over yet)."""
        return self.final_triage.result() if self.final_triage is not None else self.first_triage

    def prompt_tokens(self, generated: Generated) -> int:
        return generated.prompt_tokens if generated.prompt_tokens is not None else len(self.prompt_ids)

    def group(self) -> tuple[Any, ...]:
        """Tickets with equal groups can share one generate() call."""
        g = self.gen
        sampling = (g.temperature, g.top_p, g.seed) if g.temperature > 0 else (0.0,)
        return (self.model, g.repetition_penalty, *sampling)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set() or self.done.cancelled()

    def pieces(self) -> Iterator[str]:
        """The model's raw text as it is generated (streaming tickets only); blocks between pieces."""
        while (item := self._pieces.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def push(self, text: str) -> None:
        if self.streaming:
            self._pieces.put(text)

    def finish(self, result: Generated | BaseException) -> None:
        try:
            if isinstance(result, BaseException):
                self.done.set_exception(result)
            else:
                self.done.set_result(result)
        except InvalidStateError:  # the caller cancelled its wait
            pass
        self._pieces.put(result if isinstance(result, BaseException) else None)


def sampling(defaults: GenerationConfig, temperature: float | None, top_p: float | None,
             seed: int | None) -> GenerationConfig:
    """A request's generation settings: the defaults with whatever the request set."""
    updates = {"temperature": temperature, "top_p": top_p, "seed": seed}
    return defaults.model_copy(update={k: v for k, v in updates.items() if v is not None})


class Answering:
    """What every answering front does with its own `submit()` (the local `Assistant`, and the gateway's
    `BackendAssistant`): stream the reply, wait for it whole, and shape it with the one answer pipeline."""

    pipeline: AnswerPipeline

    @property
    def system(self) -> str | None:
        return self.pipeline.system

    @property
    def semantic(self) -> SemanticSignal | None:
        return self.pipeline.semantic

    def submit(self, messages: list[dict[str, str]], model: str | None = None, **kw: Any) -> Ticket:
        raise NotImplementedError

    def submit_choices(self, messages: list[dict[str, str]], model: str | None = None, n: int = 1,
                       **kw: Any) -> list[Ticket]:
        """`n` answers to one conversation (OpenAI's `n`), queued together so that they share a batch; if the
        queue fills part-way, the ones already queued are cancelled and the refusal is raised."""
        tickets: list[Ticket] = []
        try:
            for _ in range(n):
                tickets.append(self.submit(messages, model, **kw))
        except RequestError:
            for ticket in tickets:
                ticket.cancel()
            raise
        return tickets

    def start(self) -> Any:
        raise NotImplementedError

    def close(self, timeout: float = 30.0) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def stream(self, messages: list[dict[str, str]], model: str | None = None, **kw: Any) -> Iterator[str]:
        """Submit and yield the safety-checked reply as it is generated."""
        ticket = self.submit(messages, model, stream=True, **kw)
        try:
            yield from self.pipeline.shape(ticket.pieces(), ticket.triage, ticket.grounding)
        finally:
            ticket.cancel()

    def complete(self, messages: list[dict[str, str]], model: str | None = None, **kw: Any) -> Reply:
        """Submit and wait for the whole safety-checked reply."""
        ticket = self.submit(messages, model, **kw)
        return self.reply(ticket, ticket.done.result())

    def reply(self, ticket: Ticket, generated: Generated) -> Reply:
        text = self.pipeline.finish(generated.text, ticket.triage, ticket.grounding)
        return Reply(text, ticket.triage, generated.finish_reason, ticket.prompt_tokens(generated), generated.tokens,
                     ticket.grounding.citations() if ticket.grounding is not None else [])


class Assistant(Answering):
    """Base model + named adapters, a bounded request queue and one batching worker thread."""

    def __init__(self, generator: Generator, system: str | None = None, defaults: GenerationConfig | None = None, *,
                 queue_size: int = QUEUE_SIZE, max_batch_size: int = MAX_BATCH_SIZE,
                 batch_wait_s: float = BATCH_WAIT_S, max_input_tokens: int = MAX_INPUT_TOKENS,
                 semantic: SemanticSignal | None = None, pipeline: AnswerPipeline | None = None) -> None:
        """`pipeline` (e.g. AnswerPipeline.from_config, with an index) replaces the one `system` and `semantic`
        would make."""
        self.generator, self.defaults = generator, defaults or GenerationConfig()
        self.pipeline = pipeline or AnswerPipeline(system, semantic)
        semantic = self.pipeline.semantic
        # The semantic signal embeds every message (tens of ms): run beside generation, not before queueing, so
        # concurrent requests still reach the batcher together. One thread (started on first use, kept across
        # restarts): the tokenizer is not re-entrant.
        self._triage_pool = ThreadPoolExecutor(1, thread_name_prefix="medqa-triage") if semantic else None
        self.max_batch_size, self.batch_wait_s, self.max_input_tokens = max_batch_size, batch_wait_s, max_input_tokens
        self._queue: queue.Queue[Ticket] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self.batch_sizes: Counter[int] = Counter()  # batch size -> how many generate() calls had it
        self.completed = 0

    @classmethod
    def from_config(cls, cfg: Any, adapters: dict[str, str] | None = None, **limits: Any) -> Assistant:
        """Load `cfg.model.base` once with the named adapters (name -> run folder or Hub id)."""
        from medqa.inference.generator import load_generator

        return cls(load_generator(cfg, adapters or {}), pipeline=AnswerPipeline.from_config(cfg),
                   defaults=cfg.generation, **limits)

    @property
    def models(self) -> list[str]:
        return [BASE, *self.generator.adapters]

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def stats(self) -> dict[str, Any]:
        sizes = dict(self.batch_sizes)
        return {"queued": self._queue.qsize(), "completed": self.completed, "batches": sum(sizes.values()),
                "max_batch_size": max(sizes, default=0), "batch_sizes": {str(k): v for k, v in sorted(sizes.items())}}

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Assistant:
        if not self.running:
            self._stopping.clear()
            self._worker = threading.Thread(target=self._work, name="medqa-batcher", daemon=True)
            self._worker.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking requests, let the running batch finish, and fail whatever is still queued."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
        while True:
            try:
                self._queue.get_nowait().finish(AssistantClosed("the assistant is shutting down; retry later"))
            except queue.Empty:
                break

    # -- requests ----------------------------------------------------------------------------------------------

    def submit(self, messages: list[dict[str, str]], model: str | None = None, *, max_tokens: int | None = None,
               temperature: float | None = None, top_p: float | None = None, seed: int | None = None,
               stop: Iterable[str] = (), stream: bool = False, scoring: Scoring = Scoring()) -> Ticket:
        """Triage, build the prompt and queue the request; raises a RequestError subclass when refused."""
        model = model or BASE
        if model not in self.models:
            raise UnknownModel(f"model {model!r} does not exist; this server has {self.models}")
        if not self.running or self._stopping.is_set():
            raise AssistantClosed("the assistant is not running; retry later")
        prepared = self.pipeline.prepare(messages)
        prompt_ids = self.generator.prompt_ids(prepared.prompt)
        if len(prompt_ids) > self.max_input_tokens:
            raise InputTooLong(f"the conversation is {len(prompt_ids)} tokens; this server accepts at most "
                               f"{self.max_input_tokens}: shorten it or drop earlier turns")
        ticket = Ticket(model, self.pipeline.rules_triage(prepared.conversation), prompt_ids,
                        sampling(self.defaults, temperature, top_p, seed), max_tokens or self.defaults.max_new_tokens,
                        tuple(s for s in stop if s), stream, grounding=prepared.grounding, scoring=scoring)
        if prepared.abstains:  # nothing relevant in the sources: the reply says so, the model is not asked
            ticket.finish(Generated("", 0, "stop"))
        else:
            try:
                self._queue.put_nowait(ticket)
            except queue.Full:
                raise QueueFull(f"{self._queue.maxsize} requests are already waiting; retry shortly") from None
        if self._triage_pool is not None:
            ticket.final_triage = self._triage_pool.submit(self.pipeline.triage, prepared.conversation,
                                                           ticket.first_triage)
        return ticket

    # -- worker ------------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            batch = self._collect()
            groups: dict[tuple[Any, ...], list[Ticket]] = {}
            for ticket in batch:
                if ticket.cancelled():
                    ticket.finish(Generated("", 0, "stop"))
                else:
                    groups.setdefault(ticket.group(), []).append(ticket)
            for tickets in groups.values():
                self._run(tickets)

    def _collect(self) -> list[Ticket]:
        """Wait for one request, then take more while they keep arriving less than `batch_wait_s` apart.

        A gap rather than a fixed window: a burst of clients reaches the queue spread out by each one's triage and
        tokenisation (a few ms each, one at a time under the GIL), and should still make one batch.
        """
        try:
            batch = [self._queue.get(timeout=_POLL_S)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + MAX_BATCH_DELAY_S
        while len(batch) < self.max_batch_size:
            wait = min(self.batch_wait_s, deadline - time.monotonic())
            try:
                batch.append(self._queue.get(timeout=max(0.0, wait)))
            except queue.Empty:
                break
        return batch

    def _run(self, tickets: list[Ticket]) -> None:
        g = self.generator
        rows = [Row(t.prompt_ids, g.tokenizer, g.stop_ids, t.max_new_tokens, t.stop,
                    emit=t.push if t.streaming else None, cancelled=t.cancelled, scoring=t.scoring) for t in tickets]
        try:
            g.run(rows, tickets[0].gen, tickets[0].model)
        except Exception as err:  # one failed batch must not stop the server: its callers get the error
            for t in tickets:
                t.finish(err)
            return
        self.batch_sizes[len(tickets)] += 1
        for ticket, row in zip(tickets, rows):
            ticket.finish(row.result())
            self.completed += 1
