"""Arranging a site checked from several regions: its checks region by region, and its
state as the writer leaves it (the quorum's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import TypeVar

from shared.netpolicy import TargetPolicy
from tests.support.db import CLOSED_URL, Conn, scalar
from webmon.core import Core, opened

T = TypeVar("T")

REGIONS = ["eu-west", "us-east", "ap-south"]
_PATHS = count(1)


def add_site(db: Conn, regions: Sequence[str] = REGIONS, *, threshold: int = 3) -> int:
    return int(
        scalar(
            db,
            "INSERT INTO sites (url, regions, failure_threshold) VALUES (%s, %s, %s) RETURNING id",
            f"{CLOSED_URL}site-{next(_PATHS)}", list(regions), threshold,
        )
    )  # fmt: skip


def add_checks(
    db: Conn, site_id: int, slots: Sequence[datetime], ups: dict[str, bool | None]
) -> None:
    """One row per region of `ups` at each slot: up, down, or missed (None)."""
    for slot in slots:
        for region, up in ups.items():
            db.execute(
                "INSERT INTO check_results (site_id, scheduled_at, checked_at, status_code, up,"
                " error, response_time_ms, region) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (site_id, slot, slot, None if up is None else (200 if up else 503), up,
                 "missed" if up is None else None, None if up is None else 10.0, region),
            )  # fmt: skip


def set_state(db: Conn, site_id: int, up: bool, at: datetime) -> None:
    """site_status as the writer leaves it (the quorum's state)."""
    db.execute(
        "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, up, status_code)"
        " VALUES (%s, %s, %s, %s, %s, 200) ON CONFLICT (site_id) DO UPDATE SET up = excluded.up,"
        " scheduled_at = excluded.scheduled_at, checked_at = excluded.checked_at",
        (site_id, CLOSED_URL, at, at, up),
    )


def minutes_ago(*minutes: int) -> list[datetime]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return [now - timedelta(minutes=m) for m in minutes]


def failing_south(db: Conn, site_id: int, down: int, *, up_before: int = 2) -> list[datetime]:
    """`up_before` slots with every region up, then `down` slots with ap-south down alone;
    the down slots, oldest first."""
    every = minutes_ago(*range(down + up_before, 0, -1))
    before, slots = every[:up_before], every[up_before:]
    add_checks(db, site_id, before, dict.fromkeys(REGIONS, True))
    add_checks(db, site_id, slots, {"eu-west": True, "us-east": True, "ap-south": False})
    set_state(db, site_id, True, slots[-1])
    return slots


def with_core(db_url: str, ask: Callable[[Core], Awaitable[T]]) -> T:
    """What the core answers `ask`, from a core opened on `db_url` for the one question."""

    async def run() -> T:
        async with opened(Core.for_url(db_url, policy=TargetPolicy.default())) as core:
            return await ask(core)

    return asyncio.run(run())
