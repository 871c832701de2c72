"""`/api/v1/sites/{id}/…`: results, uptime, series and events of one site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from shared.db import AsyncDatabase
from webmon.api.auth import READ, Caller
from webmon.api.common import database, json_response, reads
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import CHECK_FIELDS, CheckOut, EventOut, Series, Uptime
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.readmodel import HISTORY, SITE_HISTORY

router = APIRouter(prefix="/api/v1/sites/{site_id}", tags=["history"])

SiteId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Period = Literal["1h", "24h", "7d", "30d", "90d", "1y"]
PERIODS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}
# Timestamps a query may take: PostgreSQL's range, well inside datetime's.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


async def _site_must_exist(request: Request, site_id: int) -> None:
    if await database(request).fetchone(SITE_HISTORY["site_exists"], {"site_id": site_id}) is None:
        raise Problem(404, f"no site with id {site_id}")


def _aware(moment: datetime | None, default: datetime, name: str) -> datetime:
    if moment is None:
        return default
    if moment.tzinfo is None:
        raise Problem(422, f"{name}: give a time zone (e.g. 2026-12-01T10:00:00Z)")
    return max(EARLIEST, min(LATEST, moment))


def _cursor_time(cursor: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(decode_cursor(cursor, 1)[0]))
    except ValueError:
        raise Problem(422, "cursor: not a cursor this API gave out") from None
    return _aware(moment, LATEST, "cursor")


@router.get("/results", response_model=list[CheckOut], summary="Checks, newest first")
async def results(
    request: Request,
    site_id: SiteId,
    caller: Caller = READ,
    since: Annotated[datetime | None, Query(description="default: a day ago")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    await _site_must_exist(request, site_id)
    now = datetime.now(UTC)
    start = _aware(since, now - timedelta(days=1), "since")
    end = _aware(until, now + timedelta(minutes=1), "until")
    before = LATEST
    if cursor:
        before = _cursor_time(cursor)
    rows = await database(request).fetch(
        SITE_HISTORY["site_results"],
        {
            "site_id": site_id,
            "since": start,
            "until": end,
            "before": before,
            "limit": limit + 1,
        },
    )
    more = len(rows) > limit
    rows = rows[:limit]
    body = [dict(zip(CHECK_FIELDS, row, strict=True)) for row in rows]
    headers = next_link(request, [rows[-1][0].isoformat()] if more else None)
    return json_response(body, headers=headers)


async def uptime_of(db: AsyncDatabase, site_id: int, since: str) -> dict[str, Any] | None:
    """The Uptime body, or None when there is no such site: the site's existence, the
    documented uptime query and the latency one in one pipelined round trip."""
    params = {"site_id": site_id, "since": PERIODS[since]}
    async with db.connection() as conn:
        async with conn.pipeline():
            found = await conn.execute(SITE_HISTORY["site_exists"], {"site_id": site_id})
            counted = await conn.execute(HISTORY["uptime"], params)
            timed = await conn.execute(SITE_HISTORY["latency"], params)
        if await found.fetchone() is None:
            return None
        counts = await counted.fetchone()
        latency = await timed.fetchone()
    checks, up_checks, pct, missed = counts or (None, None, None, None)
    p50, p95 = latency or (None, None)
    return {
        "since": since,
        "checks": int(checks or 0),
        "up_checks": int(up_checks or 0),
        "uptime_pct": None if pct is None else float(pct),
        "missed": int(missed or 0),
        "p50_ms": None if p50 is None else float(p50),
        "p95_ms": None if p95 is None else float(p95),
    }


@router.get("/uptime", response_model=Uptime, summary="Uptime and latency over a period")
async def uptime(
    request: Request, site_id: SiteId, caller: Caller = READ, since: Period = "24h"
) -> Response:
    body = await uptime_of(reads(request), site_id, since)
    if body is None:
        raise Problem(404, f"no site with id {site_id}")
    return json_response(body)


@router.get("/series", response_model=Series, summary="Per hour or day, columns as arrays")
async def series(
    request: Request,
    site_id: SiteId,
    caller: Caller = READ,
    since: Period = "24h",
    step: Literal["hour", "day"] = "hour",
) -> Response:
    await _site_must_exist(request, site_id)
    rows = await database(request).fetch(
        SITE_HISTORY["series"], {"site_id": site_id, "since": PERIODS[since], "step": step}
    )
    names = ("t", "checks", "up_checks", "missed", "uptime_pct", "avg_ms", "p50_ms", "p95_ms")
    columns: dict[str, list[Any]] = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return json_response({"step": step, **columns})


@router.get("/events", response_model=list[EventOut], summary="State changes, newest first")
async def events(
    request: Request,
    site_id: SiteId,
    caller: Caller = READ,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    await _site_must_exist(request, site_id)
    before = LATEST
    if cursor:
        before = _cursor_time(cursor)
    rows = await database(request).fetch(
        SITE_HISTORY["site_events_page"],
        {"site_id": site_id, "before": before, "limit": limit + 1},
    )
    more = len(rows) > limit
    rows = rows[:limit]
    names = tuple(EventOut.model_fields)
    body = [dict(zip(names, row, strict=True)) for row in rows]
    headers = next_link(request, [rows[-1][0].isoformat()] if more else None)
    return json_response(body, headers=headers)
