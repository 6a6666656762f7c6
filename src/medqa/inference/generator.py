"""Generation over a loaded base (+ adapters): one prompt streamed, or many prompts batched with left padding.

Only newly generated tokens are decoded, and generation stops at the format's end-of-turn token.
"""

from __future__ import annotations

import contextlib
import copy
import queue
import threading
from collections.abc import Iterator
from typing import Any

import torch

from medqa.config import GenerationConfig
from medqa.data.formatting import encode_prompt, render_prompt, stop_token_ids
from medqa.inference.head import Int8Head, decoding_head, int8_supported
from medqa.inference.rows import Row, row_hook, row_scores
from medqa.modeling.parts import decoder_and_head, new_cache

BASE = "base"  # the adapter name that means "no adapter"


class Generator:
    """Wraps a model and tokenizer; `adapter` picks a loaded adapter by name, or BASE for the plain base."""

    def __init__(self, model: Any, tokenizer: Any, merge: bool = False, int8_head: bool = False) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.stop_ids = stop_token_ids(tokenizer)
        self.lock = threading.Lock()  # one generate() at a time on a shared model
        self._prefixes: dict[tuple[str, tuple[int, ...]], Any] = {}  # (adapter, prefix ids) -> KV cache, LRU
        self._turns: set[tuple[str, tuple[int, ...]]] = set()  # the keys above that hold a whole conversation
        self._merged = _merged_weights(model) if merge else None
        self.int8_head = int8_head  # greedy decoding ranks the vocabulary in int8 (see medqa.inference.head)
        self._int8: Int8Head | None = None

    @property
    def adapters(self) -> list[str]:
        return list(getattr(self.model, "peft_config", {}) or {})

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text the model sees (what the eval cache keys)."""
        return render_prompt(self.tokenizer, messages)

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        return encode_prompt(self.tokenizer, self.render(messages))

    @property
    def merged(self) -> bool:
        return self._merged is not None

    @contextlib.contextmanager
    def use(self, adapter: str | None, greedy: bool = False) -> Iterator[None]:
        """Generate with `adapter` (or the plain base) inside this block; hold `self.lock` around it.

        `greedy` decoding may use the int8 head; scoring (losses, option likelihoods) must leave it False."""
        head = decoder_and_head(self.model)[1]
        with self._adapter(adapter), decoding_head(head, self._int8_head(head) if greedy else None):
            yield

    def _int8_head(self, head: Any) -> Int8Head | None:
        if not self.int8_head or not int8_supported(head):
            return None
        if self._int8 is None or self._int8.version != (head.weight.data_ptr(), head.weight._version):
            self._int8 = Int8Head(head.weight)  # once per loaded head: ~4 s and 170 MB for Gemma's
        return self._int8

    @contextlib.contextmanager
    def _adapter(self, adapter: str | None) -> Iterator[None]:
        if self._merged is not None and adapter not in (None, BASE) and adapter in self.adapters:
            # one adapter, merged: its weights swap in and the LoRA branch is off (see _merged_weights)
            with self.model.disable_adapter():
                for layer, _, merged in self._merged:
                    layer.weight.data = merged
                try:
                    yield
                finally:
                    for layer, original, _ in self._merged:
                        layer.weight.data = original
            return
        if adapter in (None, BASE) and self.adapters:
            with self.model.disable_adapter():
                yield
            return
        if adapter not in (None, BASE):
            if adapter not in self.adapters:
                raise KeyError(f"unknown adapter {adapter!r}; loaded: {[BASE, *self.adapters]}")
            self.model.set_adapter(adapter)
        yield

    def _kwargs(self, gen: GenerationConfig, max_new_tokens: int | None) -> dict[str, Any]:
        sample = gen.temperature > 0
        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens or gen.max_new_tokens, "do_sample": sample,
                              "eos_token_id": self.stop_ids, "pad_token_id": self.tokenizer.pad_token_id,
                              "repetition_penalty": gen.repetition_penalty}
        if sample:
            kw.update(temperature=gen.temperature, top_p=gen.top_p)
        return kw

    def generate_batch(self, conversations: list[list[dict[str, str]]], gen: GenerationConfig,
                       adapter: str | None = None, max_new_tokens: int | None = None) -> list[dict[str, Any]]:
        """Answer several conversations in one batch (see batch_inputs); returns text and whether each stopped."""
        rows = [Row(self.prompt_ids(c), self.tokenizer, self.stop_ids, max_new_tokens or gen.max_new_tokens)
                for c in conversations]
        self.run(rows, gen, adapter)
        return [{"text": g.text, "stopped": g.finish_reason == "stop", "tokens": g.tokens}
                for g in (row.result() for row in rows)]

    def run(self, rows: list[Row], gen: GenerationConfig, adapter: str | None = None, remember: bool = False) -> None:
        """The one generation loop: batch answers, streaming and the server's batched requests all come here.

        Each row receives its tokens as they are generated (see medqa.inference.rows); `remember` (one row) keeps
        the conversation's KV cache for its next turn."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        kw = self._kwargs(gen, max(row.max_new_tokens for row in rows))
        exact = any(row.scoring.logprobs is not None for row in rows)  # logprobs come from the full-precision head
        with self.lock, self.use(adapter, greedy=not kw["do_sample"] and not exact), torch.inference_mode():
            inputs = self.batch_inputs([row.prompt_ids for row in rows], adapter, kw["max_new_tokens"], remember)
            if gen.seed is not None:
                torch.manual_seed(gen.seed)
            if any(row.scoring.active for row in rows):
                kw["logits_processor"] = LogitsProcessorList([row_scores(rows)])
            self.model.generate(**inputs, stopping_criteria=StoppingCriteriaList([row_hook(rows)]), **kw)

    def batch_inputs(self, prompts: list[list[int]], adapter: str | None, max_new_tokens: int,
                     remember: bool = False) -> dict[str, Any]:
        """generate() inputs for a batch of prompts; call inside `use(adapter)` with the lock held.

        Rows are laid out as shared prefix, padding, own suffix. Position ids follow the attention mask, so this is
        plain left padding when nothing is shared. The system prompt opens every first turn: the first batch whose
        rows share a long prefix caches that prefix's KV (per adapter), and later batches that start with it, one
        row or many, copy it in, so prefill runs only each row's own tokens. `remember` (one conversation) caches
        the whole prompt instead, extending the cached previous turn, so a chat's next turn prefills only what
        was added since.
        """
        key = self._cached_prefix(prompts, adapter)
        if decoder_and_head(self.model)[0] is None:
            key = None
        elif remember and len(prompts) == 1 and len(prompts[0]) > PREFIX_MIN_TOKENS:
            key = (adapter or BASE, tuple(prompts[0][:-1]))
        elif key is None and len(prompts) > 1:
            shared = _shared_prefix_len(prompts)
            key = (adapter or BASE, tuple(prompts[0][:shared])) if shared >= PREFIX_MIN_TOKENS else None
        shared = len(key[1]) if key else 0
        width = max(len(p) for p in prompts) - shared
        if key and len(prompts) > 1 and not _window_holds(self.model, shared + width + max_new_tokens):
            key, shared, width = None, 0, shared + width
        pad = self.tokenizer.pad_token_id
        device = next(self.model.parameters()).device
        rows = [p[:shared] + [pad] * (width - len(p) + shared) + p[shared:] for p in prompts]
        mask = [[1] * shared + [0] * (width - len(p) + shared) + [1] * (len(p) - shared) for p in prompts]
        inputs: dict[str, Any] = {"input_ids": torch.tensor(rows, device=device),
                                  "attention_mask": torch.tensor(mask, device=device)}
        if key:
            inputs.update(self._prefix_cache(key, len(prompts)))
        if key and remember:  # the conversation moved on: its earlier turns' entries are not needed again
            for turn in [t for t in self._turns if t[0] == key[0] and t != key and key[1][:len(t[1])] == t[1]]:
                self._prefixes.pop(turn, None)
                self._turns.discard(turn)
            self._turns.add(key)
        return inputs

    def _cached_prefix(self, prompts: list[list[int]], adapter: str | None) -> tuple[str, tuple[int, ...]] | None:
        """The longest cached prefix (for this adapter) that every prompt extends."""
        name, best = adapter or BASE, None
        for key in self._prefixes:
            n = len(key[1])
            if key[0] == name and (best is None or n > len(best[1])) and all(
                    len(p) > n and tuple(p[:n]) == key[1] for p in prompts):
                best = key
        return best

    def _prefix_cache(self, key: tuple[str, tuple[int, ...]], rows: int) -> dict[str, Any]:
        kv = self._prefixes.pop(key, None)
        if kv is None:  # the decoder alone (the prefix needs no logits), continuing the longest cached prefix
            decoder, _ = decoder_and_head(self.model)
            start = self._cached_prefix([list(key[1])], key[0])
            kv = copy.deepcopy(self._prefixes[start]) if start else new_cache(decoder)
            todo = key[1][len(start[1]):] if start else key[1]
            decoder(input_ids=torch.tensor([todo], device=next(self.model.parameters()).device), use_cache=True, **kv)
        self._prefixes[key] = kv  # most recently used last
        while len(self._prefixes) > PREFIX_CACHE_ENTRIES:
            self._turns.discard(oldest := next(iter(self._prefixes)))
            self._prefixes.pop(oldest)
        (name, cache), = kv.items()
        batch = copy.deepcopy(cache)
        batch.batch_repeat_interleave(rows)
        return {name: batch}

    def generate(self, messages: list[dict[str, str]], gen: GenerationConfig, adapter: str | None = None) -> str:
        return self.generate_batch([messages], gen, adapter)[0]["text"]

    def stream(self, messages: list[dict[str, str]], gen: GenerationConfig, adapter: str | None = None) -> Iterator[str]:
        """Yield decoded text pieces as they are generated; closing the iterator stops generation."""
        pieces: queue.SimpleQueue[str | BaseException | None] = queue.SimpleQueue()
        stop = threading.Event()
        row = Row(self.prompt_ids(messages), self.tokenizer, self.stop_ids, gen.max_new_tokens, emit=pieces.put,
                  cancelled=stop.is_set)

        def work() -> None:
            try:  # one conversation: keep its KV, so the next turn prefills only the new messages
                self.run([row], gen, adapter, remember=True)
                pieces.put(None)
            except BaseException as err:  # surfaced to the consumer below
                pieces.put(err)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while (item := pieces.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()


PREFIX_MIN_TOKENS = 32  # a shorter shared prefix is cheaper to recompute than to copy from the cache
PREFIX_CACHE_ENTRIES = 8  # cached prefixes (adapter x system prompt); a 200-token one is ~7 MB on Gemma 3 270M


def _shared_prefix_len(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least one of its own (prefill must score something)."""
    first, n = prompts[0], min(len(p) for p in prompts) - 1
    for p in prompts[1:]:
        n = next((i for i in range(n) if p[i] != first[i]), n)
    return max(n, 0)


def _window_holds(model: Any, length: int) -> bool:
    """Padding in mid-row counts against a sliding attention window: share a prefix in a batch only while all of
    it fits (a single row has no padding, so any length is exact)."""
    window = getattr(getattr(model, "config", None), "sliding_window", None)
    return not window or length <= window


def _merged_weights(model: Any) -> list[tuple[Any, torch.Tensor, torch.Tensor]] | None:
    """(base layer, its weight, weight + LoRA delta) per adapted Linear, when exactly one plain LoRA adapter is loaded.

    A merged layer is one matmul instead of three, about twice the decoding speed of a small model on CPU. The base
    weights stay untouched (requests for the base swap them back), at the cost of a copy of the adapted weights.
    4-bit bases, DoRA and non-Linear LoRA layers keep the unmerged path.
    """
    from peft.tuners.lora import Linear as LoraLinear
    from peft.tuners.lora import LoraLayer

    names = list(getattr(model, "peft_config", {}) or {})
    if len(names) != 1 or getattr(model.peft_config[names[0]], "use_dora", False):
        return None
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    if not layers or not all(type(m) is LoraLinear and type(m.base_layer) is torch.nn.Linear for m in layers):
        return None
    with torch.no_grad():
        return [(m.base_layer, m.base_layer.weight.data, m.base_layer.weight.data + m.get_delta_weight(names[0]))
                for m in layers]


def load_generator(cfg: Any, adapters: dict[str, str] | None = None) -> Generator:
    """Load the configured base once and attach the named adapters (name -> run folder or Hub id).

    With one adapter its weights are merged for generation (`generation.merge_adapter`)."""
    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_base

    model, tokenizer, _ = load_base(cfg.model)
    model = load_adapters(model, adapters or {}, cfg.model.allow_pickle)
    model.eval()
    return Generator(model, tokenizer, merge=cfg.generation.merge_adapter, int8_head=cfg.generation.int8_head)
