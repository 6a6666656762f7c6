"""Server settings: address, optional API key and every limit, as named constants with typed, validated values.

The API key comes from `--api-key` or the MEDQA_API_KEY environment variable and is kept as a SecretStr so that it
never appears in a repr or a log. Built by `medqa serve` (see medqa.cli) and by tests/integration/test_server.py.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from medqa.config import format_validation_error
from medqa.errors import ConfigError
from medqa.inference.assistant import BATCH_WAIT_S, MAX_BATCH_DELAY_S, MAX_BATCH_SIZE, MAX_INPUT_TOKENS, QUEUE_SIZE
from medqa.inference.backend import CONNECT_TIMEOUT_S, READ_TIMEOUT_S

API_KEY_ENV = "MEDQA_API_KEY"
DEFAULT_HOST = "127.0.0.1"  # local only unless asked: the server speaks about health
DEFAULT_PORT = 8000
MAX_TOKENS_CAP = 1024  # the largest max_tokens a request may ask for
MAX_BODY_BYTES = 256 * 1024  # a long conversation is a few tens of KiB; anything larger is refused with 413


class ServeSettings(BaseModel):
    """Everything `medqa serve` needs besides the model: where to listen, who may call, and the limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    api_key: SecretStr | None = None
    max_input_tokens: int = Field(MAX_INPUT_TOKENS, gt=0)
    max_tokens_cap: int = Field(MAX_TOKENS_CAP, gt=0)
    queue_size: int = Field(QUEUE_SIZE, gt=0)
    max_batch_size: int = Field(MAX_BATCH_SIZE, gt=0)
    batch_wait_s: float = Field(BATCH_WAIT_S, ge=0, le=MAX_BATCH_DELAY_S)
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0)
    cors_origins: list[str] = Field(default_factory=list, description="empty: no CORS headers (browsers same-origin)")
    log_messages: bool = Field(False, description="log message text; off by default because it is health data")
    backend_url: str | None = Field(None, description="an OpenAI-compatible base URL to generate with instead of "
                                    "a local model (e.g. http://127.0.0.1:8001/v1)")
    backend_model: str | None = Field(None, description="the backend's model name (default: its first listed)")
    backend_api_key_env: str | None = Field(None, description="environment variable holding the backend's key")
    backend_connect_timeout_s: float = Field(CONNECT_TIMEOUT_S, gt=0)
    backend_read_timeout_s: float = Field(READ_TIMEOUT_S, gt=0, description="longest wait for the next piece")

    @classmethod
    def build(cls, **values: Any) -> ServeSettings:
        """Settings from keyword values (None means default); the API key falls back to $MEDQA_API_KEY."""
        given = {k: v for k, v in values.items() if v is not None}
        key = given.pop("api_key", None) or os.environ.get(API_KEY_ENV) or None
        try:
            return cls(**given, api_key=key)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err)) from None

    def assistant_limits(self) -> dict[str, Any]:
        """The keyword arguments Assistant.from_config takes for the limits it enforces itself."""
        return {"queue_size": self.queue_size, "max_batch_size": self.max_batch_size,
                "batch_wait_s": self.batch_wait_s, "max_input_tokens": self.max_input_tokens}
