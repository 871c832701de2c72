"""`/api/v1/sites/{id}/…`: results, uptime, series and events of one site."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from shared.messages.bounds import REGION_PATTERN
from webmon.api.auth import READ
from webmon.api.common import core, json_response
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import Series, Uptime
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.core import Core
from webmon.core.actors import Actor
from webmon.core.history import EARLIEST, LATEST
from webmon.core.history_records import Check, Event
from webmon.core.history_records import Uptime as UptimeRow
from webmon.core.sites import MAX_SITE_ID

router = APIRouter(prefix="/api/v1/sites/{site_id}", tags=["history"])

SiteId = Annotated[int, Path(ge=1, le=MAX_SITE_ID)]
Period = Literal["1h", "24h", "7d", "30d", "90d", "1y"]
PERIODS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}
RegionFilter = Annotated[
    str | None,
    Query(pattern=REGION_PATTERN, description="one region's checks only; default: every region"),
]
UPTIME_FIELDS = tuple(f.name for f in fields(UptimeRow))
SERIES_FIELDS = ("t", "checks", "up_checks", "missed", "uptime_pct", "avg_ms", "p50_ms", "p95_ms")


def _aware(moment: datetime | None, default: datetime, name: str) -> datetime:
    if moment is None:
        return default
    if moment.tzinfo is None:
        raise Problem(422, f"{name}: give a time zone (e.g. 2026-12-01T10:00:00Z)")
    return max(EARLIEST, min(LATEST, moment))


def _cursor_check(cursor: str | None) -> tuple[datetime, str | None]:
    """The check a page ends with: its slot and region (a cursor given out before regions
    names the slot only)."""
    if not cursor:
        return LATEST, None
    try:
        parts = decode_cursor(cursor, 2)
    except Problem:
        parts = [*decode_cursor(cursor, 1), None]
    region = parts[1]
    if region is not None and not isinstance(region, str):
        raise Problem(422, "cursor: not a cursor this API gave out")
    try:
        moment = datetime.fromisoformat(str(parts[0]))
    except ValueError:
        raise Problem(422, "cursor: not a cursor this API gave out") from None
    return _aware(moment, LATEST, "cursor"), region


def _cursor_time(cursor: str | None) -> datetime:
    if not cursor:
        return LATEST
    try:
        moment = datetime.fromisoformat(str(decode_cursor(cursor, 1)[0]))
    except ValueError:
        raise Problem(422, "cursor: not a cursor this API gave out") from None
    return _aware(moment, LATEST, "cursor")


@router.get("/results", response_model=list[Check], summary="Checks, newest first")
async def results(
    request: Request,
    site_id: SiteId,
    caller: Actor = READ,
    since: Annotated[datetime | None, Query(description="default: a day ago")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    region: RegionFilter = None,
) -> Response:
    now = datetime.now(UTC)
    start = _aware(since, now - timedelta(days=1), "since")
    end = _aware(until, now + timedelta(minutes=1), "until")
    before, before_region = _cursor_check(cursor)
    checks = await core(request).history.checks(
        site_id, since=start, until=end, before=before, limit=limit + 1, region=region,
        before_region=before_region,
    )  # fmt: skip
    more = len(checks) > limit
    checks = checks[:limit]
    last = [checks[-1].scheduled_at.isoformat(), checks[-1].region] if more else None
    headers = next_link(request, last)
    return json_response(checks, headers=headers)


class UptimeQuery(BaseModel):
    """The query of `GET /api/v1/sites/{id}/uptime`: the route's parser, and the hot
    read's (`webmon.api.hot_reads`)."""

    since: Period = "24h"
    region: str | None = Field(
        None, pattern=REGION_PATTERN, description="one region's checks only; default: every region"
    )


@router.get("/uptime", response_model=Uptime, summary="Uptime and latency over a period")
async def uptime(
    request: Request,
    site_id: SiteId,
    query: Annotated[UptimeQuery, Query()],
    caller: Actor = READ,
) -> Response:
    return await uptime_of(core(request), site_id, query)


async def uptime_of(the_core: Core, site_id: int, query: UptimeQuery) -> Response:
    found = await the_core.history.uptime(site_id, PERIODS[query.since], query.region)
    # Field by field (orjson writes the regions' and advisories' dataclasses itself): a
    # tenth of asdict's cost, which copies recursively.
    body = {name: getattr(found, name) for name in UPTIME_FIELDS}
    return json_response({"since": query.since, "region": query.region, **body})


@router.get("/series", response_model=Series, summary="Per hour or day, columns as arrays")
async def series(
    request: Request,
    site_id: SiteId,
    caller: Actor = READ,
    since: Period = "24h",
    step: Literal["hour", "day"] = "hour",
    region: RegionFilter = None,
) -> Response:
    found = await core(request).history.series(site_id, PERIODS[since], step, region)
    columns = {name: [getattr(b, name) for b in found.buckets] for name in SERIES_FIELDS}
    return json_response({"step": step, "region": region, "by_quorum": found.by_quorum,
                          "quorum_from": found.quorum_from, **columns})  # fmt: skip


@router.get("/events", response_model=list[Event], summary="State changes, newest first")
async def events(
    request: Request,
    site_id: SiteId,
    caller: Actor = READ,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    found = await core(request).history.events(
        site_id, before=_cursor_time(cursor), limit=limit + 1
    )
    more = len(found) > limit
    found = found[:limit]
    headers = next_link(request, [found[-1].scheduled_at.isoformat()] if more else None)
    return json_response(found, headers=headers)
