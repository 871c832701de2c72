"""The overview: counts, the sites down now, and a page of sites with their uptime strips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from webmon.core.errors import Invalid
from webmon.core.sites import tag_filter
from webmon.web.common import core, render, viewer

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
TLS_SOON = timedelta(days=21)
STATES = ("up", "down", "unchecked", "disabled")


def _filters(request: Request) -> dict[str, Any]:
    query = request.query_params
    state = query.get("state") or None
    if state not in (None, *STATES):
        state = None
    q = (query.get("q") or "").strip()[:200] or None
    if q is not None and "\x00" in q:
        q = None
    after = query.get("after", "")
    try:
        tag = tag_filter((query.get("tag") or "").strip()[:200] or None)
    except Invalid:
        tag = None
    return {"state": state, "q": q, "tag": tag, "after": int(after) if after.isdigit() else 0}


async def _overview(request: Request) -> dict[str, Any]:
    f = _filters(request)
    the_core = core(request)
    disabled = f["state"] == "disabled"
    sites = await the_core.sites.page(
        after=f["after"],
        state=None if disabled else f["state"],
        enabled=False if disabled else None,
        q=f["q"],
        tag=f["tag"],
        limit=PAGE_SIZE + 1,
    )
    more = len(sites) > PAGE_SIZE
    sites = sites[:PAGE_SIZE]
    # A site checked from several regions reads by its quorum, as on its own page.
    several = [s.id for s in sites if s.by_quorum]
    strips = await the_core.history.strips([s.id for s in sites], by_quorum=several)
    ticks = await the_core.history.ticks([s.id for s in sites], by_quorum=several)
    # A region below the quorum: the site is up by the quorum and degraded there.
    advisories = await the_core.site_regions.of_sites([s.id for s in sites])
    now = datetime.now(UTC)
    rows = []
    for site in sites:
        strip = strips.get(site.id)
        expires = site.status.tls_expires_at if site.status else None
        rows.append(
            {
                "site": site,
                "up24": strip.up_24h if strip else None,
                "up30": strip.up_30d if strip else None,
                "ticks": ticks.get(site.id, []),
                "advisories": advisories.get(site.id, []),
                "tls_soon": expires is not None and expires - now < TLS_SOON,
                "tls_expires_at": expires,
            }
        )
    next_query = None
    if more:
        params = {k: f[k] for k in ("q", "tag", "state") if f[k]}
        next_query = "?" + urlencode({**params, "after": sites[-1].id})
    return {
        "counts": await the_core.sites.summary(q=f["q"], tag=f["tag"]),
        "down_now": await the_core.sites.down_now(q=f["q"], tag=f["tag"]),
        "searched": bool(f["q"] or f["tag"]),
        "sites": rows,
        "filters": f,
        "next_query": next_query,
        "live_query": request.url.query,
    }


@router.get("/")
async def overview(request: Request) -> Response:
    who = await viewer(request)
    return render(request, "overview.html", who, **await _overview(request))


@router.get("/ui/overview")
async def overview_live(request: Request) -> Response:
    who = await viewer(request)
    return render(request, "_overview_live.html", who, **await _overview(request))
