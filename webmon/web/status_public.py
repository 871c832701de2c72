"""The public status pages: `/status` (the sites marked public), `/status/{slug}`, its
`.json` and its `/feed.atom`. Public, read-only, drawn without JavaScript; the core keeps
each view `CACHE_SECONDS` and the answers say so to caches (`Cache-Control: public`). Each
view is drawn once per format: the next readers of the same view get the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from webmon.api.common import json_bytes, json_response
from webmon.core.errors import NotFound
from webmon.core.status_views import CACHE_SECONDS, PageView
from webmon.web.common import core, render
from webmon.web.status_bits import DayBars, atom_feed, csp_for, page_json

router = APIRouter(include_in_schema=False)
CACHED = {"Cache-Control": f"public, max-age={int(CACHE_SECONDS)}"}


def _drawn(
    request: Request, key: str, view: PageView, draw: Callable[[], bytes], variant: str = ""
) -> bytes:
    """`draw()`'s bytes, made once per view and format (the view is the core's cached
    object: the same one until it is refreshed). One entry per page and format: a
    `variant` (the feed's base URL, from the request) replaces the entry, never adds one."""
    state: Any = request.app.state
    if not hasattr(state, "status_drawn"):
        state.status_drawn = {}
    store: dict[str, tuple[PageView, str, bytes]] = state.status_drawn
    hit = store.get(key)
    if hit is not None and hit[0] is view and hit[1] == variant:
        return hit[2]
    body = draw()
    store[key] = (view, variant, body)
    return body


def _html(request: Request, key: str, view: PageView) -> Response:
    def draw() -> bytes:
        bars = DayBars(view.first_day, view.days_shown)
        return bytes(render(request, "status.html", None, view=view, day_bar=bars).body)

    headers = {**CACHED, "Content-Security-Policy": csp_for(view)}
    return HTMLResponse(_drawn(request, f"html:{key}", view, draw), headers=headers)


def _missing(request: Request, slug: str) -> Response:
    return render(request, "error.html", None, status=404,
                  message=f"There is no status page {slug!r}.")  # fmt: skip


@router.get("/status")
async def default_page(request: Request) -> Response:
    return _html(request, "", await core(request).status_views.default())


@router.get("/status/{slug}.json")
async def page_as_json(request: Request, slug: str) -> Response:
    try:
        view = await core(request).status_views.page(slug)
    except NotFound as exc:
        return json_response({"status": 404, "title": "Not Found", "detail": str(exc)}, 404)
    body = _drawn(request, f"json:{slug}", view, lambda: json_bytes(page_json(view)))
    return json_response(body, headers=CACHED)


@router.get("/status/{slug}/feed.atom")
async def page_feed(request: Request, slug: str) -> Response:
    try:
        view = await core(request).status_views.page(slug)
    except NotFound:
        return Response(status_code=404)
    base = str(request.base_url).rstrip("/")
    body = _drawn(request, f"atom:{slug}", view, lambda: atom_feed(view, base), base)
    return Response(body, media_type="application/atom+xml", headers=CACHED)


@router.get("/status/{slug}")
async def page(request: Request, slug: str) -> Response:
    try:
        view = await core(request).status_views.page(slug)
    except NotFound:
        return _missing(request, slug)
    return _html(request, f"page:{slug}", view)
