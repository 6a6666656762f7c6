"""A JSONL cache of generated answers, so metrics can be recomputed without generating again.

    medqa eval --task freetext --output runs/eval     # answers cached in runs/eval/generations.jsonl

Each line is one answer keyed by (model name, adapter hash, prompt hash, generation parameters): the base's
resolved name with its dtype and quantization, a content hash of the adapter weights (so a retrained adapter in
the same folder is not mistaken for the old one), a hash of the exact prompt text and the decoding settings.
Greedy answers are deterministic, so a hit is the answer that would be generated again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from medqa.config import GenerationConfig


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """Content hash of a file, or of every file under a folder (names included)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def adapter_hash(spec: str | None) -> str:
    """'base' for no adapter, else a hash of the adapter's weights (a Hub id is hashed as its name)."""
    if spec is None:
        return "base"
    from medqa.modeling.adapters import adapter_dir

    where = adapter_dir(spec)
    if isinstance(where, Path):
        weights = sorted(where.glob("*.safetensors")) + [where / "adapter_config.json"]
        return text_hash("".join(file_hash(w) for w in weights if w.is_file()))
    return text_hash(f"hub:{where}")


def generation_params(gen: GenerationConfig, max_new_tokens: int) -> dict[str, Any]:
    """The decoding settings that change an answer (sampling ones only matter when temperature > 0)."""
    params: dict[str, Any] = {"max_new_tokens": max_new_tokens, "temperature": gen.temperature,
                              "repetition_penalty": gen.repetition_penalty}
    if gen.temperature > 0:
        params.update(top_p=gen.top_p, seed=gen.seed)
    return params


class JsonlCache:
    """Rows by their "key", loaded from and appended to a JSONL file (in memory only when `path` is None); rows may
    be added from several threads. A line cut short by a killed run is skipped on load (that row is made again),
    and the next append starts a new line, so the cut never swallows a good row."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._torn = False

    def load(self) -> JsonlCache:
        if self.path is not None and self.path.is_file():
            text = self.path.read_text(encoding="utf-8")
            self._torn = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                    self.entries[row["key"]] = row
                except (ValueError, KeyError, TypeError):
                    continue
        return self

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                self.entries[row["key"]] = row
            if self.path is not None and rows:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(("\n" if self._torn else "") + "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                                   for r in rows))
                self._torn = False

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)


class GenerationCache(JsonlCache):
    """Generated answers (see the module docstring), with how many this process generated and how long it took."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path)
        self.generated = 0  # answers generated (not read from the file) in this process
        self.generation_seconds = 0.0

    @staticmethod
    def key(model: str, adapter: str, prompt: str, params: dict[str, Any]) -> str:
        blob = json.dumps({"model": model, "adapter": adapter, "prompt": text_hash(prompt), "params": params},
                          sort_keys=True)
        return text_hash(blob)

