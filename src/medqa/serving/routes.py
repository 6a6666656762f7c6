"""HTTP routes: POST /v1/chat/completions (JSON or SSE), GET /v1/models, GET /health and the chat page at GET /.

Routes translate between the wire models in protocol.py and the Assistant; batching, triage and the answer policy
live in medqa.inference.assistant. A `max_tokens` above the server's cap is refused with 400 (not clamped), so a client
never gets a shorter answer than it asked for without knowing. Exercised by tests/integration/test_server.py,
test_web_page.py and tests/reliability/test_reliability_server.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from medqa.inference.assistant import Assistant, RequestError, Ticket, sampling
from medqa.inference.completions import complete_many
from medqa.inference.generator import BASE
from medqa.serving.errors import APIError, error_body, refusal_error
from medqa.serving.protocol import (AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
                                    Choice, ChoiceLogprobs, ChunkChoice, CompletionChoice, CompletionLogprobs,
                                    CompletionRequest, Delta, ErrorBody, ModelCard, ModelList, TextCompletion, Usage,
                                    completion_id, now)
from medqa.serving.settings import ServeSettings

log = logging.getLogger("medqa.serving")
router = APIRouter()
# The page runs only its own inline script and talks only to this server.
PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# What the OpenAPI schema promises: every 4xx is an OpenAI-shaped error (declaring "4XX" also keeps FastAPI from
# documenting its default 422, which this server never sends), and a chat completion is JSON or an SSE stream.
ERRORS: dict[int | str, dict[str, Any]] = {"4XX": {"model": ErrorBody, "description": "OpenAI-shaped error"}}
MAX_COMPLETIONS = 64  # prompts x n in one /v1/completions request (it holds the model while it runs)
STREAM_MODELS = (ChatCompletionChunk,)  # appear only inside SSE events, so app.py adds them to the schema itself
_SSE_EVENT = {"type": "object", "required": ["data"], "properties": {"data": {"anyOf": [
    {"const": "[DONE]"},
    {"type": "string", "contentMediaType": "application/json", "contentSchema": {"anyOf": [
        {"$ref": "#/components/schemas/ChatCompletionChunk"}, {"$ref": "#/components/schemas/ErrorBody"}]}}]}}}
COMPLETION: dict[int | str, dict[str, Any]] = {
    200: {"model": ChatCompletion, "description": "the completion, or with `stream` its server-sent events",
          "content": {"text/event-stream": {"schema": _SSE_EVENT}}}, **ERRORS}


def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def _settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


async def require_api_key(request: Request) -> None:
    """Bearer-token check in constant time (hashing first hides the key's length too)."""
    key = _settings(request).api_key
    if key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    valid = hmac.compare_digest(_digest(token.strip()), _digest(key.get_secret_value()))
    if scheme.lower() != "bearer" or not valid:
        raise APIError(401, "invalid API key: send it as 'Authorization: Bearer KEY'", "authentication_error",
                       code="invalid_api_key")


@router.get("/health", responses={503: {"description": "the assistant is not running"}})
async def health(request: Request) -> JSONResponse:
    assistant = _assistant(request)
    status = 200 if assistant.running else 503
    body = {"status": "ok" if status == 200 else "unavailable", "models": assistant.models, **assistant.stats()}
    return JSONResponse(body, status_code=status)


@router.get("/v1/models", dependencies=[Depends(require_api_key)], responses=ERRORS)
async def list_models(request: Request) -> ModelList:
    created = request.app.state.started
    return ModelList(data=[ModelCard(id=name, created=created) for name in _assistant(request).models])


@router.get("/", include_in_schema=False)
async def chat_page(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.page, headers={"Content-Security-Policy": PAGE_CSP,
                                                         "X-Content-Type-Options": "nosniff"})


@router.post("/v1/chat/completions", dependencies=[Depends(require_api_key)], response_model=None,
             responses=COMPLETION)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> ChatCompletion | StreamingResponse:
    assistant, settings = _assistant(request), _settings(request)
    limit = body.token_limit()
    if limit is not None and limit > settings.max_tokens_cap:
        raise APIError(400, f"max_tokens is {limit}; this server allows at most {settings.max_tokens_cap}",
                       param="max_tokens", code="max_tokens_too_large")
    # Triage and tokenising take milliseconds, up to a second for a long pathological message: off the event loop,
    # on one admission thread (so requests queue in arrival order and the tokenizer is never entered twice at once).
    submit = partial(assistant.submit_choices, body.conversation(), body.model, body.n, stream=body.stream,
                     temperature=body.temperature, top_p=body.top_p, seed=body.seed, stop=body.stop or (),
                     max_tokens=limit or min(assistant.defaults.max_new_tokens, settings.max_tokens_cap),
                     scoring=body.scoring())
    tickets = await asyncio.get_running_loop().run_in_executor(request.app.state.admission, submit)
    _log_request(body, tickets[0], settings.log_messages)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_sse(assistant, tickets, include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    try:
        generated = [await asyncio.wrap_future(t.done) for t in tickets]
    except RequestError as err:  # a gateway's backend failed; an emergency still gets its urgent message
        for t in tickets:
            t.cancel()
        if not tickets[0].triage.urgent:
            raise
        api = refusal_error(err)
        raise APIError(api.status, f"{tickets[0].triage.message}\n\n({api.message})", api.type,
                       code=api.code) from None
    replies = [assistant.reply(t, g) for t, g in zip(tickets, generated)]
    first = tickets[0]
    return ChatCompletion(id=completion_id(), created=now(), model=first.model, triage=replies[0].triage.to_dict(),
                          choices=[Choice(index=i, message=AssistantMessage(content=r.text), finish_reason=r.finish_reason,
                                          logprobs=ChoiceLogprobs.of(g.logprobs))
                                   for i, (r, g) in enumerate(zip(replies, generated))],
                          usage=Usage.of(replies[0].prompt_tokens, sum(r.completion_tokens for r in replies)),
                          citations=replies[0].citations if first.grounding is not None else None)


@router.post("/v1/completions", dependencies=[Depends(require_api_key)], responses={
    200: {"model": TextCompletion, "description": "the completion"}, **ERRORS})
async def completions(body: CompletionRequest, request: Request) -> TextCompletion:
    """Raw completion with legacy logprobs and echo, for likelihood-based evaluation (`--enable-completions`)."""
    assistant, settings = _assistant(request), _settings(request)
    if not settings.completions:
        raise APIError(404, "/v1/completions is off: start `medqa serve --enable-completions` to evaluate with it (it "
                            "bypasses triage and the answer policy, so it is never for patients)", code="not_enabled")
    generator = getattr(assistant, "generator", None)
    if generator is None or body.model not in assistant.models:
        raise APIError(404 if generator is not None else 400, f"model {body.model!r} cannot complete raw prompts here"
                       + ("" if generator is not None else ": a gateway (--backend) has no local weights"),
                       param="model", code="model_not_found")
    if body.max_tokens > settings.max_tokens_cap:
        raise APIError(400, f"max_tokens is {body.max_tokens}; this server allows at most {settings.max_tokens_cap}",
                       param="max_tokens", code="max_tokens_too_large")
    if len(body.prompts()) * body.n > MAX_COMPLETIONS:
        raise APIError(400, f"{len(body.prompts())} prompts x n={body.n} is more than the {MAX_COMPLETIONS} completions "
                            "one request may ask for: split the batch", param="prompt", code="too_many_prompts")
    prompts = [generator.tokenizer(p)["input_ids"] if isinstance(p, str) else p for p in body.prompts()]
    vocab = len(generator.tokenizer)
    if any(not ids or len(ids) > settings.max_input_tokens or min(ids) < 0 or max(ids) >= vocab for ids in prompts):
        raise APIError(400, f"each prompt must hold 1 to {settings.max_input_tokens} tokens, with ids below {vocab}",
                       param="prompt", code="invalid_prompt")
    gen = sampling(assistant.defaults, body.temperature if body.temperature is not None else 1.0, body.top_p,
                   body.seed)
    adapter = None if body.model == BASE else body.model
    run = partial(complete_many, generator, prompts, gen, adapter, body.max_tokens, tuple(body.stop or ()),
                  body.scoring(), body.echo, body.n)
    outs = await asyncio.get_running_loop().run_in_executor(None, run)
    choices = [CompletionChoice(index=i, text=o.text, finish_reason=o.finish_reason,
                                logprobs=CompletionLogprobs(**o.logprobs()) if body.logprobs is not None else None)
               for i, o in enumerate(outs)]
    return TextCompletion(id=completion_id("cmpl"), created=now(), model=body.model, choices=choices,
                          usage=Usage.of(sum(o.prompt_tokens for o in outs[::body.n]),
                                         sum(o.completion_tokens for o in outs)))


def _log_request(body: ChatCompletionRequest, ticket: Ticket, with_text: bool) -> None:
    log.info("chat model=%s stream=%s turns=%d prompt_tokens=%d max_tokens=%d", ticket.model, body.stream,
             len(body.messages), len(ticket.prompt_ids), ticket.max_new_tokens)
    if with_text:  # opt-in only: message text and triage are health data
        log.info("chat messages=%s triage=%s", json.dumps(body.conversation(), ensure_ascii=False),
                 json.dumps(ticket.triage.to_dict()))


def _sse(assistant: Assistant, tickets: list[Ticket], include_usage: bool) -> Iterator[str]:
    """Server-sent events for each choice in turn (generated together, in one batch): a role chunk carrying
    `triage`, content chunks, a finish chunk (with the choice's logprobs when asked); then usage if asked, [DONE]."""
    cid, created, model = completion_id(), now(), tickets[0].model

    def event(choices: list[ChunkChoice], **extra: Any) -> str:
        chunk = ChatCompletionChunk(id=cid, created=created, model=model, choices=choices, **extra)
        skip = {k for k in ("usage", "triage", "citations") if k not in extra}
        return f"data: {chunk.model_dump_json(exclude=skip, exclude_none=False)}\n\n"

    completion_tokens = 0
    try:
        for i, ticket in enumerate(tickets):
            yield event([ChunkChoice(index=i, delta=Delta(role="assistant", content=""))],
                        triage=ticket.triage.to_dict())
            for piece in assistant.pipeline.shape(ticket.pieces(), ticket.triage, ticket.grounding):
                yield event([ChunkChoice(index=i, delta=Delta(content=piece))])
            generated = ticket.done.result()
            completion_tokens += generated.tokens
            cited = {"citations": ticket.grounding.citations()} if ticket.grounding is not None else {}
            yield event([ChunkChoice(index=i, delta=Delta(), finish_reason=generated.finish_reason,
                                     logprobs=ChoiceLogprobs.of(generated.logprobs))],
                        triage=ticket.triage.to_dict(), **cited)
        if include_usage:
            yield event([], usage=Usage.of(tickets[0].prompt_tokens(generated), completion_tokens))
    except RequestError as err:  # a gateway's backend failed mid-way: in-band, OpenAI-shaped, after the urgent lead
        api = refusal_error(err)
        yield f"data: {json.dumps(error_body(api.message, api.type, code=api.code))}\n\n"
    except Exception:  # headers are sent already: report in-band, in the same error shape
        log.exception("generation failed")
        yield f"data: {json.dumps(error_body('generation failed', 'server_error'))}\n\n"
    finally:
        for ticket in tickets:
            ticket.cancel()
    yield "data: [DONE]\n\n"
