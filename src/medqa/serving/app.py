"""The FastAPI application factory: `create_app(assistant, settings)`, no module globals.

The lifespan starts the Assistant's batching worker and the admission thread that runs triage and tokenising off
the event loop, and stops both on shutdown; middleware adds the body-size limit, a request log without message text,
and CORS only when origins are configured.
Exercised by `medqa serve`, tests/integration/test_server.py and tests/reliability/test_reliability_server.py.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from medqa.inference.assistant import Assistant
from medqa.safety import DISCLAIMER
from medqa.serving.errors import install_error_handlers
from medqa.serving.middleware import BodyLimit, RequestLog
from medqa.serving.protocol import now
from medqa.serving.routes import STREAM_MODELS, router
from medqa.serving.settings import ServeSettings


def chat_page() -> str:
    """The static page with medqa's disclaimer filled in (one source of truth for its wording)."""
    text = resources.files("medqa.serving").joinpath("static/index.html").read_text(encoding="utf-8")
    return text.replace("{{DISCLAIMER}}", html.escape(DISCLAIMER))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the models that only SSE events carry, so the stream is described too."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in STREAM_MODELS:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(assistant: Assistant, settings: ServeSettings) -> FastAPI:
    """An app serving `assistant` under `settings`; the assistant runs only while the app does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.admission = ThreadPoolExecutor(1, thread_name_prefix="medqa-admission")
        assistant.start()
        try:
            yield
        finally:
            app.state.admission.shutdown(wait=False, cancel_futures=True)
            await run_in_threadpool(assistant.close)

    # No /docs or /redoc: they load scripts from a CDN, and this server must work offline.
    app = FastAPI(title="medqa", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.assistant, app.state.settings = assistant, settings
    app.state.page, app.state.started = chat_page(), now()
    install_error_handlers(app)
    app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog)  # outermost: it sees every status, 413s included
    return app
