"""The FastAPI application factory: `create_app(assistant, settings)`, no module globals.

The lifespan starts the Assistant's batching worker and stops it on shutdown; middleware adds the body-size limit,
a request log without message text, and CORS only when origins are configured.
Exercised by `medqa serve` and tests/integration/test_server.py.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from medqa.inference.assistant import Assistant
from medqa.safety import DISCLAIMER
from medqa.serving.errors import install_error_handlers
from medqa.serving.middleware import BodyLimit, RequestLog
from medqa.serving.protocol import now
from medqa.serving.routes import router
from medqa.serving.settings import ServeSettings


def chat_page() -> str:
    """The static page with medqa's disclaimer filled in (one source of truth for its wording)."""
    text = resources.files("medqa.serving").joinpath("static/index.html").read_text(encoding="utf-8")
    return text.replace("{{DISCLAIMER}}", html.escape(DISCLAIMER))


def create_app(assistant: Assistant, settings: ServeSettings) -> FastAPI:
    """An app serving `assistant` under `settings`; the assistant runs only while the app does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assistant.start()
        try:
            yield
        finally:
            await run_in_threadpool(assistant.close)

    # No /docs or /redoc: they load scripts from a CDN, and this server must work offline.
    app = FastAPI(title="medqa", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.assistant, app.state.settings = assistant, settings
    app.state.page, app.state.started = chat_page(), now()
    install_error_handlers(app)
    app.include_router(router)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog)  # outermost: it sees every status, 413s included
    return app
