"""TLS certificates that expire soon: each site's latest certificate (as its last check
saw it), soonest first, expired ones at the top."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.db import AsyncDatabase
from shared.queries import load_queries
from webmon.core.errors import Invalid

QUERIES = load_queries("webmon.core", "certificates.sql")
DEFAULT_WITHIN_DAYS = 30
MAX_WITHIN_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Certificate:
    site_id: int
    name: str | None
    url: str
    expires_at: datetime
    checked_at: datetime | None

    @property
    def days_left(self) -> float:
        """Days until it expires; below 0 once it has."""
        return (self.expires_at - datetime.now(UTC)).total_seconds() / 86400


class Certificates:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def expiring(self, within_days: int = DEFAULT_WITHIN_DAYS,
                       limit: int = 500) -> list[Certificate]:  # fmt: skip
        if not 0 <= within_days <= MAX_WITHIN_DAYS:
            raise Invalid("days", f"0 to {MAX_WITHIN_DAYS} days")
        rows = await self._db.rows(QUERIES["expiring"], {"days": within_days, "limit": limit})
        return [Certificate(**r) for r in rows]
