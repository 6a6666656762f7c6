"""OpenAI-compatible request and response models for /v1/chat/completions and /v1/models, apart from any logic.

Responses carry extra fields: `triage`, the red-flag triage result of the latest user turn, and, when the server
answers from a passage index (`--index`), `citations`: the passages the answer cites as [n] (index, title, url,
source, text), in the final chunk when streaming. Unknown request
fields are refused (400, as OpenAI) rather than silently ignored; so are texts that are not valid Unicode, more than
MAX_MESSAGES messages and seeds outside 64 bits. Exercised by tests/integration/test_server.py and
tests/reliability/test_reliability_server.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from medqa.inference.rows import Scoring

MAX_STOP_SEQUENCES = 4  # as OpenAI
MAX_MESSAGES = 1024  # more turns than any context holds; refused before the template and tokenizer run over them
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1  # int64, as OpenAI; torch refuses seeds outside 64 bits
GREEDY_BELOW = 1e-5  # smaller temperatures decode greedily (as vLLM): logits divided by ~0 overflow to inf
MAX_CHOICES = 8  # `n`: answers to one request, generated in one batch
MAX_TOP_LOGPROBS = 20  # as OpenAI
LOGPROBS_SCOPE = ("logprobs describe the model's own tokens; text medqa's safety layer adds or replaces (the urgent "
                  "message, the referral, sources, dropped unsupported sentences) has none")
UNSUPPORTED = {  # request fields a small local model cannot honour: refused with the reason, never ignored
    "tools": "tool calling is not supported: medqa's models answer in text only",
    "tool_choice": "tool calling is not supported: medqa's models answer in text only",
    "parallel_tool_calls": "tool calling is not supported: medqa's models answer in text only",
    "functions": "function calling is not supported: medqa's models answer in text only",
    "function_call": "function calling is not supported: medqa's models answer in text only",
}


def _valid_unicode(text: str) -> str:
    """JSON may spell unpaired surrogates (\\ud800); they are not text and the tokenizer cannot take them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds an unpaired surrogate)") from None
    return text


Text = Annotated[str, AfterValidator(_valid_unicode)]


def _greedy(value: float | None) -> float | None:
    return 0.0 if value is not None and value < GREEDY_BELOW else value


def _stops(value: str | list[str] | None) -> list[str]:
    stops = [value] if isinstance(value, str) else list(value or [])
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
    return stops


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Request):
    type: Literal["text"]
    text: Text


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant"]
    content: Text | list[TextPart]
    name: Text | None = None

    def as_dict(self) -> dict[str, str]:
        """The plain {role, content} medqa works with; 'developer' is OpenAI's newer name for 'system'."""
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class StreamOptions(_Request):
    include_usage: bool = False


class ResponseFormat(_Request):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None

    @field_validator("type")
    @classmethod
    def _text_only(cls, value: str) -> str:
        if value != "text":
            raise ValueError(f"'{value}' needs constrained decoding, which medqa does not do; use "
                             "{\"type\": \"text\"} (or leave response_format out)")
        return value


class ChatCompletionRequest(_Request):
    model: Text
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: Text | list[Text] | None = None
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    user: Text | None = None
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    response_format: ResponseFormat | None = None
    tools: Any = None
    tool_choice: Any = None
    parallel_tool_calls: Any = None
    functions: Any = None
    function_call: Any = None

    @model_validator(mode="after")
    def _honourable(self) -> ChatCompletionRequest:
        for name, why in UNSUPPORTED.items():
            if getattr(self, name) not in (None, [], "none"):
                raise ValueError(f"{name}: {why}")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs: true")
        return self

    def scoring(self) -> Scoring:
        return Scoring(self.presence_penalty or 0.0, self.frequency_penalty or 0.0,
                       (self.top_logprobs or 0) if self.logprobs else None)

    _temperature = field_validator("temperature")(_greedy)
    _stop = field_validator("stop")(_stops)

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def conversation(self) -> list[dict[str, str]]:
        return [m.as_dict() for m in self.messages]


class CompletionRequest(_Request):
    """`/v1/completions` (only with `--enable-completions`): a raw prompt, as text or token ids, one or a batch."""

    model: Text
    prompt: Text | list[Text] | list[int] | list[list[int]] = Field(min_length=1)
    max_tokens: int = Field(16, ge=0)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: Text | list[Text] | None = None
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    stream: Literal[False] = False
    user: Text | None = None

    _temperature = field_validator("temperature")(_greedy)
    _stop = field_validator("stop")(_stops)

    def prompts(self) -> list[str | list[int]]:
        p = self.prompt
        if isinstance(p, str) or (p and isinstance(p[0], int)):
            return [p]  # type: ignore[list-item]
        return list(p)  # type: ignore[arg-type]

    def scoring(self) -> Scoring:
        return Scoring(self.presence_penalty or 0.0, self.frequency_penalty or 0.0, self.logprobs)


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str
    logprobs: CompletionLogprobs | None = None


class TextCompletion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


def completion_id(prefix: str = "chatcmpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt: int, completion: int) -> Usage:
        return cls(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob]
    scope: str = LOGPROBS_SCOPE  # medqa's own field: how these relate to the content shown

    @classmethod
    def of(cls, entries: list[dict[str, Any]] | None) -> ChoiceLogprobs | None:
        if entries is None:
            return None
        with_bytes = [{**e, "bytes": list(e["token"].encode("utf-8")), "top_logprobs": [
            {**t, "bytes": list(t["token"].encode("utf-8"))} for t in e.get("top_logprobs") or []]} for e in entries]
        return cls(content=[TokenLogprob(**e) for e in with_bytes])


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    triage: dict[str, Any]
    citations: list[dict[str, Any]] | None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None

    @model_serializer
    def _present_only(self) -> dict[str, Any]:  # OpenAI sends only the keys a chunk carries
        return {k: v for k, v in (("role", self.role), ("content", self.content)) if v is not None}


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None  # streaming: all of a choice's logprobs ride on its finish chunk


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    triage: dict[str, Any] | None = None
    citations: list[dict[str, Any]] | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "medqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
