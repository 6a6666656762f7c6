"""Small helpers for OpenAI-compatible endpoints, shared by the generation backend and the judge; no torch."""

from __future__ import annotations

import os

from medqa.errors import ConfigError


def first_model(url: str, key: str | None, flag: str) -> str:
    """The first model an OpenAI-compatible server lists at `{url}/models`; `flag` names the way to pick one."""
    import httpx

    try:
        resp = httpx.get(url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {key}"} if key else {},
                         timeout=10)
        return str(resp.json()["data"][0]["id"])
    except Exception as err:
        raise ConfigError(f"could not list the models of {url} ({type(err).__name__}): pass {flag} NAME") from None


def api_key(env_var: str | None, flag: str) -> str | None:
    """The key held in the environment variable a config names (keys never sit in flags or files, never logged)."""
    if not env_var:
        return None
    key = os.environ.get(env_var)
    if not key:
        raise ConfigError(f"{flag} {env_var}: that environment variable is empty or unset; export the key in it")
    return key
