"""Regions as the operator sees them: which regions the sites are checked from, and whether
each region's checkers are doing their work (docs/regions.md).

A checker does not report to the database, so a region's health is read from what its
checkers stored: checks performed recently, and slots missed (emitted to the region's
topic, not checked before the next slot), which is what a region without a live checker
leaves behind.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Literal

from shared.db import AsyncDatabase
from shared.queries import load_queries

QUERIES = load_queries("webmon.core", "regions.sql")
# The window a region's health is read over: a few intervals of the usual 60 s.
DEFAULT_WINDOW = timedelta(minutes=5)
# Missed slots beyond this share of the region's slots: its checkers are behind or absent.
BEHIND_SHARE = 0.1

Health = Literal["ok", "no checker", "behind", "unused"]


@dataclass(frozen=True, slots=True)
class Region:
    region: str
    sites: int  # enabled sites checked from it
    checks: int  # performed in the window
    down: int
    missed: int
    last_check: datetime | None

    @property
    def health(self) -> Health:
        """`no checker`: sites name it and nothing was checked there in the window;
        `behind`: more than a tenth of its slots were missed; `unused`: no site names it
        (results of a region taken off every site)."""
        if self.sites == 0:
            return "unused"
        if self.checks == 0:
            return "no checker"
        if self.missed > BEHIND_SHARE * (self.checks + self.missed):
            return "behind"
        return "ok"


class Regions:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def every(self, window: timedelta = DEFAULT_WINDOW) -> list[Region]:
        """Every region a site names or a check came from in the window, by name."""
        rows = await self._db.rows(QUERIES["regions"], {"window": window})
        return [Region(**{f.name: row[f.name] for f in fields(Region)}) for row in rows]
