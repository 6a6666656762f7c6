"""A chat session with the safety layer around the model: triage before generation, policy after it.

The urgent-care message is decided by `medqa.safety` from the user's words, never by the model, and it leads
the reply whenever triage flags an emergency.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from medqa.config import GenerationConfig
from medqa.inference.generator import Generator
from medqa.safety import REFERRAL_SENTENCE, has_referral, sentence_allowed, triage_conversation

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")


def policy_stream(pieces: Iterator[str], urgent: bool) -> Iterator[str]:
    """Re-chunk a token stream into sentences and drop those the answer policy forbids.

    Streaming cannot take text back, so each sentence is checked before it is shown.
    """
    buf = ""
    for piece in pieces:
        buf += piece
        while (m := _SENTENCE_END.search(buf)) is not None:
            sentence, buf = buf[: m.end()], buf[m.end():]
            if sentence_allowed(sentence, urgent):
                yield sentence
    if buf and sentence_allowed(buf, urgent):
        yield buf


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
        """Stream the reply to `text`: urgent message first when flagged, then the model, then any policy tail."""
        self.history.append({"role": "user", "content": text})
        result = triage_conversation(self.history, self.semantic)
        self.last_triage = result
        lead = f"{result.message}\n\n" if result.urgent else ""
        if lead:
            yield lead
        shown: list[str] = []
        for sentence in policy_stream(self.generator.stream(self.messages(), self.gen, self.adapter), result.urgent):
            shown.append(sentence)
            yield sentence
        answer = "".join(shown).strip()
        if not has_referral(answer):
            yield f"\n\n{REFERRAL_SENTENCE}"
        self.history.append({"role": "assistant", "content": answer})

    def ask(self, text: str) -> str:
        return "".join(self.send(text))
