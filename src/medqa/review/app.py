"""The rater app: `create_review_app(store)`, on the same stack as `medqa serve` (FastAPI, uvicorn, its error body,
body limit and request log), and importing no torch.

    medqa review serve runs/review --port 8010   # raters open http://HOST:8010/rate#TOKEN

Tokens travel in the URL's fragment (never sent to the server, so never in a log) and then as
`Authorization: Bearer` headers. A rater's token reaches only that rater's items; another item id answers 404, the
same as one that does not exist. No response carries a system name, an answer id or anything else that tells which
system wrote an answer: only `medqa review report` un-blinds.
"""

from __future__ import annotations

import io
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, Response

from medqa.review.axes import AXES, PREFERENCES, Rating
from medqa.review.items import ReviewError
from medqa.review.store import Conflict, NotFound, Rater, ReviewStore
from medqa.serving.errors import APIError, install_error_handlers
from medqa.serving.middleware import BodyLimit, RequestLog

MAX_BODY_BYTES = 64_000
_NO_STORE = {"Cache-Control": "no-store"}  # rating pages hold health data and live tokens

router = APIRouter()


def _page(name: str) -> str:
    return resources.files("medqa.review").joinpath(f"static/{name}").read_text(encoding="utf-8")


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise APIError(401, "send your review token as 'Authorization: Bearer TOKEN' (open your private link)",
                       "authentication_error", code="missing_token")
    return token.strip()


def current_rater(request: Request, authorization: Annotated[str | None, Header()] = None) -> Rater:
    rater = request.app.state.store.rater(_bearer(authorization))
    if rater is None:
        raise APIError(401, "this review token is not valid: open the private link you were given",
                       "authentication_error", code="invalid_token")
    return rater


def current_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    if not request.app.state.store.is_admin(_bearer(authorization)):
        raise APIError(401, "this is not the review's admin token", "authentication_error", code="invalid_token")


@router.get("/", response_class=HTMLResponse)
def home() -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>medqa review</title><p>medqa review: open the private link you "
                        "were given.</p>", headers=_NO_STORE)


@router.get("/rate", response_class=HTMLResponse)
def rate_page(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.pages["rate.html"], headers=_NO_STORE)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.pages["admin.html"], headers=_NO_STORE)


@router.get("/api/queue")
def queue(request: Request, rater: Annotated[Rater, Depends(current_rater)]) -> dict[str, Any]:
    """The rater's items in order with their rating revision, and the axes to rate them on."""
    return {"rater": rater.name, "items": request.app.state.store.queue(rater),
            "axes": [{"name": a.name, "question": a.question, "levels": list(a.levels), "labels": list(a.labels)}
                     for a in AXES], "preferences": list(PREFERENCES)}


@router.get("/api/items/{item_id}")
def item(item_id: str, request: Request, rater: Annotated[Rater, Depends(current_rater)]) -> dict[str, Any]:
    try:
        return request.app.state.store.item(rater, item_id)
    except NotFound as err:
        raise APIError(404, str(err), code="item_not_found") from err


@router.put("/api/items/{item_id}")
def rate(item_id: str, rating: Rating, request: Request,
         rater: Annotated[Rater, Depends(current_rater)]) -> dict[str, Any]:
    """Store a rating; `revision` must be the one the page loaded (409 otherwise, the stored rating untouched)."""
    try:
        return {"id": item_id, "revision": request.app.state.store.save(rater, item_id, rating)}
    except NotFound as err:
        raise APIError(404, str(err), code="item_not_found") from err
    except Conflict as err:
        raise APIError(409, str(err), code="stale_revision") from err
    except ReviewError as err:
        raise APIError(400, str(err), code="invalid_rating") from err


@router.get("/api/admin/progress", dependencies=[Depends(current_admin)])
def progress(request: Request) -> dict[str, Any]:
    return {"raters": request.app.state.store.progress()}


@router.get("/api/admin/ratings.csv", dependencies=[Depends(current_admin)])
def ratings_csv(request: Request) -> Response:
    """The same blinded CSV as `medqa review export`."""
    from medqa.review.csvio import write_csv

    buf = io.StringIO()
    write_csv(request.app.state.store, buf)
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={**_NO_STORE, "Content-Disposition": 'attachment; filename="ratings.csv"'})


def create_review_app(store: ReviewStore) -> FastAPI:
    app = FastAPI(title="medqa review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.pages = {name: _page(name) for name in ("rate.html", "admin.html")}  # read once, not per request
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(RequestLog)
    return app


def run_review_server(store: ReviewStore, host: str, port: int) -> int:
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"medqa review: serving {store.folder} on http://{host}:{port}/ — raters open http://{host}:{port}"
          f"/rate#TOKEN, the organiser /admin#TOKEN (tokens: {store.folder / 'links.txt'})", flush=True)
    uvicorn.run(create_review_app(store), host=host, port=port, access_log=False, log_level="info")
    return 0

