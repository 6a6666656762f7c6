"""What `medqa serve` runs with: the config's `serve:` and `backend:` sections plus the API key.

The key comes from `--api-key` or the MEDQA_API_KEY environment variable, never from a config file, and is kept as a
SecretStr so that it never appears in a repr or a log. Built by `medqa serve` (see medqa.cli) and by the tests.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr, ValidationError

from medqa.config import BackendConfig, MedqaConfig, ServeConfig, format_validation_error
from medqa.errors import ConfigError

API_KEY_ENV = "MEDQA_API_KEY"


class ServeSettings(ServeConfig):
    """The serve section, the backend to front (if any) and who may call."""

    api_key: SecretStr | None = None
    backend: BackendConfig = BackendConfig()

    @classmethod
    def from_config(cls, cfg: MedqaConfig, api_key: str | None = None) -> ServeSettings:
        """The validated config's sections; the API key falls back to $MEDQA_API_KEY."""
        return cls.build(**cfg.serve.model_dump(), backend=cfg.backend, api_key=api_key)

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
