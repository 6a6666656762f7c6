"""The one answer pipeline: conversation in → triage → prompt → engine → answer policy → reply out.

Every way medqa answers goes through an `AnswerPipeline`: the server's Assistant and gateway (medqa.inference.
assistant, .backend), `ask`/`chat` (medqa.inference.session), `eval`'s safety task and the demo. The engine step
is whatever generates (the in-process Generator, or an OpenAI-compatible backend); this class owns the steps
around it, each a plain method, so the next ones (retrieval before the prompt, citation checks after the answer)
slot in here instead of being threaded through every caller.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from medqa.errors import MedqaError
from medqa.safety import TriageResult, policy_stream, triage_conversation
from medqa.safety.semantic import SemanticSignal

log = logging.getLogger("medqa.inference")


class RequestError(MedqaError):
    """A request medqa refuses; the server maps each subclass to one HTTP status (medqa.serving.errors)."""


class BadConversation(RequestError):
    """A conversation the pipeline cannot answer."""


@dataclass(frozen=True)
class AnswerPipeline:
    """The steps around the engine; `system` is the configured system prompt (None: no system message)."""

    system: str | None = None
    semantic: SemanticSignal | None = None  # triage's second signal; None = rules alone

    @classmethod
    def from_config(cls, cfg: Any) -> AnswerPipeline:
        from medqa.data.formatting import system_prompt
        from medqa.retrieval.exemplars import semantic_signal

        return cls(system_prompt(cfg.prompt.system_prompt), semantic_signal(cfg.safety))

    # -- before the engine -------------------------------------------------------------------------------------

    def conversation(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The prompt step: one leading system message (the caller's, else the configured one), then the turns."""
        prompts = [m["content"] for m in messages if m["role"] == "system"]
        turns = [m for m in messages if m["role"] != "system"]
        if not turns or turns[-1]["role"] != "user":
            raise BadConversation("the last message must come from the user")
        text = "\n\n".join(prompts) if prompts else self.system
        return ([{"role": "system", "content": text}] if text else []) + turns

    def rules_triage(self, conversation: list[dict[str, str]]) -> TriageResult:
        """The rules alone: instant, known before a request is queued."""
        return triage_conversation(conversation)

    def triage(self, conversation: list[dict[str, str]], rules: TriageResult | None = None) -> TriageResult:
        """Rules plus the semantic signal; a failing embedder leaves the rules' verdict (never fails a request)."""
        if self.semantic is None:
            return rules or triage_conversation(conversation)
        try:
            return triage_conversation(conversation, self.semantic)
        except Exception:
            log.exception("semantic triage failed; answering with the rules' verdict")
            return rules or triage_conversation(conversation)

    # -- after the engine --------------------------------------------------------------------------------------

    def shape(self, pieces: Iterable[str], triage: TriageResult) -> Iterator[str]:
        """The answer policy over streamed model text: urgent message first when flagged, referral last."""
        yield from policy_stream(pieces, triage)

    def finish(self, text: str, triage: TriageResult) -> str:
        """The whole-answer form: the streamed form, joined (so both say exactly the same)."""
        return "".join(self.shape([text], triage)).strip()
