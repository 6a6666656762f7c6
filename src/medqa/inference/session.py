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

    def __post_init__(self) -> None:
        self.pipeline = AnswerPipeline(self.system, self.semantic)

    def send(self, text: str) -> Iterator[str]:
        """Stream the reply to `text` through the pipeline: urgent message first when flagged."""
        self.history.append({"role": "user", "content": text})
        conversation = self.pipeline.conversation(self.history)
        result = self.last_triage = self.pipeline.triage(conversation)
        shown: list[str] = []
        for piece in self.pipeline.shape(self.generator.stream(conversation, self.gen, self.adapter), result):
            shown.append(piece)
            yield piece
        self.history.append({"role": "assistant", "content": "".join(shown).strip()})

    def ask(self, text: str) -> str:
        return "".join(self.send(text))
