"""`run_serve()`: the one function `medqa serve` calls. Load the Assistant, build the app, run uvicorn (or vLLM).

Run with `medqa serve --adapter runs/demo --port 8000` and open http://127.0.0.1:8000/ for the chat page.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from medqa.errors import ConfigError
from medqa.inference.generator import BASE

ADAPTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_adapters(specs: list[str]) -> dict[str, str]:
    """`--adapter RUN` or `--adapter NAME=RUN` values as {name: spec}; an unnamed adapter takes its folder's name."""
    adapters: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or "/" in name:  # no NAME= part (a path may contain '=' after a '/')
            name, path = Path(spec.rstrip("/")).name, spec
        if not ADAPTER_NAME.match(name) or name == BASE:
            raise ConfigError(f"adapter name {name!r} (from {spec!r}) is not usable as a model name: write "
                              "--adapter NAME=RUN with NAME of letters, digits, '.', '_' or '-', other than 'base'")
        if name in adapters:
            raise ConfigError(f"two adapters are named {name!r}: name them apart with --adapter NAME=RUN")
        adapters[name] = path
    return adapters


def run_serve(cfg: Any, adapters: dict[str, str], settings: Any) -> int:
    """Serve the configured base and adapters until interrupted. `serve.engine: vllm` launches vLLM on
    `serve.engine_port` and fronts it; `backend.url` fronts a server that is already running."""
    if settings.engine == "vllm":
        from medqa.serving.vllm import run_vllm

        return run_vllm(cfg, adapters, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.backend.url:
        return serve_app(backend_assistant(cfg, settings), settings)
    from medqa.inference.assistant import Assistant

    return serve_app(Assistant.from_config(cfg, adapters, **settings.assistant_limits()), settings)


def serve_app(assistant: Any, settings: Any) -> int:
    import uvicorn

    from medqa.serving.app import create_app

    app = create_app(assistant, settings)
    auth = "API key required" if settings.api_key is not None else "no API key"
    print(f"medqa serve: models {assistant.models} on http://{settings.host}:{settings.port}/ ({auth})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_level="info")
    return 0


def backend_assistant(cfg: Any, settings: Any, models: list[str] | None = None) -> Any:
    """medqa's safety layer in front of `settings.backend.url` (see medqa.inference.backend); `models` are the
    backend's model names clients may pick besides the configured one."""
    from medqa.inference.backend import BackendAssistant, connect
    from medqa.inference.pipeline import AnswerPipeline

    return BackendAssistant(connect(settings.backend), defaults=cfg.generation, max_concurrent=settings.queue_size,
                            models=models, pipeline=AnswerPipeline.from_config(cfg))
