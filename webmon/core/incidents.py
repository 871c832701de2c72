"""Incidents (opened and resolved by the writer) and the notifications about them, as
every surface lists them. An incident's `cause` is `shared.causes.why_down`'s text, made
when it opened: the same words on the dashboard, in the CLI, in the API and in the
notifications."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from shared.db import AsyncDatabase
from shared.queries import load_queries
from webmon.core.actors import Actor

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "incidents.sql")
NOTIFICATION_STATES = ("pending", "sent", "failed", "suppressed")


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    site_id: int
    url: str
    name: Annotated[str | None, Field(description="the site's display name; null: none")]
    opened_at: datetime
    opening_slot: datetime
    opening_checked_at: datetime
    cause: Annotated[str, Field(description="why it opened, in the words every surface uses")]
    status_code: int | None
    error: str | None
    error_detail: str | None
    resolved_at: datetime | None
    resolving_slot: datetime | None
    resolving_checked_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Incident:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def label(self) -> str:
        """What a page calls the site: its name, else its URL."""
        return self.name or self.url

    @property
    def lasted(self) -> timedelta:
        """From the first down check to the first up one that resolved it (or now)."""
        return (self.resolved_at or datetime.now(UTC)) - self.opened_at


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    idempotency_key: str
    channel_id: int
    channel: Annotated[str, Field(description="the channel's name")]
    site_id: int | None
    incident_id: int | None
    event: str
    state: str
    attempts: int
    created_at: datetime
    event_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Notification:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


class Incidents:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def page(
        self,
        *,
        open_only: bool = False,
        resolved_only: bool = False,
        site_id: int | None = None,
        before: tuple[datetime, int] | None = None,
        limit: int = 50,
    ) -> list[Incident]:
        """Newest first, before the (opened_at, id) of a cursor."""
        params = {
            "open_only": open_only, "resolved_only": resolved_only, "site_id": site_id,
            "before_at": None if before is None else before[0],
            "before_id": None if before is None else before[1], "limit": limit,
        }  # fmt: skip
        return [Incident.from_row(r) for r in await self._db.rows(QUERIES["incidents"], params)]

    async def notifications(
        self, *, state: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[Notification]:
        params = {"state": state, "before_id": before_id, "limit": limit}
        return [
            Notification.from_row(r) for r in await self._db.rows(QUERIES["notifications"], params)
        ]

    async def retry_failed(self, actor: Actor, notification_id: int | None = None) -> int:
        """Failed notifications (all, or one) back to pending; how many."""
        rows = await self._db.rows(QUERIES["retry_failed"], {"id": notification_id})
        logger.info("notifications.retried count=%d by=%s", len(rows), actor)
        return len(rows)
