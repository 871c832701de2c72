"""Maintenance windows: while one covers a site (by id, by tag, or every site), its
notifications are held. One-off, daily or weekly, in UTC.

A window silences alerts, so adding or removing one takes the admin scope (a dashboard
user, an admin key, the operator), whatever it covers: a write key that could add a
window for one site could add one for each site, or tag every site and cover the tag.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from shared.queries import load_queries
from webmon.core.actors import Actor
from webmon.core.errors import ConstraintWords, Forbidden, NotFound, invalid_from_database
from webmon.core.site_rules import Input

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "windows.sql")
MAX_ID = 2**63 - 1

CONSTRAINTS: ConstraintWords = {
    "maintenance_windows_duration": (
        "duration_seconds",
        "a window lasts more than 0 and at most its period (a day, a week, or 366 days once)",
    ),
    "maintenance_windows_name_length": ("name", "the name must be 1 to 200 characters long"),
    "maintenance_windows_one_scope": ("tag", "a window covers a site, a tag, or every site"),
    "maintenance_windows_recurrence": ("recurrence", "recurrence must be none, daily or weekly"),
    "maintenance_windows_until": ("until", "until may not come before starts_at"),
    "maintenance_windows_site_id_fkey": ("site_id", "no such site"),
}


def _in_utc_range(value: datetime) -> datetime:
    # 0001-01-01T00:01+01:00 is 1 BC in UTC: PostgreSQL stores it, psycopg cannot read it
    # back (a 500, schemathesis found it). Refused here.
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: years 1 to 9999 in UTC") from None
    return value


Moment = Annotated[datetime, AfterValidator(_in_utc_range)]


class WindowIn(Input):
    name: str = Field(min_length=1, max_length=200)
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    starts_at: Moment
    duration_seconds: int = Field(ge=1, le=366 * 86400)
    recurrence: Literal["none", "daily", "weekly"] = "none"
    until: Moment | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> WindowIn:
        if self.site_id is not None and self.tag is not None:
            raise ValueError("site_id and tag: one or neither (all sites)")
        return self


@dataclass(frozen=True, slots=True)
class Window:
    id: int
    name: str
    site_id: int | None
    tag: str | None
    starts_at: datetime
    duration_seconds: int
    recurrence: str
    until: datetime | None
    active: Annotated[bool, Field(description="whether it holds notifications now")]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Window:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def covers(self) -> str:
        if self.site_id is not None:
            return f"site {self.site_id}"
        return f"tag {self.tag}" if self.tag is not None else "all sites"


ADMIN_ONLY = "maintenance windows silence alerts: adding or removing one takes the admin scope"


def _admit(actor: Actor) -> None:
    if not actor.admin:
        raise Forbidden(ADMIN_ONLY)


class Windows:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def add(self, actor: Actor, window: WindowIn) -> Window:
        _admit(actor)
        params = window.model_dump()
        try:
            row = await self._db.row(QUERIES["add_window"], params)
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise invalid_from_database(exc, CONSTRAINTS) from None
        assert row is not None
        logger.info("windows.added window_id=%s by=%s", row["id"], actor)
        return await self.get(int(row["id"]))

    async def get(self, window_id: int) -> Window:
        rows = await self._db.rows(QUERIES["windows"], {"window_id": window_id})
        if not rows:
            raise NotFound(f"no window with id {window_id}")
        return Window.from_row(rows[0])

    async def every(self) -> list[Window]:
        return [Window.from_row(r) for r in await self._db.rows(QUERIES["windows"],
                                                                {"window_id": None})]  # fmt: skip

    async def remove(self, actor: Actor, window_id: int) -> None:
        _admit(actor)
        if await self._db.row(QUERIES["remove_window"], {"window_id": window_id}) is None:
            raise NotFound(f"no window with id {window_id}")
        logger.info("windows.removed window_id=%d by=%s", window_id, actor)
