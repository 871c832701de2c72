"""`/api/v1/channels`, `/api/v1/incidents`, `/api/v1/notifications`, `/api/v1/windows`.

Channels decide where webmon connects and carry secrets: changing or testing them takes the
admin scope, and a secret is write-only. Maintenance windows silence alerts: adding or
removing one takes the admin scope too. The rules are the core's (`webmon.core.channels`,
`webmon.core.windows`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from webmon.api.auth import ADMIN, READ
from webmon.api.common import core, json_response
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import TestSent
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.core.actors import Actor
from webmon.core.channels import Channel, ChannelIn, ChannelPatch
from webmon.core.incidents import Incident, Notification
from webmon.core.windows import MAX_ID, Window, WindowIn

channels = APIRouter(prefix="/api/v1/channels", tags=["alerting"])
incidents = APIRouter(prefix="/api/v1/incidents", tags=["alerting"])
notifications = APIRouter(prefix="/api/v1/notifications", tags=["alerting"])
windows = APIRouter(prefix="/api/v1/windows", tags=["alerting"])
routers = (channels, incidents, notifications, windows)

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@channels.get(
    "",
    response_model=list[Channel],
    summary="Notification channels",
    description="URLs in full to admin keys only; below admin, each URL shows its scheme "
    "and host. A secret is never shown: `has_secret` says whether there is one.",
)
async def list_channels(request: Request, caller: Actor = READ) -> Response:
    return json_response(await core(request).channels.every(caller))


@channels.post("", status_code=201, response_model=Channel, summary="Add a channel")
async def create_channel(request: Request, channel: ChannelIn, caller: Actor = ADMIN) -> Response:
    added = await core(request).channels.add(caller, channel)
    return json_response(added, 201, {"Location": f"/api/v1/channels/{added.id}"})


@channels.get("/{channel_id}", response_model=Channel, summary="One channel")
async def get_channel(request: Request, channel_id: Id, caller: Actor = READ) -> Response:
    return json_response(await core(request).channels.get(channel_id, caller))


@channels.patch(
    "/{channel_id}",
    response_model=Channel,
    summary="Change a channel",
    description="A change of where the channel sends (a URL, or a mail server's host, port "
    "or security) takes its `secret` again, so that a stored secret cannot be sent elsewhere.",
)
async def update_channel(
    request: Request, channel_id: Id, patch: ChannelPatch, caller: Actor = ADMIN
) -> Response:
    changed = await core(request).channels.change(caller, channel_id, patch)
    return json_response(changed)


@channels.delete("/{channel_id}", status_code=204, summary="Delete a channel")
async def delete_channel(request: Request, channel_id: Id, caller: Actor = ADMIN) -> Response:
    await core(request).channels.remove(caller, channel_id)
    return Response(status_code=204)


@channels.post(
    "/{channel_id}/test",
    response_model=TestSent,
    summary="Send a test notification now; `sent` says whether the channel accepted it",
)
async def test_channel(request: Request, channel_id: Id, caller: Actor = ADMIN) -> Response:
    error = await core(request).channels.test(caller, channel_id)
    # The request did what was asked either way: whether the channel accepted it is the
    # answer, not an error of the API's own.
    return json_response({"sent": error is None, "channel_id": channel_id, "error": error})


@incidents.get("", response_model=list[Incident], summary="Incidents, newest first")
async def list_incidents(
    request: Request,
    caller: Actor = READ,
    state: Literal["open", "all"] = "all",
    site_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    before = None
    if cursor:
        at, iid = decode_cursor(cursor, 2)
        try:
            before = (datetime.fromisoformat(str(at)), int(iid))
        except (TypeError, ValueError):
            raise Problem(422, "cursor: not a cursor this API gave out") from None
    found = await core(request).incidents.page(
        open_only=state == "open", site_id=site_id, before=before, limit=limit + 1
    )
    more = len(found) > limit
    found = found[:limit]
    key = [found[-1].opened_at.isoformat(), found[-1].id] if more else None
    return json_response(found, headers=next_link(request, key))


@notifications.get(
    "",
    response_model=list[Notification],
    summary="Notifications, newest first (e.g. state=failed)",
)
async def list_notifications(
    request: Request,
    caller: Actor = READ,
    state: Literal["pending", "sent", "failed", "suppressed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    before_id = None
    if cursor:
        try:
            before_id = int(decode_cursor(cursor, 1)[0])
        except (TypeError, ValueError):
            raise Problem(422, "cursor: not a cursor this API gave out") from None
    found = await core(request).incidents.notifications(
        state=state, before_id=before_id, limit=limit + 1
    )
    more = len(found) > limit
    found = found[:limit]
    return json_response(found, headers=next_link(request, [found[-1].id] if more else None))


@windows.get(
    "", response_model=list[Window], summary="Maintenance windows, and whether each is on now"
)
async def list_windows(request: Request, caller: Actor = READ) -> Response:
    return json_response(await core(request).windows.every())


@windows.post(
    "", status_code=201, response_model=Window, summary="Add a maintenance window (admin scope)"
)
async def create_window(request: Request, window: WindowIn, caller: Actor = ADMIN) -> Response:
    added = await core(request).windows.add(caller, window)
    return json_response(added, 201, {"Location": f"/api/v1/windows/{added.id}"})


@windows.delete(
    "/{window_id}", status_code=204, summary="Delete a maintenance window (admin scope)"
)
async def delete_window(request: Request, window_id: Id, caller: Actor = ADMIN) -> Response:
    await core(request).windows.remove(caller, window_id)
    return Response(status_code=204)
