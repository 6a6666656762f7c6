"""The judge's prompts, one versioned file each (`prompts/NAME-vN.txt`); a prompt's id (name, version and a hash of
its text) keys the judgement cache, so editing a prompt never reuses judgements made with the old wording."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PROMPT_FILES = {"statement": "statement-v1.txt", "rubric": "rubric-v1.txt"}


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    version: str
    template: str

    @property
    def id(self) -> str:
        return f"{self.name}-{self.version}-{hashlib.sha256(self.template.encode()).hexdigest()[:8]}"

    def messages(self, **fields: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.template.format(**fields)}]


@lru_cache(maxsize=None)
def load_prompt(kind: str) -> JudgePrompt:
    filename = PROMPT_FILES[kind]
    text = resources.files("medqa.evaluation.judge").joinpath(f"prompts/{filename}").read_text(encoding="utf-8")
    stem = filename.removesuffix(".txt")
    name, _, version = stem.rpartition("-")
    return JudgePrompt(name, version, text)


def transcript(conversation: list[dict[str, str]]) -> str:
    """A conversation as the rubric prompt shows it: one 'role: text' block per message."""
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in conversation)
