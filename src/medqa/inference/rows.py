"""One prompt's share of a `generate()` call: the generation loop (`Generator.run`) hands every row its newest token
after each step; the row turns its ids into text, streams what is settled, and says when it is finished.

A batch's rows stop on their own (end of turn, stop string, own token limit, cancellation) without holding up the
others, which is what lets batch answers, one streamed answer and the server's batched requests share one loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Generated:
    """What the model wrote for one prompt, before the safety layer."""

    text: str
    tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"
    prompt_tokens: int | None = None  # as a remote backend counted them; None: the local prompt's length
    logprobs: list[dict[str, Any]] | None = None  # per generated token, when asked: token, logprob, top_logprobs


@dataclass(frozen=True)
class Scoring:
    """A row's OpenAI-style token settings: penalties on tokens it already wrote, and logprobs to record
    (`logprobs` None: off; else how many alternatives per token, 0-20)."""

    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.presence_penalty or self.frequency_penalty) or self.logprobs is not None


class Row:
    """Feeds on token ids; `emit` (streaming) receives settled text pieces, `cancelled` ends the row early."""

    def __init__(self, prompt_ids: list[int], tokenizer: Any, stop_ids: Sequence[int], max_new_tokens: int,
                 stop: tuple[str, ...] = (), emit: Callable[[str], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, scoring: Scoring = Scoring(),
                 score_stop: bool = False) -> None:
        self.prompt_ids, self.tokenizer, self.stop_ids = prompt_ids, tokenizer, set(stop_ids)
        self.max_new_tokens, self.stop, self.emit, self.scoring = max_new_tokens, stop, emit, scoring
        self.score_stop = score_stop  # legacy completions list the end-of-turn token too (lm-eval counts on it)
        self.cancelled = cancelled or (lambda: False)
        self.ids: list[int] = []
        self.distribution: Any = None  # log-probabilities of the step being decided (when logprobs are asked)
        self.token_logprobs: list[dict[str, Any]] = []
        self.text, self.sent, self.done, self.reason = "", 0, False, "length"
        # Decoding after every token is only needed to stream or to find stop strings; a plain batch row decodes once.
        self._live = emit is not None or bool(stop)

    def feed(self, token: int) -> None:
        if self.done:
            return
        if self.cancelled() or token in self.stop_ids:
            if self.score_stop and self.distribution is not None and not self.cancelled():
                self._record(token)
            self._end("stop", flush=not self.cancelled())
            return
        if self.distribution is not None:
            self._record(token)
        self.ids.append(token)
        if self._live:
            self.text = self._decode()
            cut = min((i for s in self.stop if (i := self.text.find(s)) >= 0), default=-1)
            if cut >= 0:
                self.text = self.text[:cut]
                self._end("stop")
                return
        if len(self.ids) >= self.max_new_tokens:
            self._end("length")
        elif self.emit is not None:
            self._emit(hold=True)

    def _record(self, token: int) -> None:
        import torch

        dist, k = self.distribution, self.scoring.logprobs or 0
        top = torch.topk(dist, k) if k else None
        entry = {"token": self.tokenizer.decode([token]), "logprob": float(dist[token]), "top_logprobs": [
            {"token": self.tokenizer.decode([i]), "logprob": float(v)}
            for v, i in zip(top.values.tolist(), top.indices.tolist())] if top is not None else []}
        self.token_logprobs.append(entry)

    def _decode(self) -> str:
        return self.tokenizer.decode(self.ids, skip_special_tokens=True).lstrip()

    def _emit(self, hold: bool) -> None:
        end = len(self.text)
        if hold:
            if self.text.endswith("\ufffd"):  # half of a multi-byte character
                return
            end -= _stop_prefix_len(self.text, self.stop)
        if end > self.sent:
            assert self.emit is not None
            self.emit(self.text[self.sent:end])
            self.sent = end

    def _end(self, reason: str, flush: bool = True) -> None:
        self.done, self.reason = True, reason
        if not self._live:
            self.text = self._decode()
        if flush and self.emit is not None:
            self._emit(hold=False)

    def result(self) -> Generated:
        if not self.done:  # generate() ran out of room before this row's own limit
            self._end("length")
        return Generated(self.text.strip(), len(self.ids), self.reason,
                         logprobs=self.token_logprobs if self.scoring.logprobs is not None else None)


def _stop_prefix_len(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that could still grow into a stop string (held back while streaming)."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


def row_hook(rows: list[Row]) -> Any:
    """A StoppingCriteria that feeds each row its newest token and ends the rows that are finished."""
    import torch
    from transformers import StoppingCriteria

    class RowHook(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            for row, token in zip(rows, input_ids[:, -1].tolist()):
                row.feed(token)
            return torch.tensor([row.done for row in rows], dtype=torch.bool, device=input_ids.device)

    return RowHook()


def row_scores(rows: list[Row]) -> Any:
    """A LogitsProcessor that applies each row's presence and frequency penalties to the tokens it generated and keeps
    the step's log-probabilities for the rows that record logprobs. transformers runs it after the repetition
    penalty and before temperature and top-p, so logprobs are the model's distribution with the penalties applied,
    not reshaped by sampling settings."""
    import torch
    from transformers import LogitsProcessor

    class RowScores(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            for i, row in enumerate(rows):
                s = row.scoring
                if row.done or not s.active:
                    continue
                if row.ids and (s.presence_penalty or s.frequency_penalty):
                    seen, counts = torch.tensor(row.ids, device=scores.device).unique(return_counts=True)
                    scores[i, seen] -= s.presence_penalty + s.frequency_penalty * counts.to(scores.dtype)
                if s.logprobs is not None:
                    row.distribution = torch.log_softmax(scores[i].float(), dim=-1)
            return scores

    return RowScores()
