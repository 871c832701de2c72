"""The dashboard's alerting page: open and recent incidents, the channels with a test
button, and the maintenance windows. Channels and windows are added with the CLI or the
API (`webmon channels add`, `POST /api/v1/channels`); here they are seen and tried."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from notifier.payload import Channel
from notifier.trial import send_test_notification
from webmon.api.common import policy
from webmon.api.routes.alerting import TEST_TIMEOUT_S, channel_out
from webmon.readmodel import ALERTING
from webmon.web.views import _db, form_of, render, user

router = APIRouter(include_in_schema=False)

SHOWN = 50


async def _incidents(request: Request, open_only: bool) -> list[dict[str, Any]]:
    rows = await _db(request).fetch(
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


@router.get("/alerts")
async def alerts_page(request: Request) -> Response:
    who = await user(request)
    db = _db(request)
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
    )


@router.post("/alerts/channels/{channel_id}/test")
async def test_channel(request: Request, channel_id: int) -> Response:
    who = await user(request)
    await form_of(request, who)
    row = await _db(request).fetchone(ALERTING["api_channel_for_test"], {"channel_id": channel_id})
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
