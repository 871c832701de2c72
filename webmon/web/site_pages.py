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

from webmon.core.errors import Invalid, Limited, NotFound, invalid_from_validation
from webmon.core.history import LATEST
from webmon.core.history_records import Step
from webmon.core.site_copies import clone
from webmon.core.site_import import parse_sites, site_of
from webmon.core.site_rules import LOCAL_OPTIONS, SitePatch
from webmon.core.site_text import AUTH_FIELDS, auth_from_text, fields_from_text
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
from webmon.web.render import day_title

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
        "auth",
        "regions",
        "quorum",
    }
)
# The settings form: every field of a change (SitePatch's), the thresholds and the routing.
# The checker host's files and proxy are shown, and the core refuses them to anyone but the
# operator in its words; the credentials are set, replaced or removed, never shown.
HTTP_FIELDS = frozenset(
    {"max_redirects", "body", "body_content_type", "tls_verify", "tls_server_name",
     "ip_version", "require_tls", "header_name", "header_regex", "header_mode", "regex_mode",
     "regions", "quorum", "auth", *LOCAL_OPTIONS}
)  # fmt: skip
THRESHOLD_FIELDS = frozenset({"failure_threshold", "success_threshold", "reminder_minutes"})
ROUTE = "route"
EDIT_FIELDS = NEW_FIELDS | HTTP_FIELDS | THRESHOLD_FIELDS | {ROUTE, "reminder", "cert_expiry_days"}
MAX_FORM_LINES = 1000
# What a site's page confirms after an action (`?done=`): each action redirects back to a
# page that says what happened, so a reload repeats nothing.
DONE = {
    "saved": "Saved.",
    "disable": "Paused: no check is scheduled until you resume it.",
    "enable": "Resumed: the next check is due within one interval.",
    "public": "Shown on the public status page.",
    "private": "Removed from the public status page.",
    "cloned": "This is a copy, paused: edit it, then resume it. Credentials are not copied.",
    "check": "A check of this site is on its way; its result shows below as it completes.",
}


def _chart_start(times: list[datetime], now: datetime, period: timedelta) -> datetime:
    """Where a chart's x axis starts: the period's start, or, for a site checked for less
    than the period, a little before its first check (at least the last 10 minutes), so a
    new site's few minutes of checks fill the chart instead of its right edge."""
    if not times:
        return now - period
    span = max(now - times[0], timedelta(minutes=10) / 1.05)
    return max(now - period, now - span * 1.05)


def _site_fields(values: dict[str, str]) -> dict[str, str]:
    """The site's fields of a posted form: everything but its CSRF token, its thresholds,
    its routing (which the core sets apart) and its credentials (`auth_from_text`)."""
    apart = {CSRF, ROUTE, f"{ROUTE}_shown", *THRESHOLD_FIELDS, *AUTH_FIELDS}
    return {name: value for name, value in values.items() if name not in apart}


def _whole_number(values: dict[str, str], name: str) -> int | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid(name, "a whole number")
    return int(text)


async def _site(request: Request, site_id: int, live: bool = False) -> dict[str, Any] | None:
    """The site page's context; `live`: the part the page refreshes (no day bars)."""
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
    uptime = await history.uptime(site_id, PERIODS[since])
    slots = uptime.checks + uptime.missed
    series = await history.chart(site_id, PERIODS[since], step, slots, site.regions)
    several = [site_id] if site.by_quorum else []
    site_ticks = (await history.ticks([site_id], by_quorum=several))[site_id]
    latest_tasks = await the_core.tasks.latest_for_site(site_id)
    channels = [c.name for c in await the_core.channels.every((await viewer(request)).actor)]
    own_routes = await the_core.channels.own_routes(site_id)
    days = [] if live else await history.days(site_id, 90, by_quorum=bool(several))
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
        "t": [int(t.timestamp()) for t in series.t],
        "avg": series.avg_ms,
        "p50": series.p50_ms,
        "p95": series.p95_ms,
        "step": series.step,
        "regions": [{"name": line.region, "ms": line.ms} for line in series.regions],
        # The x axis spans the period asked for, or the part of it since the first check.
        "from": int(_chart_start(series.t, now, PERIODS[since]).timestamp()),
        "to": int(now.timestamp()),
        "phase_from": int(_chart_start(series.t, now, timedelta(days=1)).timestamp()),
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
        "points": len(series.t),
        "site_ticks": site_ticks,
        "latest_tasks": latest_tasks,
        "channels": channels,
        "own_routes": own_routes,
        "reminder_minutes": ""
        if site.reminder_interval_seconds is None
        else str(site.reminder_interval_seconds // 60),
        "uptime": uptime,
        "day_values": [d.up_share for d in days],
        "day_labels": [f"{d.day:%Y-%m-%d}: {d.checks or 0} checks" for d in days],
        "day_titles": [day_title(d) for d in days],
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
        site=None,
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
        site = site_of(_site_fields(values), auth_from_text(values))
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
    done = DONE.get(request.query_params.get("done", ""))
    return render(request, "site.html", who, done=done, refused=None, **context)


@router.get("/ui/sites/{site_id}")
async def site_live(request: Request, site_id: int) -> Response:
    who = await viewer(request)
    context = await _site(request, site_id, live=True)
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
    site = context["site"]
    try:
        fields = fields_from_text(_site_fields(values))
        fields.update(
            auth_from_text(values, kind_now=site.auth_kind, username_now=site.auth_username)
        )
        try:
            patch = SitePatch.model_validate(fields)
        except ValidationError as exc:
            raise invalid_from_validation(exc) from None
        the_core = core(request)
        await the_core.sites.change(who.actor, site_id, patch)
        if THRESHOLD_FIELDS & set(values):
            reminder = _whole_number(values, "reminder_minutes")
            await the_core.sites.set_thresholds(
                who.actor, site_id, failure=_whole_number(values, "failure_threshold"),
                success=_whole_number(values, "success_threshold"),
                reminder=None if reminder is None else reminder * 60, set_reminder=True,
            )  # fmt: skip
        if f"{ROUTE}_shown" in values:
            routed = [str(v) for v in (await request.form()).getlist(ROUTE)]
            await the_core.channels.route(who.actor, site_id, routed, replace=True)
    except NotFound:
        return not_found(request, who, f"No site with id {site_id}.")
    except Invalid as exc:
        errors = forms.errors_of(exc, EDIT_FIELDS)
        context.update(form=values, errors=errors)
        return render(request, "site.html", who, status=422, done=None, refused=None, **context)
    return RedirectResponse(f"/sites/{site_id}?done=saved", 303)


@router.post("/sites/{site_id}/{action}")
async def site_action(request: Request, site_id: int, action: str) -> Response:
    who = await viewer(request)
    values = await form_of(request, who)
    the_core = core(request)
    sites = the_core.sites
    try:
        if action in ("enable", "disable"):
            await sites.set_enabled(who.actor, [site_id], action == "enable")
        elif action in ("public", "private"):
            await sites.set_public(who.actor, site_id, action == "public")
        elif action == "delete":
            await sites.remove(who.actor, site_id)
            return RedirectResponse("/", 303)
        elif action == "clone":
            copy_id = await clone(sites, who.actor, site_id)
            return RedirectResponse(f"/sites/{copy_id}?done=cloned", 303)
        elif action == "check":
            region = values.get("region", "").strip() or None
            await the_core.tasks.check_site(who.actor, await sites.get(site_id), region)
        else:
            return Response(status_code=404)
    except NotFound:
        return not_found(request, who, f"No site with id {site_id}.")
    except (Invalid, Limited) as exc:
        context = await _site(request, site_id)
        if context is None:
            return not_found(request, who, f"No site with id {site_id}.")
        refused = f"{'Clone' if action == 'clone' else 'Check now'} refused: {exc}"
        return render(request, "site.html", who, status=422, done=None, refused=refused,
                      **context)  # fmt: skip
    return RedirectResponse(f"/sites/{site_id}?done={action}", 303)
