"""Map raw rows of the supported schemas onto one `Example` (system, history, question, answer).

Schemas: instruction/input/output (HealthCareMagic-100k, GenMedGPT-5k), question/answer, and chat
`messages`. Other column names are mapped with `question_field` / `answer_field`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Schema = Literal["auto", "instruction", "qa", "messages"]

QUESTION_KEYS = ("question", "query", "prompt", "patient", "Question")
ANSWER_KEYS = ("answer", "response", "completion", "doctor", "Answer")


class RowError(ValueError):
    """A row that does not fit its schema; it is quarantined, not fatal."""


@dataclass(frozen=True)
class Example:
    question: str
    answer: str
    system: str | None = None
    history: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # earlier (role, text) turns
    id: str | None = None
    topic: str | None = None
    statements: tuple[str, ...] = field(default_factory=tuple)
    group: str | None = None  # rows sharing a group share a split (e.g. a MedQuAD document)
    source: str | None = None  # the configured source the row came from, when several are mixed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"question": self.question, "answer": self.answer}
        for key in ("system", "id", "topic", "group", "source"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.history:
            out["history"] = [list(t) for t in self.history]
        if self.statements:
            out["statements"] = list(self.statements)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Example:
        return cls(
            question=obj["question"], answer=obj["answer"], system=obj.get("system"),
            history=tuple(tuple(t) for t in obj.get("history", [])), id=obj.get("id"),
            topic=obj.get("topic"), statements=tuple(obj.get("statements", [])), group=obj.get("group"),
            source=obj.get("source"),
        )


def detect_schema(fields: dict[str, Any], question_field: str | None = None) -> Schema:
    if question_field:
        return "qa"
    if "messages" in fields or "conversations" in fields:
        return "messages"
    if "output" in fields and ("input" in fields or "instruction" in fields):
        return "instruction"
    if any(k in fields for k in QUESTION_KEYS) and any(k in fields for k in ANSWER_KEYS):
        return "qa"
    raise RowError(f"unknown schema with columns {sorted(fields)[:8]}: expected instruction/input/output, "
                   "question/answer or messages; map other columns with --question-field/--answer-field")


def _text(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowError(f"field {key!r} is {type(value).__name__}, expected text")
    return value


def _first_key(fields: dict[str, Any], keys: tuple[str, ...]) -> str:
    for k in keys:
        if k in fields:
            return k
    raise RowError(f"missing field: one of {', '.join(keys)}")


def _meta(fields: dict[str, Any], group_field: str | None) -> dict[str, Any]:
    """Optional row metadata: id, topic (or MedQuAD's focus), statements and the split group."""
    topic = next((fields[k] for k in ("topic", "focus") if isinstance(fields.get(k), str) and fields[k]), None)
    group = fields.get(group_field or "group")
    if group_field and group_field not in fields:
        raise RowError(f"missing group field {group_field!r}")
    statements = fields.get("statements")
    return {"id": fields.get("id") if isinstance(fields.get("id"), str) else None, "topic": topic,
            "statements": tuple(s for s in statements if isinstance(s, str)) if isinstance(statements, list) else (),
            "group": str(group) if isinstance(group, (str, int)) and not isinstance(group, bool) else None}


def to_example(fields: dict[str, Any], schema: Schema = "auto", question_field: str | None = None,
               answer_field: str | None = None, group_field: str | None = None) -> Example:
    """Turn one raw row into an Example, or raise RowError saying what is wrong with it."""
    if schema == "auto":
        schema = detect_schema(fields, question_field)
    meta = _meta(fields, group_field)
    if schema == "messages":
        return _from_messages(fields, meta)
    if schema == "instruction":
        # HealthCareMagic's instruction is one constant sentence ("If you are a doctor, ..."): the patient's
        # words are in `input`; medqa's own system prompt replaces the instruction at formatting time.
        question = _text(fields, "input").strip() or _text(fields, "instruction")
        return Example(question=question, answer=_text(fields, answer_field or "output"), **meta)
    qkey = question_field or _first_key(fields, QUESTION_KEYS)
    akey = answer_field or _first_key(fields, ANSWER_KEYS)
    if qkey not in fields:
        raise RowError(f"missing question field {qkey!r}")
    if akey not in fields:
        raise RowError(f"missing answer field {akey!r}")
    return Example(question=_text(fields, qkey), answer=_text(fields, akey), **meta)


def _from_messages(fields: dict[str, Any], meta: dict[str, Any]) -> Example:
    msgs = fields.get("messages", fields.get("conversations"))
    if not isinstance(msgs, list) or not msgs:
        raise RowError("'messages' must be a non-empty list of {role, content} objects")
    turns: list[tuple[str, str]] = []
    for m in msgs:
        if not isinstance(m, dict):
            raise RowError("each message must be an object with role and content")
        role = m.get("role", m.get("from"))
        content = m.get("content", m.get("value"))
        role = {"human": "user", "gpt": "assistant", "model": "assistant"}.get(role, role) if isinstance(role, str) else None
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise RowError(f"message with role {role!r} is not a system/user/assistant text message")
        turns.append((role, content))
    system = turns.pop(0)[1] if turns[0][0] == "system" else None
    if len(turns) < 2 or turns[-1][0] != "assistant" or turns[-2][0] != "user":
        raise RowError("a messages row must end with a user turn followed by the assistant's answer")
    return Example(question=turns[-2][1], answer=turns[-1][1], system=system, history=tuple(turns[:-2]), **meta)
