"""A site's pages: add one or many, its page with history and settings, its actions.

Every field posted is the core's to judge (`webmon.core.site_rules`): the page passes the
form's text to the same models the API uses and shows the core's words beside the field
they name. A site added or shaped here is checked under the target policy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from webmon.core.errors import Invalid, NotFound, invalid_from_validation
from webmon.core.history import LATEST, Step
from webmon.core.site_import import parse_sites, site_of
from webmon.core.site_rules import SitePatch
from webmon.core.site_text import fields_from_text
from webmon.web import forms
from webmon.web.common import (
    CSRF,
    Viewer,
    core,
    form_of,
    not_found,
    render,
    signer,
    viewer,
)

router = APIRouter(include_in_schema=False)
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "1y": timedelta(days=365)}  # fmt: skip
# The fields of the forms on the add and settings pages.
NEW_FIELDS = frozenset(
    {
        "url",
        "name",
        "tags",
        "interval_seconds",
        "timeout_seconds",
        "regex",
        "method",
        "expected_status",
        "headers",
    }
)
EDIT_FIELDS = NEW_FIELDS - {"url"}
MAX_FORM_LINES = 1000


def _site_fields(values: dict[str, str]) -> dict[str, str]:
    """The site's fields of a posted form: everything but its CSRF token."""
    return {name: value for name, value in values.items() if name != CSRF}


async def _site(request: Request, site_id: int) -> dict[str, Any] | None:
    since = request.query_params.get("since", "24h")
    if since not in PERIODS:
        since = "24h"
    step: Step = "hour" if since in ("24h", "7d") else "day"
    the_core = core(request)
    try:
        site = await the_core.sites.get(site_id)
    except NotFound:
        return None
    history = the_core.history
    series = await history.series(site_id, PERIODS[since], step)
    uptime = await history.uptime(site_id, PERIODS[since])
    days = await history.days(site_id, 90)
    events = await history.events(site_id, before=LATEST, limit=20)
    now = datetime.now(UTC)
    checks = await history.checks(
        site_id, since=now - timedelta(days=2), until=now + timedelta(minutes=1), limit=20
    )
    changes = []
    newer: datetime | None = None
    for event in events:
        changes.append(
            {
                "at": event.checked_at,
                "to_up": event.to_up,
                "cause": event.cause,
                "detail": event.error_detail,
                "lasted": (newer or now) - event.checked_at,
                "ongoing": newer is None,
            }
        )
        newer = event.checked_at
    chart: dict[str, Any] = {
        "t": [int(b.t.timestamp()) for b in series],
        "avg": [b.avg_ms for b in series],
        "p50": [b.p50_ms for b in series],
        "p95": [b.p95_ms for b in series],
        "uptime": [b.uptime_pct for b in series],
        "step": step,
        # The x axis spans the period asked for, however few points it has.
        "from": int((now - PERIODS[since]).timestamp()),
        "to": int(now.timestamp()),
        "phase_from": int((now - timedelta(days=1)).timestamp()),
    }
    if since == "24h":  # the rollups keep response times, not phases
        phases = await history.phases(site_id)
        chart.update(
            phase_t=[int(p.hour.timestamp()) for p in phases],
            dns=[p.dns for p in phases],
            connect=[p.connect for p in phases],
            tls=[p.tls for p in phases],
            ttfb=[p.ttfb for p in phases],
        )
    return {
        "site": site,
        "since": since,
        "chart_json": orjson.dumps(chart).decode(),
        "points": len(series),
        "uptime": uptime,
        "day_values": [d.up_share for d in days],
        "day_labels": [f"{d.day:%Y-%m-%d}: {d.checks or 0} checks" for d in days],
        "changes": changes,
        "checks": checks,
        "badge_token": (await signer(request)).badge_token(site_id),
        "form": site.form(),
        "errors": {},
    }


def _site_new(
    request: Request,
    who: Viewer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    bulk: str = "",
    bulk_error: str | None = None,
) -> HTMLResponse:
    """The add-sites page: blank, or refused (422) with what was entered and why."""
    refused = bool(errors) or bulk_error is not None
    return render(
        request,
        "site_new.html",
        who,
        form={"interval_seconds": "60", "method": "GET"} if form is None else form,
        errors=errors or {},
        bulk=bulk,
        bulk_error=bulk_error,
        status=422 if refused else 200,
    )


@router.get("/sites/new")
async def new_site_page(request: Request) -> Response:
    return _site_new(request, await viewer(request))


@router.post("/sites/new")
async def new_site(request: Request) -> Response:
    who = await viewer(request)
    values = await form_of(request, who)
    try:
        site = site_of(_site_fields(values))
        site_id = await core(request).sites.add(who.actor, site)
    except Invalid as exc:
        return _site_new(request, who, form=values, errors=forms.errors_of(exc, NEW_FIELDS))
    return RedirectResponse(f"/sites/{site_id}", 303)


@router.post("/sites/import")
async def import_sites(request: Request) -> Response:
    """Many sites at once: one URL per line, or CSV with a header row naming site fields,
    pasted or uploaded; all or none."""
    who = await viewer(request)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    text = values.get("bulk", "")
    upload = form.get("file")
    if upload is not None and not isinstance(upload, str):
        text = (await upload.read()).decode("utf-8-sig", "replace") or text
    await form_of(request, who)
    try:
        parsed = parse_sites(text, max_lines=MAX_FORM_LINES)
        try:
            await core(request).sites.add_many(who.actor, parsed.sites)
        except Invalid as exc:
            raise parsed.line_of(exc) from None
    except Invalid as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        return _site_new(request, who, bulk=text, bulk_error=f"{where}{exc}; nothing was imported")
    return RedirectResponse(f"/?{urlencode({'state': 'unchecked'})}", 303)


@router.get("/sites/{site_id}")
async def site_page(request: Request, site_id: int) -> Response:
    who = await viewer(request)
    context = await _site(request, site_id)
    if context is None:
        return not_found(request, who, f"No site with id {site_id}.")
    return render(request, "site.html", who, saved="saved" in request.query_params, **context)


@router.get("/ui/sites/{site_id}")
async def site_live(request: Request, site_id: int) -> Response:
    who = await viewer(request)
    context = await _site(request, site_id)
    if context is None:
        return Response(status_code=404)
    return render(request, "_site_live.html", who, **context)


@router.post("/sites/{site_id}/edit")
async def edit_site(request: Request, site_id: int) -> Response:
    who = await viewer(request)
    values = await form_of(request, who)
    context = await _site(request, site_id)
    if context is None:
        return not_found(request, who, f"No site with id {site_id}.")
    try:
        try:
            patch = SitePatch.model_validate(fields_from_text(_site_fields(values)))
        except ValidationError as exc:
            raise invalid_from_validation(exc) from None
        await core(request).sites.change(who.actor, site_id, patch)
    except NotFound:
        return not_found(request, who, f"No site with id {site_id}.")
    except Invalid as exc:
        errors = forms.errors_of(exc, EDIT_FIELDS)
        context.update(form=values, errors=errors, saved=False)
        return render(request, "site.html", who, status=422, **context)
    return RedirectResponse(f"/sites/{site_id}?saved=1", 303)


@router.post("/sites/{site_id}/{action}")
async def site_action(request: Request, site_id: int, action: str) -> Response:
    who = await viewer(request)
    await form_of(request, who)
    sites = core(request).sites
    try:
        if action in ("enable", "disable"):
            await sites.set_enabled(who.actor, [site_id], action == "enable")
        elif action in ("public", "private"):
            await sites.set_public(who.actor, site_id, action == "public")
        elif action == "delete":
            await sites.remove(who.actor, site_id)
            return RedirectResponse("/", 303)
        else:
            return Response(status_code=404)
    except NotFound:
        return not_found(request, who, f"No site with id {site_id}.")
    return RedirectResponse(f"/sites/{site_id}", 303)
