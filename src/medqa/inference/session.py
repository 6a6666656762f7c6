"""A chat session: the answer pipeline (medqa.inference.pipeline) around a streaming engine, turn after turn.

The urgent-care message is decided by `medqa.safety` from the user's words, never by the model, and it leads
the reply whenever triage flags an emergency.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from medqa.config import GenerationConfig
from medqa.inference.pipeline import AnswerPipeline


@dataclass
class ChatSession:
    generator: Any  # anything with stream(messages, gen, adapter): a Generator or a backend's OpenAIEngine
    gen: GenerationConfig
    system: str | None = None
    adapter: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    last_triage: Any = None
    semantic: Any = None  # a medqa.safety.semantic.SemanticSignal, or None for the rules alone
    pipeline: AnswerPipeline | None = None  # replaces the one `system` and `semantic` would make (e.g. with an index)
    last_grounding: Any = None  # the last reply's passages and citations, when grounded

    def __post_init__(self) -> None:
        self.pipeline = self.pipeline or AnswerPipeline(self.system, self.semantic)

    def send(self, text: str) -> Iterator[str]:
        """Stream the reply to `text` through the pipeline: urgent message first when flagged."""
        assert self.pipeline is not None
        self.history.append({"role": "user", "content": text})
        prepared = self.pipeline.prepare(self.history)
        result = self.last_triage = self.pipeline.triage(prepared.conversation)
        self.last_grounding = prepared.grounding
        pieces = [] if prepared.abstains else self.generator.stream(prepared.prompt, self.gen, self.adapter)
        shown: list[str] = []
        for piece in self.pipeline.shape(pieces, result, prepared.grounding):
            shown.append(piece)
            yield piece
        self.history.append({"role": "assistant", "content": "".join(shown).strip()})

    def ask(self, text: str) -> str:
        return "".join(self.send(text))
