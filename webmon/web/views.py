"""The dashboard's pages. Routes are thin: read the request, ask the read model, render.

Every page reads without JavaScript; htmx swaps the parts that change (`/ui/...` partials,
polled every few seconds) and uPlot draws the site page's chart from the data embedded in
the page. A logged-out visitor sees only /login, /status and the badges.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from webmon.api.common import database
from webmon.api.problems import CONSTRAINTS
from webmon.api.routes.history import PERIODS
from webmon.api.schemas import STATUS_NAMES, SiteIn, SitePatch, TaskIn, site_out, task_out
from webmon.readmodel import DASHBOARD, HISTORY, SITE_HISTORY, SITES, TASKS
from webmon.sites import CONSTRAINT_FIELDS, create_params, update_params
from webmon.submit import Submitter, TaskRefused, accept_task
from webmon.targets import blocked_literal
from webmon.web import forms
from webmon.web.render import Pages
from webmon.web.sessions import (
    COOKIE,
    SESSION_MAX_AGE_S,
    SessionSigner,
    check_dummy,
    link_hash,
    load_secret,
    same,
    verify_password,
)

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
TLS_SOON = timedelta(days=21)
# Failed logins allowed per client address in a window, then 429 until it passes.
LOGIN_FAILURES = 10
LOGIN_WINDOW_S = 300.0


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


class User:
    def __init__(self, user_id: int, name: str, csrf: str) -> None:
        self.id, self.name, self.csrf = user_id, name, csrf


def _pages(request: Request) -> Pages:
    return request.app.state.pages  # type: ignore[no-any-return]


async def _signer(request: Request) -> SessionSigner:
    """The dashboard's signer, with the key shared through the database (read once)."""
    state = request.app.state
    if getattr(state, "signer", None) is None:
        state.signer = SessionSigner(await load_secret(database(request)))
    return state.signer  # type: ignore[no-any-return]


async def _session_user(request: Request) -> User | None:
    session = (await _signer(request)).read(request.cookies.get(COOKIE))
    if session is None:
        return None
    row = await database(request).fetchone(DASHBOARD["user_by_id"], {"user_id": session.user_id})
    return None if row is None else User(int(row[0]), str(row[1]), session.csrf)


async def user(request: Request) -> User:
    """The logged-in user, or LoginRequired (a redirect to /login)."""
    found = await _session_user(request)
    if found is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return found


async def form_of(request: Request, who: User) -> dict[str, str]:
    """The posted form, after its CSRF token was checked (403 otherwise)."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    token = values.get("csrf") or request.headers.get("x-csrf-token", "")
    if not same(token, who.csrf):
        raise forms.Forbidden("the form's CSRF token is missing or wrong; reload the page")
    return values


def render(
    request: Request, template: str, who: User | None = None, **context: Any
) -> HTMLResponse:
    status = int(context.pop("status", 200))
    return _pages(request).render(request, template, status=status, user=who, **context)


# --- login -----------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    if await _session_user(request) is not None:
        return RedirectResponse(forms.safe_next(next), 303)
    return render(request, "login.html", next=forms.safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = forms.safe_next(str(form.get("next", "/")))
    client = request.client.host if request.client else "?"
    limiter: forms.FailureLimiter = request.app.state.login_failures
    if limiter.blocked(client):
        return render(
            request,
            "login.html",
            next=target,
            status=429,
            error="Too many failed logins from here; wait a few minutes.",
        )
    row = (
        await database(request).fetchone(DASHBOARD["user_by_name"], {"name": name})
        if name
        else None
    )
    if row is None:
        await run_in_threadpool(check_dummy, password)  # as slow as a wrong password
        ok, rehash = False, None
    else:
        ok, rehash = await run_in_threadpool(verify_password, str(row[2]), password)
    if not ok or row is None:
        limiter.failed(client)
        logger.info("dashboard.login_failed name=%s client=%s", name[:100], client)
        return render(
            request, "login.html", next=target, status=401, error="Wrong user name or password."
        )
    if rehash is not None:
        await database(request).fetchone(
            DASHBOARD["rehash_user"], {"user_id": row[0], "password_hash": rehash}
        )
    logger.info("dashboard.login user=%s", row[1])
    return await _logged_in(request, int(row[0]), target)


@router.get("/login/once/{token}")
async def login_once(request: Request, token: str) -> Response:
    row = await database(request).fetchone(
        DASHBOARD["use_login_link"], {"sha256": link_hash(token)}
    )
    if row is None:
        return render(
            request,
            "login.html",
            next="/",
            status=401,
            error="That login link was used already or has expired.",
        )
    logger.info("dashboard.login_link user_id=%s", row[0])
    return await _logged_in(request, int(row[0]), "/")


async def _logged_in(request: Request, user_id: int, target: str) -> Response:
    signed = (await _signer(request)).issue(user_id)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE,
        signed,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = await user(request)
    await form_of(request, who)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- overview --------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    query = request.query_params
    state = query.get("state") or None
    if state not in (None, "up", "down", "unchecked", "disabled"):
        state = None
    q = (query.get("q") or "").strip()[:200] or None
    if q is not None and "\x00" in q:
        q = None
    after = query.get("after", "")
    return {"state": state, "q": q, "after": int(after) if after.isdigit() else 0}


async def _overview(request: Request) -> dict[str, Any]:
    f = _filters(request)
    db = database(request)
    enabled = False if f["state"] == "disabled" else None
    state = None if f["state"] == "disabled" else f["state"]
    async with db.connection() as conn:
        cur = await conn.execute(SITES["status_summary"])
        up, down, unchecked, disabled = await cur.fetchone() or (0, 0, 0, 0)
        cur = await conn.execute(DASHBOARD["down_now_page"])
        down_now = await cur.fetchall()
        cur = await conn.execute(
            SITES["api_sites"],
            {
                "after": f["after"],
                "site_id": None,
                "enabled": enabled,
                "state": state,
                "q": f["q"],
                "limit": PAGE_SIZE + 1,
            },
        )
        rows = await cur.fetchall()
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        extras: dict[int, tuple[Any, ...]] = {}
        if rows:
            cur = await conn.execute(
                DASHBOARD["overview_extras"], {"site_ids": [r[0] for r in rows]}
            )
            extras = {int(r[0]): r[1:] for r in await cur.fetchall()}
    now = datetime.now(UTC)
    hours = [(now - timedelta(hours=23 - k)).strftime("%H:00 UTC") for k in range(24)]
    sites = []
    for row in rows:
        site = site_out(row)
        up24, up30, bars = extras.get(site["id"], (None, None, [None] * 24))
        status = site["status"] or {}
        expires = status.get("tls_expires_at")
        site.update(
            up24=up24,
            up30=up30,
            bars=bars,
            tls_soon=expires is not None and expires - now < TLS_SOON,
            tls_expires_at=expires,
        )
        sites.append(site)
    next_query = None
    if more:
        params = {k: v for k, v in (("q", f["q"]), ("state", f["state"])) if v}
        next_query = "?" + urlencode({**params, "after": rows[-1][0]})
    return {
        "counts": {"up": up, "down": down, "unchecked": unchecked, "disabled": disabled},
        "down_now": down_now,
        "sites": sites,
        "hours": hours,
        "filters": f,
        "next_query": next_query,
        "live_query": request.url.query,
    }


@router.get("/")
async def overview(request: Request) -> Response:
    who = await user(request)
    return render(request, "overview.html", who, **await _overview(request))


@router.get("/ui/overview")
async def overview_live(request: Request) -> Response:
    who = await user(request)
    return render(request, "_overview_live.html", who, **await _overview(request))


# --- one site --------------------------------------------------------------------------


async def _site(request: Request, site_id: int) -> dict[str, Any] | None:
    since = request.query_params.get("since", "24h")
    if since not in ("24h", "7d", "30d", "1y"):
        since = "24h"
    step = "hour" if since in ("24h", "7d") else "day"
    db = database(request)
    async with db.connection() as conn:
        cur = await conn.execute(
            SITES["api_sites"],
            {"after": 0, "site_id": site_id, "enabled": None, "state": None, "q": None, "limit": 1},
        )
        row = await cur.fetchone()
        if row is None:
            return None
        period = {"site_id": site_id, "since": PERIODS[since]}
        cur = await conn.execute(SITE_HISTORY["series"], {**period, "step": step})
        series = await cur.fetchall()
        cur = await conn.execute(HISTORY["uptime"], period)
        uptime = await cur.fetchone()
        cur = await conn.execute(DASHBOARD["daily_uptime"], {"site_id": site_id, "days": 90})
        days = await cur.fetchall()
        cur = await conn.execute(
            SITE_HISTORY["site_events_page"],
            {"site_id": site_id, "before": datetime(9999, 1, 1, tzinfo=UTC), "limit": 20},
        )
        events = await cur.fetchall()
        now = datetime.now(UTC)
        cur = await conn.execute(
            SITE_HISTORY["site_results"],
            {
                "site_id": site_id,
                "since": now - timedelta(days=2),
                "until": now + timedelta(minutes=1),
                "before": now + timedelta(minutes=1),
                "limit": 20,
            },
        )
        checks = await cur.fetchall()
    site = site_out(row)
    changes = []
    newer: datetime | None = None
    for _slot, checked_at, from_up, to_up, code, error, detail in events:
        lasted = (newer or now) - checked_at
        changes.append(
            {
                "at": checked_at,
                "to_up": to_up,
                "from_up": from_up,
                "code": code,
                "error": error,
                "detail": detail,
                "lasted": lasted,
                "ongoing": newer is None,
            }
        )
        newer = checked_at
    chart = {
        "t": [int(r[0].timestamp()) for r in series],
        "avg": [r[5] for r in series],
        "p50": [r[6] for r in series],
        "p95": [r[7] for r in series],
        "uptime": [r[4] for r in series],
        "step": step,
        # The x axis spans the period asked for, however few points it has.
        "from": int((now - PERIODS[since]).timestamp()),
        "to": int(now.timestamp()),
        "phase_from": int((now - timedelta(days=1)).timestamp()),
    }
    phases = await _phases(db, site_id, since)
    chart.update(phases)
    return {
        "site": site,
        "since": since,
        "chart_json": orjson.dumps(chart).decode(),
        "points": len(series),
        "uptime": uptime,
        "day_values": [d[2] for d in days],
        "day_labels": [f"{d[0]:%Y-%m-%d}: {d[1] or 0} checks" for d in days],
        "changes": changes,
        "checks": checks,
        "badge_token": (await _signer(request)).badge_token(site_id),
        "form": forms.site_form(site),
        "errors": {},
    }


async def _phases(db: AsyncDatabase, site_id: int, since: str) -> dict[str, list[Any]]:
    """dns, connect, tls, ttfb averages per bucket over the last day, from the raw rows
    (the rollups keep response times, not phases): stacked in the chart where present."""
    if since != "24h":
        return {}
    rows = await db.fetch(DASHBOARD["phases_24h"], {"site_id": site_id})
    return {
        "phase_t": [int(r[0].timestamp()) for r in rows],
        "dns": [r[1] for r in rows],
        "connect": [r[2] for r in rows],
        "tls": [r[3] for r in rows],
        "ttfb": [r[4] for r in rows],
    }


def _site_new(
    request: Request,
    who: User,
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
        form=forms.site_form(None) if form is None else form,
        errors=errors or {},
        bulk=bulk,
        bulk_error=bulk_error,
        status=422 if refused else 200,
    )


@router.get("/sites/new")
async def new_site_page(request: Request) -> Response:
    return _site_new(request, await user(request))


@router.post("/sites/new")
async def new_site(request: Request) -> Response:
    who = await user(request)
    values = await form_of(request, who)
    try:
        site = SiteIn(**forms.site_fields(values, new=True))
    except (ValidationError, forms.FieldError) as exc:
        return _site_new(request, who, form=values, errors=forms.errors_of(exc))
    host = blocked_literal(request.app.state.policy, site.url)
    if host is not None:
        errors = {"url": f"{host} is in a blocked network (WEBMON_BLOCKED_NETWORKS)"}
        return _site_new(request, who, form=values, errors=errors)
    try:
        row = await database(request).fetchone(SITES["api_create_site"], create_params(site))
    except DatabaseError as exc:
        return _site_new(request, who, form=values, errors=_constraint_errors(exc))
    assert row is not None
    return RedirectResponse(f"/sites/{row[0]}", 303)


@router.post("/sites/import")
async def import_sites(request: Request) -> Response:
    """Many sites at once: one URL per line, or CSV with a header row (url,
    interval_seconds, timeout_seconds, regex), pasted or uploaded; all or none."""
    who = await user(request)
    form = await request.form()
    token = str(form.get("csrf", ""))
    if not same(token, who.csrf):
        raise forms.Forbidden("the form's CSRF token is missing or wrong; reload the page")
    text = str(form.get("bulk", ""))
    upload = form.get("file")
    if upload is not None and not isinstance(upload, str):
        text = (await upload.read()).decode("utf-8-sig", "replace") or text

    def refused(message: str) -> Response:
        return _site_new(request, who, bulk=text, bulk_error=message)

    try:
        sites = forms.bulk_sites(text)
    except forms.FieldError as exc:
        return refused(str(exc))
    for n, site in sites:
        host = blocked_literal(request.app.state.policy, site.url)
        if host is not None:
            return refused(f"line {n}: {host} is in a blocked network")
    db = database(request)
    line = 0
    try:
        async with db.connection() as conn, conn.transaction():
            for n, site in sites:  # a few hundred lines from a form: one transaction
                line = n  # the line a refusal names
                await conn.execute(SITES["api_create_site"], create_params(site))
    except DatabaseError as exc:
        if not exc.integrity:  # PostgreSQL down or the like: not about one line
            raise
        name = exc.constraint or ""
        words = CONSTRAINTS.get(name, str(exc))
        return refused(f"line {line}: {words} ({name}); nothing was imported")
    return RedirectResponse(f"/?{urlencode({'state': 'unchecked'})}", 303)


@router.get("/sites/{site_id}")
async def site_page(request: Request, site_id: int) -> Response:
    who = await user(request)
    context = await _site(request, site_id)
    if context is None:
        return render(request, "error.html", who, status=404, message=f"No site with id {site_id}.")
    return render(request, "site.html", who, **context)


@router.get("/ui/sites/{site_id}")
async def site_live(request: Request, site_id: int) -> Response:
    who = await user(request)
    context = await _site(request, site_id)
    if context is None:
        return Response(status_code=404)
    return render(request, "_site_live.html", who, **context)


@router.post("/sites/{site_id}/edit")
async def edit_site(request: Request, site_id: int) -> Response:
    who = await user(request)
    values = await form_of(request, who)
    context = await _site(request, site_id)
    if context is None:
        return render(request, "error.html", who, status=404, message=f"No site with id {site_id}.")
    try:
        patch = SitePatch(**forms.site_fields(values, new=False))
        if patch.url is not None and (host := blocked_literal(request.app.state.policy, patch.url)):
            raise forms.FieldError("url", f"{host} is in a blocked network")
        row = await database(request).fetchone(
            SITES["api_update_site"], update_params(site_id, patch)
        )
    except (ValidationError, forms.FieldError) as exc:
        return render(
            request,
            "site.html",
            who,
            **{**context, "form": values, "errors": forms.errors_of(exc)},
            status=422,
        )
    except DatabaseError as exc:
        return render(
            request,
            "site.html",
            who,
            **{**context, "form": values, "errors": _constraint_errors(exc)},
            status=422,
        )
    if row is None:
        return render(request, "error.html", who, status=404, message=f"No site with id {site_id}.")
    return RedirectResponse(f"/sites/{site_id}", 303)


@router.post("/sites/{site_id}/{action}")
async def site_action(request: Request, site_id: int, action: str) -> Response:
    who = await user(request)
    await form_of(request, who)
    db = database(request)
    if action in ("enable", "disable"):
        patch = SitePatch(enabled=action == "enable")
        row = await db.fetchone(SITES["api_update_site"], update_params(site_id, patch))
    elif action in ("public", "private"):
        row = await db.fetchone(
            DASHBOARD["set_public"], {"site_id": site_id, "public": action == "public"}
        )
    elif action == "delete":
        row = await db.fetchone(SITES["api_delete_site"], {"site_id": site_id})
        if row is not None:
            return RedirectResponse("/", 303)
    else:
        return Response(status_code=404)
    if row is None:
        return render(request, "error.html", who, status=404, message=f"No site with id {site_id}.")
    return RedirectResponse(f"/sites/{site_id}", 303)


def _constraint_errors(exc: DatabaseError) -> dict[str, str]:
    name = exc.constraint or ""
    words = CONSTRAINTS.get(name, str(exc))
    return {CONSTRAINT_FIELDS.get(name, "url"): f"{words[0].upper()}{words[1:]}."}


# --- tasks -----------------------------------------------------------------------------


async def _tasks(request: Request) -> list[dict[str, Any]]:
    rows = await database(request).fetch(
        TASKS["list_tasks"],
        {
            "before_at": datetime(9999, 1, 1, tzinfo=UTC),
            "before_id": "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "status": None,
            "limit": 30,
        },
    )
    return [task_out(r) for r in rows]


def _tasks_context(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tasks": tasks, "live": any(t["status"] < 3 for t in tasks), "names": STATUS_NAMES}


@router.get("/tasks")
async def tasks_page(request: Request) -> Response:
    who = await user(request)
    return render(
        request, "tasks.html", who, form={}, errors={}, **_tasks_context(await _tasks(request))
    )


@router.get("/ui/tasks")
async def tasks_live(request: Request) -> Response:
    who = await user(request)
    return render(request, "_tasks_rows.html", who, **_tasks_context(await _tasks(request)))


@router.post("/tasks")
async def submit_task(request: Request) -> Response:
    who = await user(request)
    values = await form_of(request, who)
    url = values.get("url", "").strip()
    try:
        task = TaskIn(**forms.task_fields(values))
        await accept_task(
            database(request),
            request.app.state.settings,
            request.app.state.policy,
            Submitter(user_id=who.id),
            task,
        )
    except (ValidationError, forms.FieldError) as exc:
        errors = forms.errors_of(exc)
    except TaskRefused as refused:
        errors = {refused.about or "url": refused.detail.split(": ", 1)[-1]}
    else:
        return RedirectResponse("/tasks", 303)
    context = _tasks_context(await _tasks(request))
    return render(
        request,
        "tasks.html",
        who,
        form={**values, "url": url},
        errors=errors,
        status=422,
        **context,
    )


# --- public ----------------------------------------------------------------------------


@router.get("/status")
async def status_page(request: Request) -> Response:
    db = database(request)
    rows = await db.fetch(DASHBOARD["public_sites"])
    sites = []
    for site_id, url, up, checked_at in rows:
        days = await db.fetch(DASHBOARD["daily_uptime"], {"site_id": site_id, "days": 90})
        checks = sum(d[1] or 0 for d in days)
        up_share = [d[2] for d in days]
        total_up = sum((d[2] or 0) * (d[1] or 0) for d in days)
        sites.append(
            {
                "id": site_id,
                "url": url,
                "up": up,
                "checked_at": checked_at,
                "days": up_share,
                "labels": [f"{d[0]:%Y-%m-%d}" for d in days],
                "uptime": total_up / checks if checks else None,
            }
        )
    who = await _session_user(request)
    return render(request, "status.html", who, sites=sites)


@router.get("/badge/{site_id}/{kind}.svg")
async def badge(request: Request, site_id: int, kind: str, token: str = "") -> Response:
    expected = (await _signer(request)).badge_token(site_id)
    if kind not in ("status", "uptime") or not same(token, expected):
        return Response(status_code=404)
    db = database(request)
    if kind == "status":
        row = await db.fetchone(
            SITES["api_sites"],
            {"after": 0, "site_id": site_id, "enabled": None, "state": None, "q": None, "limit": 1},
        )
        if row is None:
            return Response(status_code=404)
        status = site_out(row)["status"]
        up = None if status is None else status["up"]
        value, colour = (
            ("unknown", "#8a8f98")
            if up is None
            else (("up", "#1f883d") if up else ("down", "#cf222e"))
        )
        label = "status"
    else:
        uptime = await db.fetchone(
            HISTORY["uptime"], {"site_id": site_id, "since": timedelta(days=30)}
        )
        pct = None if uptime is None or uptime[2] is None else float(uptime[2])
        value = "—" if pct is None else f"{pct:.2f}%"
        colour = (
            "#8a8f98"
            if pct is None
            else ("#1f883d" if pct >= 99.9 else ("#bf8700" if pct >= 99 else "#cf222e"))
        )
        label = "uptime 30d"
    svg = forms.badge_svg(label, value, colour)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=60"})


def install(app: FastAPI) -> None:
    """Add the dashboard to the API's application."""
    from webmon.web import alerts  # it builds on this module's helpers

    app.state.pages = Pages()
    app.state.login_failures = forms.FailureLimiter(LOGIN_FAILURES, LOGIN_WINDOW_S)
    app.include_router(router)
    app.include_router(alerts.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = "/login?" + urlencode({"next": exc.path})
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, 303)

    @app.exception_handler(forms.Forbidden)
    async def _forbidden(request: Request, exc: forms.Forbidden) -> Response:
        who = await _session_user(request)
        return render(request, "error.html", who, status=403, message=str(exc))
