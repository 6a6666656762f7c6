"""Many judge calls: cached, run `concurrency` at a time, parsed; unparseable replies kept and counted, never a pass.

The cache is a JSONL file keyed by (prompt id, judge model, messages, reply limit) that gets a line as soon as
each call returns, so a run that stops part-way (the judge went down) resumes from where it was, and a rerun of a
finished evaluation makes no calls at all. Replies are cached raw and parsed on reading, so a better parser never
needs new calls.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from medqa.evaluation.cache import JsonlCache
from medqa.evaluation.judge.client import JudgeClient, JudgeUnavailable

STATEMENT_LABELS = ("entailed", "contradicted", "not_addressed")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


@dataclass
class Judged:
    """One judge call's outcome: `verdict` is None when the reply could not be parsed."""

    verdict: Any
    reason: str
    raw: str
    cached: bool


@dataclass
class JudgeUsage:
    calls: int = 0  # made in this run
    cached: int = 0  # answered from the cache
    unparseable: int = 0
    tokens: dict[str, int] = field(default_factory=dict)  # this run's calls
    cached_tokens: dict[str, int] = field(default_factory=dict)  # what the cached replies cost when they were made

    def add(self, usage: dict[str, int], cached: bool) -> None:
        target = self.cached_tokens if cached else self.tokens
        for k, v in usage.items():
            target[k] = target.get(k, 0) + v


def parse_statement(text: str) -> tuple[str | None, str]:
    obj = _json_object(text)
    label = str(obj.get("label", "")).strip().lower().replace(" ", "_") if obj else ""
    return (label if label in STATEMENT_LABELS else None), str((obj or {}).get("reason", ""))


def parse_rubric(text: str) -> tuple[bool | None, str]:
    obj = _json_object(text)
    met = (obj or {}).get("criteria_met")
    if isinstance(met, str) and met.lower() in ("true", "false"):
        met = met.lower() == "true"
    return (met if isinstance(met, bool) else None), str((obj or {}).get("explanation", ""))


def _json_object(text: str) -> dict[str, Any] | None:
    """The reply's JSON object, also when fenced in ``` or wrapped in a sentence; None when there is none."""
    text = _FENCE.sub("", text.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        obj = json.loads(text[start:end + 1])
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


PARSERS = {"statement": parse_statement, "rubric": parse_rubric}


class JudgeCache(JsonlCache):
    """Judge replies by (prompt id, judge model, messages, reply limit)."""

    @staticmethod
    def key(prompt_id: str, model: str, messages: list[dict[str, str]], max_tokens: int) -> str:
        blob = json.dumps({"prompt": prompt_id, "judge": model, "messages": messages, "max_tokens": max_tokens},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


class Grader:
    """Grades requests with one prompt kind through the cache and the client."""

    def __init__(self, client: JudgeClient | None, cache: JudgeCache, progress: bool = True) -> None:
        self.client, self.cache, self.progress = client, cache, progress
        self.usage = JudgeUsage()

    def grade(self, kind: str, prompt_id: str, model: str, requests: list[list[dict[str, str]]],
              desc: str = "judge") -> list[Judged]:
        """One `Judged` per request (the messages to send), in order."""
        from tqdm.auto import tqdm

        max_tokens = self.client.cfg.max_tokens if self.client else 0
        keys = [self.cache.key(prompt_id, model, m, max_tokens) for m in requests]
        missing = list({k: i for i, k in enumerate(keys) if k not in self.cache.entries}.values())
        if missing:
            if self.client is None:
                raise JudgeUnavailable(f"{len(missing)} judgements are not in the cache and no judge is configured")
            bar = tqdm(total=len(missing), desc=desc, unit="call", disable=not self.progress)
            try:
                self._call(missing, keys, requests, prompt_id, model, bar)
            finally:
                bar.close()
        fresh = set(keys[i] for i in missing)
        self.usage.calls += len(fresh)
        out = []
        for k in keys:
            row = self.cache.entries[k]
            verdict, reason = PARSERS[kind](row["content"])
            cached = k not in fresh
            self.usage.cached += cached
            self.usage.unparseable += verdict is None
            self.usage.add(row.get("usage") or {}, cached)
            out.append(Judged(verdict, reason, row["content"], cached))
        return out

    def _call(self, missing: list[int], keys: list[str], requests: list[list[dict[str, str]]], prompt_id: str,
              model: str, bar: Any) -> None:
        """Make the missing calls; after the first call that fails for good, start no new ones and raise."""
        assert self.client is not None
        stop = threading.Event()
        failures: list[BaseException] = []

        def one(i: int) -> None:
            if stop.is_set():
                return
            try:
                reply = self.client.complete(requests[i])
            except Exception as err:  # the first failure stops the calls not yet started
                stop.set()
                failures.append(err)
                return
            self.cache.add([{"key": keys[i], "prompt": prompt_id, "judge": model, "content": reply.content,
                             "usage": reply.usage}])

        pool = ThreadPoolExecutor(self.client.cfg.concurrency)
        try:
            for future in as_completed([pool.submit(one, i) for i in missing]):
                future.result()
                bar.update(1)
        except BaseException:  # Ctrl-C: stop at once, what finished is cached
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failures and not isinstance(failures[0], JudgeUnavailable):
            raise failures[0]  # e.g. the judge refused the model name: no resuming will fix that
        if failures:
            done = sum(keys[i] in self.cache.entries for i in missing)
            where = f" in {self.cache.path}" if self.cache.path else ""
            raise JudgeUnavailable(f"{failures[0]}; {done} of {len(missing)} new judgements were made and are cached"
                                   f"{where}: rerun the same command to resume from there")
