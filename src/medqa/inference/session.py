"""A chat session with the safety layer around the model: triage before generation, policy after it.

The urgent-care message is decided by `medqa.safety` from the user's words, never by the model, and it leads
the reply whenever triage flags an emergency.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from medqa.config import GenerationConfig
from medqa.inference.generator import Generator
from medqa.safety import policy_stream, triage_conversation


@dataclass
class ChatSession:
    generator: Generator
    gen: GenerationConfig
    system: str | None = None
    adapter: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    last_triage: Any = None
    semantic: Any = None  # a medqa.safety.semantic.SemanticSignal, or None for the rules alone

    def messages(self) -> list[dict[str, str]]:
        return ([{"role": "system", "content": self.system}] if self.system else []) + self.history

    def send(self, text: str) -> Iterator[str]:
        """Stream the reply to `text` through the answer policy: urgent message first when flagged."""
        self.history.append({"role": "user", "content": text})
        result = triage_conversation(self.history, self.semantic)
        self.last_triage = result
        shown: list[str] = []
        for piece in policy_stream(self.generator.stream(self.messages(), self.gen, self.adapter), result):
            shown.append(piece)
            yield piece
        self.history.append({"role": "assistant", "content": "".join(shown).strip()})

    def ask(self, text: str) -> str:
        return "".join(self.send(text))
