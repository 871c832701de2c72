"""The dashboard's alerting page: open and recent incidents, the channels (add one that
posts to a URL, test, remove) and the maintenance windows (add, remove). The channels
that need more than a URL (Telegram, e-mail, apprise) are added with the CLI or the API.
What is posted goes through the same checks as the API: the models, the target policy
for a channel's URL, and PostgreSQL's constraints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from notifier.payload import Channel
from notifier.trial import send_test_notification
from shared.errors import DatabaseError
from webmon.api.common import database, policy
from webmon.api.problems import Problem
from webmon.api.routes.alerting import (
    TEST_TIMEOUT_S,
    ChannelIn,
    WindowIn,
    channel_out,
    check_config,
    check_input,
)
from webmon.readmodel import ALERTING
from webmon.web.views import form_of, render, user

router = APIRouter(include_in_schema=False)

SHOWN = 50


async def _incidents(request: Request, open_only: bool) -> list[dict[str, Any]]:
    rows = await database(request).fetch(
        ALERTING["api_incidents"],
        {"open_only": open_only, "site_id": None, "before_at": None, "before_id": None,
         "limit": SHOWN},
    )  # fmt: skip
    now = datetime.now(UTC)
    return [
        {
            "id": r[0], "site_id": r[1], "url": r[2], "opened_at": r[3], "cause": r[6],
            "status_code": r[7], "error": r[8], "detail": r[9], "resolved_at": r[10],
            "lasted": (r[10] or now) - r[3],
        }
        for r in rows
    ]  # fmt: skip


URL_KINDS = ("webhook", "slack", "discord", "ntfy")


@router.get("/alerts")
async def alerts_page(request: Request) -> Response:
    return await _page(request)


async def _page(request: Request, error: str | None = None, status: int = 200) -> Response:
    who = await user(request)
    db = database(request)
    channels = [
        channel_out(r) for r in await db.fetch(ALERTING["api_channels"], {"channel_id": None})
    ]
    windows = await db.fetch(ALERTING["api_windows"], {"window_id": None})
    tested_id = request.query_params.get("tested", "")
    tested = next((c["name"] for c in channels if str(c["id"]) == tested_id), None)
    return render(
        request,
        "alerts.html",
        who,
        open_incidents=await _incidents(request, True),
        incidents=await _incidents(request, False),
        channels=channels,
        windows=windows,
        tested=tested,
        test_error=request.query_params.get("error"),
        form_error=error,
        kinds=URL_KINDS,
        status=status,
    )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e.get("loc", ()))
        return f"{where}: {e.get('msg', 'invalid')}".removeprefix(": ")
    if isinstance(exc, Problem):
        return exc.detail
    return str(exc)


@router.post("/alerts/channels")
async def add_channel(request: Request) -> Response:
    form = await form_of(request, await user(request))
    try:
        if form.get("kind") not in URL_KINDS:
            raise Problem(422, f"kind: one of {', '.join(URL_KINDS)} (others: the CLI or API)")
        channel = ChannelIn(
            name=form.get("name", "").strip(),
            kind=form["kind"],  # type: ignore[arg-type]
            config={"url": form.get("url", "").strip()},
            secret=form.get("secret") or None,
            is_default=form.get("is_default") == "on",
        )
        check_input(channel)
        check_config(request, channel.config)
        await database(request).fetchone(
            ALERTING["add_channel"],
            {"name": channel.name, "kind": channel.kind, "config": Jsonb(channel.config),
             "secret": channel.secret, "is_default": channel.is_default},
        )  # fmt: skip
    except (ValidationError, Problem, DatabaseError) as exc:
        return await _page(request, f"The channel was not added: {_first_error(exc)}", 422)
    return RedirectResponse("/alerts#channels", 303)


@router.post("/alerts/channels/{channel_id}/remove")
async def remove_channel(request: Request, channel_id: int) -> Response:
    await form_of(request, await user(request))
    await database(request).fetchone(ALERTING["api_delete_channel"], {"channel_id": channel_id})
    return RedirectResponse("/alerts#channels", 303)


@router.post("/alerts/windows")
async def add_window(request: Request) -> Response:
    form = await form_of(request, await user(request))
    covers = form.get("covers", "all").strip()
    try:
        starts = datetime.fromisoformat(form.get("starts_at", "")).replace(tzinfo=UTC)
        window = WindowIn(
            name=form.get("name", "").strip(),
            site_id=int(covers.removeprefix("site:")) if covers.startswith("site:") else None,
            tag=covers.removeprefix("tag:") if covers.startswith("tag:") else None,
            starts_at=starts,
            duration_seconds=int(float(form.get("duration_minutes", "0")) * 60),
            recurrence=form.get("recurrence", "none"),  # type: ignore[arg-type]
        )
        check_input(window)
        await database(request).fetchone(
            ALERTING["add_window"],
            {"name": window.name, "site_id": window.site_id, "tag": window.tag,
             "starts_at": window.starts_at, "duration": window.duration_seconds,
             "recurrence": window.recurrence, "until": None},
        )  # fmt: skip
    except (ValidationError, Problem, DatabaseError, ValueError) as exc:
        return await _page(request, f"The window was not added: {_first_error(exc)}", 422)
    return RedirectResponse("/alerts#windows", 303)


@router.post("/alerts/windows/{window_id}/remove")
async def remove_window(request: Request, window_id: int) -> Response:
    await form_of(request, await user(request))
    await database(request).fetchone(ALERTING["remove_window"], {"id": window_id})
    return RedirectResponse("/alerts#windows", 303)


@router.post("/alerts/channels/{channel_id}/test")
async def test_channel(request: Request, channel_id: int) -> Response:
    who = await user(request)
    await form_of(request, who)
    row = await database(request).fetchone(
        ALERTING["api_channel_for_test"], {"channel_id": channel_id}
    )
    if row is None:
        return render(request, "error.html", who, status=404, message=f"No channel {channel_id}.")
    channel = Channel(int(row[0]), row[1], row[2], row[3], row[4])
    if channel.kind == "apprise":
        error: str | None = (
            "apprise bypasses the target policy: test it with `webmon channels test`"
        )
    else:
        error = await send_test_notification(channel, policy(request), TEST_TIMEOUT_S)
    query = {"tested": channel_id, **({"error": error} if error else {})}
    return RedirectResponse(f"/alerts?{urlencode(query)}#channels", 303)
