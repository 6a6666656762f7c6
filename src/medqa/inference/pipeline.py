"""The one answer pipeline: conversation in → triage → retrieval → prompt → engine → grounding → policy → reply out.

Every way medqa answers goes through an `AnswerPipeline`: the server's Assistant and gateway (medqa.inference.
assistant, .backend), `ask`/`chat` (medqa.inference.session), `eval`'s safety task and the demo. The engine step is
whatever generates (the in-process Generator, or an OpenAI-compatible backend); this class owns the steps around
it, each a plain method:

- `prepare`: the system message, then (with an index) the retrieved passages numbered into the prompt, or the
  decision to abstain when none is relevant (the engine is then not asked);
- `rules_triage` / `triage`: red flags in the user's words (rules at once; rules + semantic signal beside
  generation);
- `shape` / `finish`: with an index, every answer sentence checked against the passages and cited; then the
  answer policy (urgent message first, no clinician claims, a referral); then the cited sources.
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
class Prepared:
    """One request after the steps before the engine."""

    conversation: list[dict[str, str]]  # system message + turns: what triage reads
    prompt: list[dict[str, str]]  # what the engine gets (the conversation, plus passages when grounded)
    grounding: Any = None  # medqa.retrieval.grounding.Grounding with an index, else None

    @property
    def abstains(self) -> bool:
        """No passage was relevant: the reply says so and the engine is not asked."""
        return self.grounding is not None and self.grounding.abstain


@dataclass(frozen=True)
class AnswerPipeline:
    """The steps around the engine; `system` is the configured system prompt (None: no system message)."""

    system: str | None = None
    semantic: SemanticSignal | None = None  # triage's second signal; None = rules alone
    index: Any = None  # a medqa.retrieval.index.Index: answers are grounded in its passages
    index_cfg: Any = None  # the config's `index:` section (k, thresholds, what to do with unsupported sentences)

    @classmethod
    def from_config(cls, cfg: Any) -> AnswerPipeline:
        from medqa.data.formatting import system_prompt
        from medqa.retrieval.exemplars import semantic_signal

        index = None
        if cfg.index.path:
            from medqa.retrieval.index import Index

            index = Index.load(cfg.index.path, cfg.index)
        return cls(system_prompt(cfg.prompt.system_prompt), semantic_signal(cfg.safety), index, cfg.index)

    # -- before the engine -------------------------------------------------------------------------------------

    def conversation(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """One leading system message (the caller's, else the configured one), then the turns."""
        prompts = [m["content"] for m in messages if m["role"] == "system"]
        turns = [m for m in messages if m["role"] != "system"]
        if not turns or turns[-1]["role"] != "user":
            raise BadConversation("the last message must come from the user")
        text = "\n\n".join(prompts) if prompts else self.system
        return ([{"role": "system", "content": text}] if text else []) + turns

    def prepare(self, messages: list[dict[str, str]]) -> Prepared:
        """The conversation, and the prompt the engine gets: with an index, the latest question's passages."""
        conversation = self.conversation(messages)
        if self.index is None:
            return Prepared(conversation, conversation)
        from medqa.retrieval.grounding import retrieve, with_passages

        grounding = retrieve(self.index, conversation, self.index_cfg)
        return Prepared(conversation, with_passages(conversation, grounding), grounding)

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

    def shape(self, pieces: Iterable[str], triage: TriageResult, grounding: Any = None) -> Iterator[str]:
        """The reply as shown, as the engine streams: grounded and cited (with an index), then the answer policy
        (urgent message first when flagged, referral last), then the sources it cited."""
        if grounding is not None:
            from medqa.retrieval.grounding import ABSTAIN_MESSAGE, ground_stream, sources_footer
            from medqa.safety.policy import stream_sentences

            pieces = [ABSTAIN_MESSAGE] if grounding.abstain else (
                f"{s} " for s in ground_stream(stream_sentences(pieces), grounding, self.index.encoder,
                                               self.index_cfg))
        yield from policy_stream(pieces, triage)
        if grounding is not None and grounding.cited:
            yield "\n\n" + sources_footer(grounding)

    def finish(self, text: str, triage: TriageResult, grounding: Any = None) -> str:
        """The whole-answer form: the streamed form, joined (so both say exactly the same)."""
        return "".join(self.shape([text], triage, grounding)).strip()
