"""The public status pages: `/status` (the sites marked public), `/status/{slug}`, its
`.json` and its `/feed.atom`. Public, read-only, drawn without JavaScript; the core keeps
each view `CACHE_SECONDS` and the answers say so to caches (`Cache-Control: public`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from webmon.api.common import json_response
from webmon.core.errors import NotFound
from webmon.core.status_views import CACHE_SECONDS, PageView
from webmon.web.common import core, render
from webmon.web.status_bits import atom_feed, csp_for, day_bar, page_json

router = APIRouter(include_in_schema=False)
CACHED = {"Cache-Control": f"public, max-age={int(CACHE_SECONDS)}"}


def _html(request: Request, view: PageView) -> Response:
    headers = {**CACHED, "Content-Security-Policy": csp_for(view)}
    return render(request, "status.html", None, view=view, day_bar=day_bar, headers=headers)


def _missing(request: Request, slug: str) -> Response:
    return render(request, "error.html", None, status=404,
                  message=f"There is no status page {slug!r}.")  # fmt: skip


@router.get("/status")
async def default_page(request: Request) -> Response:
    return _html(request, await core(request).status_views.default())


@router.get("/status/{slug}.json")
async def page_as_json(request: Request, slug: str) -> Response:
    try:
        view = await core(request).status_views.page(slug)
    except NotFound as exc:
        return json_response({"status": 404, "title": "Not Found", "detail": str(exc)}, 404)
    return json_response(page_json(view), headers=CACHED)


@router.get("/status/{slug}/feed.atom")
async def page_feed(request: Request, slug: str) -> Response:
    try:
        view = await core(request).status_views.page(slug)
    except NotFound:
        return Response(status_code=404)
    base = str(request.base_url).rstrip("/")
    return Response(atom_feed(view, base), media_type="application/atom+xml", headers=CACHED)


@router.get("/status/{slug}")
async def page(request: Request, slug: str) -> Response:
    try:
        view = await core(request).status_views.page(slug)
    except NotFound:
        return _missing(request, slug)
    return _html(request, view)
