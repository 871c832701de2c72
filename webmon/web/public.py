"""What anyone may see, logged in or not: the badges (the status pages:
`webmon.web.status_public`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from webmon.core.errors import NotFound
from webmon.web import forms
from webmon.web.common import core, signer
from webmon.web.sessions import same

router = APIRouter(include_in_schema=False)
GREY, GREEN, AMBER, RED = "#8a8f98", "#1f883d", "#bf8700", "#cf222e"


@router.get("/badge/{site_id}/{kind}.svg")
async def badge(request: Request, site_id: int, kind: str, token: str = "") -> Response:
    expected = (await signer(request)).badge_token(site_id)
    if kind not in ("status", "uptime") or not same(token, expected):
        return Response(status_code=404)
    the_core = core(request)
    try:
        if kind == "status":
            site = await the_core.sites.get(site_id)
            up = None if site.status is None else site.status.up
            value, colour = (
                ("unknown", GREY) if up is None else (("up", GREEN) if up else ("down", RED))
            )
            label = "status"
        else:
            uptime = await the_core.history.uptime(site_id, timedelta(days=30))
            pct = uptime.uptime_pct
            value = "—" if pct is None else f"{pct:.2f}%"
            colour = (
                GREY if pct is None else (GREEN if pct >= 99.9 else (AMBER if pct >= 99 else RED))
            )
            label = "uptime 30d"
    except NotFound:
        return Response(status_code=404)
    svg = forms.badge_svg(label, value, colour)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=60"})
