"""Token lengths of formatted examples, as `formatting.encode_example` counts them, fast enough for 100k rows.

Gemma's tokenizer has no pre-tokenizer split that applies (its normalizer turns spaces into "▁" first), so
the fast tokenizer runs BPE over a whole answer at once: about 1 ms per row, minutes for HealthCareMagic.
No Gemma token crosses a "<non-space>▁" boundary (one exception, ">▁</", is sent down the exact path), so
the token count of a text equals the sum of the counts of its space-separated pieces. `PieceCounts` caches
the count of each distinct piece and tokenizes unseen pieces in batches; it needs only the Rust tokenizer,
so cleaning workers can run it too. `PromptPlan` measures the system prompt and chat template once.

Because this rests on a property of the tokenizer, `PieceCounter` also encodes the first rows of every run
(and one row per chunk after that) exactly with `encode_example`; on any difference it switches to the exact
path for good, and `method` says so in `stats.json`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from medqa.data.formatting import answer_suffix, encode_example, encode_prompt, render_prompt, to_messages
from medqa.data.schema import Example

SENTINEL = "\ue000QUESTION\ue000"
CHECK_FIRST = 32  # rows compared with encode_example at the start of a run
CHECK_EVERY = 50  # then one row in every this many chunks
MAX_CACHE = 2_000_000
Lengths = tuple[int, int]  # (prompt tokens, answer tokens incl. the end-of-turn suffix)


@dataclass(frozen=True)
class PromptPlan:
    """The default prompt split around the question: tokens of a constant head, then tail + question + suffix."""

    prompt_tail: str
    prompt_suffix: str
    answer_suffix: str
    trims: bool  # the template strips the question
    head_has_space: bool
    head_tokens: int
    bos_adjust: int  # what encode_prompt adds or removes (a BOS)
    prompt_overhead: int  # prompt tokens of an empty question


def plan_prompt(tokenizer: Any, system: str | None) -> PromptPlan:
    def raw(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    rendered = render_prompt(tokenizer, to_messages(Example(question=f" {SENTINEL} ", answer=""), system))
    trims = f" {SENTINEL} " not in rendered
    before, _, suffix = rendered.partition(SENTINEL if trims else f" {SENTINEL} ")
    head, space, tail = before.rpartition(" ")
    probe = before + "x" + suffix
    return PromptPlan(tail, suffix, answer_suffix(tokenizer), trims, bool(space), raw(head) if space else 0,
                      len(encode_prompt(tokenizer, probe)) - raw(probe), len(encode_prompt(tokenizer, before + suffix)))


def split_pieces(text: str, leading_space: bool) -> list[str] | None:
    """Pieces that start at each space; None where pieces may merge (runs of spaces, ">▁</")."""
    if "  " in text or "\x01" in text or (">" in text and " </" in text):
        return None
    if leading_space:
        text = " " + text
    return text.replace(" ", "\x01 ").split("\x01")  # split before each space, in C


def rust_encoder(tokenizer: Any) -> Callable[[list[str]], list[int]]:
    """Token counts of a batch of texts: the Rust tokenizer directly when there is one (no Python per text)."""
    backend = getattr(tokenizer, "_tokenizer", tokenizer)
    if hasattr(backend, "encode_batch"):
        return lambda batch: [len(enc.ids) for enc in backend.encode_batch(batch, add_special_tokens=False)]
    return lambda batch: [len(ids) for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]]


class PieceCounts:
    """Token counts of texts given as pieces, from a cache of piece counts filled in batches."""

    def __init__(self, encode: Callable[[list[str]], list[int]]) -> None:
        self.encode = encode
        self.cache: dict[str, int] = {}

    def count(self, part_lists: Sequence[list[str] | None]) -> list[int | None]:
        get = self.cache.get
        looked = [None if parts is None else list(map(get, parts)) for parts in part_lists]
        missing = {p for parts, vals in zip(part_lists, looked) if vals is not None and None in vals
                   for p, v in zip(parts, vals) if v is None}  # type: ignore[arg-type]
        if missing:
            if len(self.cache) + len(missing) > MAX_CACHE:
                self.cache.clear()
            batch = sorted(missing)
            self.cache.update(zip(batch, self.encode(batch)))
            looked = [vals if vals is None or None not in vals else list(map(get, parts))  # type: ignore[arg-type]
                      for parts, vals in zip(part_lists, looked)]
        return [None if vals is None else sum(vals) for vals in looked]


_MARKUP = re.compile(r"<[^<>\s]{1,64}>")


def _plain(text: str) -> bool:
    """No "<token>" markup, which `encode_example` strips when it is a special token: such texts go exact."""
    return "<" not in text or _MARKUP.search(text) is None


def fast_lengths(plan: PromptPlan, pieces: PieceCounts, examples: Sequence[Example]) -> list[Lengths | None]:
    """Lengths by pieces; None for the examples that need the exact path (history, own system prompt, ...)."""
    prompt_parts = [None if ex.history or ex.system is not None or not _plain(ex.question) else
                    split_pieces(plan.prompt_tail + (ex.question.strip() if plan.trims else ex.question)
                                 + plan.prompt_suffix, plan.head_has_space) for ex in examples]
    prompts = pieces.count(prompt_parts)
    answers = pieces.count([split_pieces(ex.answer.strip() + plan.answer_suffix, False) if _plain(ex.answer) else None
                            for ex in examples])
    return [None if p is None or a is None else (plan.head_tokens + p + plan.bos_adjust, a)
            for p, a in zip(prompts, answers)]


class PieceCounter:
    """Lengths of examples under one tokenizer and system prompt, checked against `encode_example`."""

    def __init__(self, tokenizer: Any, system: str | None) -> None:
        self.tokenizer, self.system = tokenizer, system
        self.plan = plan_prompt(tokenizer, system)
        self.pieces = PieceCounts(rust_encoder(tokenizer))
        self.prompt_overhead = self.plan.prompt_overhead
        self.method = "exact-pieces"
        self.checked = self.mismatches = self.chunks = 0

    def worker_spec(self) -> tuple[PromptPlan, str] | None:
        """What a worker process needs to count by pieces: the plan and the Rust tokenizer as JSON."""
        backend = getattr(self.tokenizer, "_tokenizer", None)
        return (self.plan, backend.to_str()) if backend is not None and hasattr(backend, "to_str") else None

    def _exact(self, ex: Example) -> Lengths:
        enc = encode_example(self.tokenizer, ex, self.system, max_len=10**9, suffix=self.plan.answer_suffix)
        return len(enc.input_ids) - enc.answer_tokens, enc.answer_tokens

    def lengths(self, examples: Sequence[Example], known: Sequence[Lengths | None] | None = None) -> list[Lengths]:
        """(prompt tokens, answer tokens) per example; `known`: lengths a worker already counted by pieces."""
        if self.method == "exact":
            return [self._exact(ex) for ex in examples]
        fast = list(known) if known is not None else fast_lengths(self.plan, self.pieces, examples)
        out = [n if n is not None else self._exact(ex) for ex, n in zip(examples, fast)]
        self._verify(examples, out)
        return out

    def _verify(self, examples: Sequence[Example], out: list[Lengths]) -> None:
        self.chunks += 1
        picks = range(min(len(examples), max(0, CHECK_FIRST - self.checked)))
        if not picks and examples and self.chunks % CHECK_EVERY == 0:
            picks = range(1)
        for i in picks:
            self.checked += 1
            if self._exact(examples[i]) != out[i]:
                self.mismatches += 1
                self.method = "exact"
                out[:] = [self._exact(ex) for ex in examples]
                return

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "rows_checked_exactly": self.checked, "mismatches": self.mismatches}


class WordCounter:
    """Without a tokenizer, lengths are whitespace words: (question + earlier turns, answer)."""

    method = "words"
    prompt_overhead = 0

    def worker_spec(self) -> None:
        return None

    def lengths(self, examples: Sequence[Example], known: Sequence[Lengths | None] | None = None) -> list[Lengths]:
        return [(len(ex.question.split()) + sum(len(t.split()) for _, t in ex.history), len(ex.answer.split()))
                for ex in examples]

    def describe(self) -> dict[str, Any]:
        return {"method": self.method}
