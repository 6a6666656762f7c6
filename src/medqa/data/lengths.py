"""Token lengths of formatted examples, as `formatting.encode_example` counts them, fast enough for 100k rows.

Gemma's tokenizer has no pre-tokenizer split that applies (its normalizer turns spaces into "▁" first), so
the fast tokenizer runs BPE over a whole answer at once: about 1 ms per row, minutes for HealthCareMagic.
No Gemma token crosses a "<non-space>▁" boundary (one exception, ">▁</", is sent down the exact path), so
the token count of a text equals the sum of the counts of its space-separated pieces. `PieceCounter`
caches the count of each distinct piece and tokenizes unseen pieces in batches. The system prompt and chat
template are measured once. Because this rests on a property of the tokenizer, the first rows of every run
(and one row per chunk after that) are also encoded exactly with `encode_example`; on any difference the
counter switches to the exact path for good and `method` says so in `stats.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from medqa.data.formatting import answer_suffix, encode_example, encode_prompt, render_prompt, to_messages
from medqa.data.schema import Example

SENTINEL = "\ue000QUESTION\ue000"
CHECK_FIRST = 32  # rows compared with encode_example at the start of a run
CHECK_EVERY = 50  # then one row in every this many chunks
MAX_CACHE = 2_000_000


class PieceCounter:
    """(prompt tokens, answer tokens) of examples under one tokenizer and system prompt."""

    def __init__(self, tokenizer: Any, system: str | None) -> None:
        self.tokenizer, self.system = tokenizer, system
        self.suffix = answer_suffix(tokenizer)
        self.cache: dict[str, int] = {}
        self.method = "exact-pieces"
        self.checked = self.mismatches = self.chunks = 0
        self._plan_prompt()

    def _plan_prompt(self) -> None:
        """Split the rendered default prompt around the question: a constant head, a tail and a suffix."""
        messages = to_messages(Example(question=f" {SENTINEL} ", answer=""), self.system)
        rendered = render_prompt(self.tokenizer, messages)
        self.trims = f" {SENTINEL} " not in rendered
        before, _, self.prompt_suffix = rendered.partition(SENTINEL.strip() if self.trims else f" {SENTINEL} ")
        head, _, self.prompt_tail = before.rpartition(" ")
        self.head_has_space = bool(_)
        self.head_tokens = self._raw_count(head) if self.head_has_space else 0
        probe = before + "x" + self.prompt_suffix
        self.bos_adjust = len(encode_prompt(self.tokenizer, probe)) - self._raw_count(probe)
        self.prompt_overhead = len(encode_prompt(self.tokenizer, before + self.prompt_suffix))  # an empty question

    def _raw_count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _parts(self, text: str, leading_space: bool) -> list[str] | None:
        if "  " in text or "\x01" in text or (">" in text and " </" in text):
            return None  # runs of spaces and ">▁</" may merge across pieces: exact path
        if leading_space:
            text = " " + text
        return text.replace(" ", "\x01 ").split("\x01")  # split before each space, in C

    def _prompt_parts(self, ex: Example) -> list[str] | None:
        if ex.history or ex.system is not None:
            return None
        question = ex.question.strip() if self.trims else ex.question
        return self._parts(self.prompt_tail + question + self.prompt_suffix, self.head_has_space)

    def _fill(self, part_lists: Sequence[list[str] | None]) -> None:
        missing = set(chain.from_iterable(p for p in part_lists if p)) - self.cache.keys()
        if not missing:
            return
        if len(self.cache) + len(missing) > MAX_CACHE:
            self.cache.clear()
        batch = sorted(missing)
        backend = getattr(self.tokenizer, "_tokenizer", None)  # the Rust tokenizer: no Python conversion per row
        if backend is not None and hasattr(backend, "encode_batch"):
            counts = [len(enc.ids) for enc in backend.encode_batch(batch, add_special_tokens=False)]
        else:
            counts = [len(ids) for ids in self.tokenizer(batch, add_special_tokens=False)["input_ids"]]
        self.cache.update(zip(batch, counts))

    def _exact(self, ex: Example) -> tuple[int, int]:
        enc = encode_example(self.tokenizer, ex, self.system, max_len=10**9, suffix=self.suffix)
        return len(enc.input_ids) - enc.answer_tokens, enc.answer_tokens

    def lengths(self, examples: Sequence[Example]) -> list[tuple[int, int]]:
        """(prompt tokens, answer tokens incl. the end-of-turn suffix) per example."""
        if self.method == "exact":
            return [self._exact(ex) for ex in examples]
        prompts = [self._prompt_parts(ex) for ex in examples]
        answers = [self._parts(ex.answer.strip() + self.suffix, False) for ex in examples]
        self._fill(prompts + answers)
        out = []
        count = self.cache.__getitem__
        for ex, p_parts, a_parts in zip(examples, prompts, answers):
            if p_parts is None or a_parts is None:
                out.append(self._exact(ex))
                continue
            out.append((self.head_tokens + sum(map(count, p_parts)) + self.bos_adjust, sum(map(count, a_parts))))
        self._verify(examples, out)
        return out

    def _verify(self, examples: Sequence[Example], out: list[tuple[int, int]]) -> None:
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

    def lengths(self, examples: Sequence[Example]) -> list[tuple[int, int]]:
        return [(len(ex.question.split()) + sum(len(t.split()) for _, t in ex.history), len(ex.answer.split()))
                for ex in examples]

    def describe(self) -> dict[str, Any]:
        return {"method": self.method}
