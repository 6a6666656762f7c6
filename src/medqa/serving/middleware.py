"""ASGI middleware: a request-body size limit (413 before the body is parsed) and a request log without bodies.

Pure ASGI rather than BaseHTTPMiddleware so that streamed responses pass through untouched.
Exercised by tests/integration/test_server.py (test_body_too_large).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from medqa.serving.errors import error_body

log = logging.getLogger("medqa.serving")

Scope = dict[str, Any]
Receive = Any
Send = Any


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413: by Content-Length when given, else while the body streams in.

    The body is read here (it is small by construction) and replayed to the app, so that an oversized chunked
    body is refused before FastAPI starts parsing it.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body"):
                break
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> dict[str, Any]:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(error_body(f"the request body is larger than {self.max_bytes} bytes",
                                     code="request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class RequestLog:
    """One log line per request: method, path, status and time. Never bodies, query strings or client addresses."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0, status = time.perf_counter(), 0

        async def status_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            log.info("%s %s %s %.0fms", scope["method"], scope["path"], status or "-", (time.perf_counter() - t0) * 1e3)
