"""One OpenAI-shaped error body for every failure: {"error": {"message", "type", "param", "code"}}.

The Assistant's refusals, FastAPI's validation errors, unknown routes and unexpected exceptions all answer in this
shape, so the official `openai` client raises its usual typed errors. Exercised by tests/integration/test_server.py.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medqa.inference.pipeline import BadConversation, RequestError
from medqa.serving.protocol import ErrorBody, ErrorDetail

log = logging.getLogger("medqa.serving")

INVALID = "invalid_request_error"
_HTTP_TYPES = {401: "authentication_error", 404: INVALID, 405: INVALID, 413: INVALID, 429: "rate_limit_error",
               503: "service_unavailable"}


class APIError(Exception):
    """Raised by routes to answer with an OpenAI-shaped error."""

    def __init__(self, status: int, message: str, type: str = INVALID, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code


def error_body(message: str, type: str = INVALID, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return ErrorBody(error=ErrorDetail(message=message, type=type, param=param, code=code)).model_dump()


def error_response(status: int, message: str, type: str = INVALID, param: str | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


def _refusals() -> dict[type[RequestError], tuple[int, str, str, str | None]]:
    """Assistant refusal -> (HTTP status, error type, code, param). Imported here, not at the top, so that this
    module (and the review app that shares it) loads without torch."""
    from medqa.inference.assistant import AssistantClosed, InputTooLong, QueueFull, UnknownModel

    return {
        UnknownModel: (404, INVALID, "model_not_found", "model"),
        BadConversation: (400, INVALID, "invalid_messages", "messages"),
        InputTooLong: (400, INVALID, "context_length_exceeded", "messages"),
        QueueFull: (429, "rate_limit_error", "queue_full", None),
        AssistantClosed: (503, "service_unavailable", "not_ready", None),
    }


def refusal_error(err: RequestError) -> APIError:
    from medqa.inference.backend import BackendError

    if isinstance(err, BackendError):  # the model behind a gateway failed: 502, or 504 when it was too slow
        return APIError(err.status, str(err), "api_error", code="backend_timeout" if err.status == 504
                        else "backend_error")
    status, type_, code, param = _refusals().get(type(err), (400, INVALID, None, None))
    return APIError(status, str(err), type_, param, code)


def _validation_response(err: RequestValidationError) -> JSONResponse:
    """400 as OpenAI answers schema errors (FastAPI's default is 422), naming every problem and the first field."""
    problems = err.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return error_response(400, "the request body is not valid JSON", code="invalid_json")
    where = [_field_path(p.get("loc", ())) for p in problems]
    details = "; ".join(dict.fromkeys(f"{w or 'body'}: {p.get('msg')}" for w, p in zip(where, problems)))
    return error_response(400, f"invalid request: {details}", param=where[0] if where else None,
                          code="invalid_value")


def _field_path(loc: tuple[Any, ...]) -> str | None:
    """'messages.0.content' from pydantic's location, without 'body' or union-branch tags like 'list[TextPart]'."""
    parts = [str(x) for x in loc if x != "body" and not (isinstance(x, str) and ("[" in x or x == "str"))]
    return ".".join(parts) or None


def _unparsable_body(cause: BaseException) -> JSONResponse:
    """FastAPI answers a body json.loads raised on (other than JSONDecodeError) with a bare 400; say why."""
    if isinstance(cause, UnicodeDecodeError):
        message = "the request body is not valid UTF-8"
    elif isinstance(cause, RecursionError):
        message = "the request body nests too deeply to parse"
    else:
        message = "the request body is not valid JSON"
    return error_response(400, message, code="invalid_json")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api(_: Request, err: APIError) -> JSONResponse:
        return error_response(err.status, err.message, err.type, err.param, err.code)

    @app.exception_handler(RequestError)
    async def _refused(_: Request, err: RequestError) -> JSONResponse:
        api = refusal_error(err)
        headers = {"Retry-After": "1"} if api.status in (429, 502, 503, 504) else None
        return error_response(api.status, api.message, api.type, api.param, api.code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        return _validation_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400 and isinstance(err.__cause__, ValueError | RecursionError):
            return _unparsable_body(err.__cause__)
        return error_response(err.status_code, str(err.detail), _HTTP_TYPES.get(err.status_code, INVALID),
                              headers=getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error")  # the traceback goes to the log, never to the client
        return error_response(500, "internal server error", "server_error")
