"""`/api/v1/channels`, `/api/v1/incidents`, `/api/v1/notifications`, `/api/v1/windows`.

Channels decide where webmon connects, and carry secrets: changing or testing them takes
the admin scope, and a secret is write-only (answers say only whether one is set). A
channel's URL is judged by the target policy like a site's, and an `apprise` channel,
which bypasses it, cannot be added through the API: only with the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from psycopg.types.json import Jsonb
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from notifier.payload import Channel
from notifier.trial import send_test_notification
from webmon.api.auth import ADMIN, READ, WRITE, Caller
from webmon.api.common import database, json_response, policy, refuse_blocked_literal
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.readmodel import ALERTING

channels = APIRouter(prefix="/api/v1/channels", tags=["alerting"])
incidents = APIRouter(prefix="/api/v1/incidents", tags=["alerting"])
notifications = APIRouter(prefix="/api/v1/notifications", tags=["alerting"])
windows = APIRouter(prefix="/api/v1/windows", tags=["alerting"])
routers = (channels, incidents, notifications, windows)

MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
TEST_TIMEOUT_S = 10.0
ApiKind = Literal["webhook", "slack", "discord", "telegram", "ntfy", "email"]
# A channel's config is flat: a URL, a chat id, SMTP host, port and addresses.
ConfigValue = (
    StrictBool
    | Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
    | Annotated[StrictStr, Field(max_length=2048)]
    | Annotated[list[Annotated[StrictStr, Field(max_length=320)]], Field(max_length=100)]
)
Config = Annotated[dict[Annotated[str, Field(min_length=1, max_length=100)], ConfigValue],
                   Field(max_length=50)]  # fmt: skip


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: ApiKind
    config: Config = Field(default_factory=dict)
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    is_default: bool = False
    enabled: bool = True


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    config: Config | None = None
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    is_default: bool | None = None
    enabled: bool | None = None


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    has_secret: bool
    is_default: bool
    enabled: bool
    created_at: datetime


def _in_utc_range(value: datetime) -> datetime:
    # 0001-01-01T00:01+01:00 is 1 BC in UTC: PostgreSQL stores it, psycopg cannot read it
    # back (a 500, schemathesis found it). Refused here as a 422.
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: years 1 to 9999 in UTC") from None
    return value


Moment = Annotated[datetime, AfterValidator(_in_utc_range)]


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: Moment
    duration_seconds: int = Field(ge=1, le=366 * 86400)
    recurrence: Literal["none", "daily", "weekly"] = "none"
    until: Moment | None = None


_URL_KEYS = ("url", "api_url")


def _shown_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    # A Slack or Discord webhook URL is itself a credential: only its host is shown.
    shown = dict(config)
    if kind in ("slack", "discord") and isinstance(shown.get("url"), str):
        shown["url"] = "/".join(shown["url"].split("/", 3)[:3]) + "/…"
    return shown


def channel_out(row: tuple[Any, ...]) -> dict[str, Any]:
    cid, name, kind, config, has_secret, default, enabled, created = row
    return {
        "id": cid, "name": name, "kind": kind, "config": _shown_config(kind, config),
        "has_secret": has_secret, "is_default": default, "enabled": enabled,
        "created_at": created,
    }  # fmt: skip


def _refuse_nul(field: str, value: Any) -> None:
    """PostgreSQL text and jsonb cannot hold a NUL character: a 422, not a refused row."""
    if isinstance(value, str) and "\x00" in value:
        raise Problem(422, f"{field}: contains a NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(f"{field}.{key}", key)
            _refuse_nul(f"{field}.{key}", item)
    if isinstance(value, list):
        for n, item in enumerate(value):
            _refuse_nul(f"{field}[{n}]", item)


def check_input(model: BaseModel) -> None:
    for field in model.model_fields_set:
        _refuse_nul(field, getattr(model, field))


def check_config(request: Request, config: dict[str, Any]) -> None:
    for key in _URL_KEYS:
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise Problem(422, f"config.{key}: an http(s) URL")
        refuse_blocked_literal(request, value, f"config.{key}")


async def _channel(request: Request, channel_id: int) -> dict[str, Any]:
    rows = await database(request).fetch(ALERTING["api_channels"], {"channel_id": channel_id})
    if not rows:
        raise Problem(404, f"no channel with id {channel_id}")
    return channel_out(rows[0])


@channels.get("", response_model=list[ChannelOut], summary="Notification channels")
async def list_channels(request: Request, caller: Caller = READ) -> Response:
    rows = await database(request).fetch(ALERTING["api_channels"], {"channel_id": None})
    return json_response([channel_out(r) for r in rows])


@channels.post("", status_code=201, response_model=ChannelOut, summary="Add a channel")
async def create_channel(request: Request, channel: ChannelIn, caller: Caller = ADMIN) -> Response:
    check_input(channel)
    check_config(request, channel.config)
    row = await database(request).fetchone(
        ALERTING["add_channel"],
        {
            "name": channel.name, "kind": channel.kind, "config": Jsonb(channel.config),
            "secret": channel.secret, "is_default": channel.is_default,
        },
    )  # fmt: skip
    assert row is not None
    body = await _channel(request, int(row[0]))
    return json_response(body, 201, {"Location": f"/api/v1/channels/{row[0]}"})


@channels.get("/{channel_id}", response_model=ChannelOut, summary="One channel")
async def get_channel(request: Request, channel_id: Id, caller: Caller = READ) -> Response:
    return json_response(await _channel(request, channel_id))


@channels.patch("/{channel_id}", response_model=ChannelOut, summary="Change a channel")
async def update_channel(
    request: Request, channel_id: Id, patch: ChannelPatch, caller: Caller = ADMIN
) -> Response:
    given = patch.model_fields_set
    check_input(patch)
    if patch.config is not None:
        check_config(request, patch.config)
    for field in ("name", "config", "is_default", "enabled"):
        if field in given and getattr(patch, field) is None:
            raise Problem(422, f"{field}: may not be null")
    row = await database(request).fetchone(
        ALERTING["api_update_channel"],
        {
            "channel_id": channel_id,
            "set_name": "name" in given, "name": patch.name,
            "set_config": "config" in given,
            "config": None if patch.config is None else Jsonb(patch.config),
            "set_secret": "secret" in given, "secret": patch.secret,
            "set_default": "is_default" in given, "is_default": patch.is_default,
            "set_enabled": "enabled" in given, "enabled": patch.enabled,
        },
    )  # fmt: skip
    if row is None:
        raise Problem(404, f"no channel with id {channel_id}")
    return json_response(await _channel(request, channel_id))


@channels.delete("/{channel_id}", status_code=204, summary="Delete a channel")
async def delete_channel(request: Request, channel_id: Id, caller: Caller = ADMIN) -> Response:
    row = await database(request).fetchone(
        ALERTING["api_delete_channel"], {"channel_id": channel_id}
    )
    if row is None:
        raise Problem(404, f"no channel with id {channel_id}")
    return Response(status_code=204)


@channels.post(
    "/{channel_id}/test",
    summary="Send a test notification now; `sent` says whether the channel accepted it",
)
async def test_channel(request: Request, channel_id: Id, caller: Caller = ADMIN) -> Response:
    row = await database(request).fetchone(
        ALERTING["api_channel_for_test"], {"channel_id": channel_id}
    )
    if row is None:
        raise Problem(404, f"no channel with id {channel_id}")
    channel = Channel(int(row[0]), row[1], row[2], row[3], row[4])
    if channel.kind == "apprise":
        raise Problem(422, "apprise channels bypass the target policy: test them with the CLI")
    error = await send_test_notification(channel, policy(request), TEST_TIMEOUT_S)
    # The request did what was asked either way: whether the channel accepted it is the
    # answer, not an error of the API's own.
    return json_response({"sent": error is None, "channel_id": channel.id, "error": error})


def _incident_out(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = (
        "id", "site_id", "url", "opened_at", "opening_slot", "opening_checked_at", "cause",
        "status_code", "error", "error_detail", "resolved_at", "resolving_slot",
        "resolving_checked_at",
    )  # fmt: skip
    return dict(zip(keys, row, strict=True))


@incidents.get("", summary="Incidents, newest first")
async def list_incidents(
    request: Request,
    caller: Caller = READ,
    state: Literal["open", "all"] = "all",
    site_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    before_at, before_id = None, None
    if cursor:
        at, iid = decode_cursor(cursor, 2)
        try:
            before_at, before_id = datetime.fromisoformat(str(at)), int(iid)
        except (TypeError, ValueError):
            raise Problem(422, "cursor: not a cursor this API gave out") from None
    rows = await database(request).fetch(
        ALERTING["api_incidents"],
        {
            "open_only": state == "open", "site_id": site_id, "before_at": before_at,
            "before_id": before_id, "limit": limit + 1,
        },
    )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    headers = next_link(request, [rows[-1][3].isoformat(), rows[-1][0]] if more else None)
    return json_response([_incident_out(r) for r in rows], headers=headers)


@notifications.get("", summary="Notifications, newest first (e.g. state=failed)")
async def list_notifications(
    request: Request,
    caller: Caller = READ,
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
    rows = await database(request).fetch(
        ALERTING["api_notifications"], {"state": state, "before_id": before_id, "limit": limit + 1}
    )
    more = len(rows) > limit
    rows = rows[:limit]
    keys = (
        "id", "idempotency_key", "channel_id", "site_id", "incident_id", "event", "state",
        "attempts", "created_at", "event_at", "next_attempt_at", "sent_at", "last_error",
    )  # fmt: skip
    headers = next_link(request, [rows[-1][0]] if more else None)
    return json_response([dict(zip(keys, r, strict=True)) for r in rows], headers=headers)


def _window_out(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = (
        "id", "name", "site_id", "tag", "starts_at", "duration_seconds", "recurrence", "until",
        "active",
    )  # fmt: skip
    return dict(zip(keys, row, strict=True))


@windows.get("", summary="Maintenance windows, and whether each is on now")
async def list_windows(request: Request, caller: Caller = READ) -> Response:
    rows = await database(request).fetch(ALERTING["api_windows"], {"window_id": None})
    return json_response([_window_out(r) for r in rows])


@windows.post("", status_code=201, summary="Add a maintenance window")
async def create_window(request: Request, window: WindowIn, caller: Caller = WRITE) -> Response:
    check_input(window)
    if window.site_id is not None and window.tag is not None:
        raise Problem(422, "site_id and tag: one or neither (all sites)")
    row = await database(request).fetchone(
        ALERTING["add_window"],
        {
            "name": window.name, "site_id": window.site_id, "tag": window.tag,
            "starts_at": window.starts_at, "duration": window.duration_seconds,
            "recurrence": window.recurrence, "until": window.until,
        },
    )  # fmt: skip
    assert row is not None
    rows = await database(request).fetch(ALERTING["api_windows"], {"window_id": row[0]})
    return json_response(_window_out(rows[0]), 201, {"Location": f"/api/v1/windows/{row[0]}"})


@windows.delete("/{window_id}", status_code=204, summary="Delete a maintenance window")
async def delete_window(request: Request, window_id: Id, caller: Caller = WRITE) -> Response:
    row = await database(request).fetchone(ALERTING["remove_window"], {"id": window_id})
    if row is None:
        raise Problem(404, f"no window with id {window_id}")
    return Response(status_code=204)
