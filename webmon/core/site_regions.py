"""A site's regions beside its quorum (docs/regions.md): the region below the quorum, and
each region's own state, latency and uptime.

The public surface, for the API, the dashboard and the CLI:

    SiteRegions.of_site(site_id: int) -> list[Advisory]
        the advisories of one site, in the order of its regions (one statement);
    SiteRegions.of_sites(site_ids: Sequence[int]) -> dict[int, list[Advisory]]
        the advisories of a page of sites, every id a key (one statement, asking only the
        sites checked from several regions);
    SiteRegions.summary(site_id: int, since: timedelta) -> list[RegionSummary]
        each region of one site over the period that ends now: latest state and check
        time, p50 and average latency, checks and uptime (one statement).

    History.uptime(site_id, since) (webmon.core.history) gives the quorum's uptime with
    these beside it: `Uptime.regions` (the summaries) and `Uptime.advisories`.

An advisory: one of a site's regions has failed at least `failure_threshold` checks in a
row while the site's state (which follows the quorum) is up. It names the region, the
first slot of the run and its length; it opens no incident. The rule is SQL,
`webmon_advisories` (migrations/functions/090_quorum_reads.sql), which the site JSON of the
API asks too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from shared.db import AsyncDatabase
from shared.queries import load_queries

QUERIES = load_queries("webmon.core", "site_regions.sql")


@dataclass(frozen=True, slots=True)
class Advisory:
    """A region below the quorum: failing `failures` checks in a row since the slot
    `since`, while the quorum says the site is up."""

    region: str
    since: datetime
    failures: int


@dataclass(frozen=True, slots=True)
class RegionSummary:
    """One region of a site over a period. `last_up`, `last_checked_at`: its latest
    performed check (None: none in the raw days); `out`: an outage of the region covers
    now (its checks count for no site's quorum)."""

    region: str
    checks: int
    up_checks: int
    uptime_pct: float | None
    missed: int
    p50_ms: float | None
    avg_ms: float | None
    last_up: bool | None
    last_checked_at: datetime | None
    out: bool


def _typed(cls: Any, row: Any) -> Any:
    return cls(**{f.name: row[f.name] for f in fields(cls)})


class SiteRegions:
    def __init__(self, reads: AsyncDatabase) -> None:
        self._reads = reads

    async def of_site(self, site_id: int) -> list[Advisory]:
        """One site's advisories, in the order of its regions (none for an unknown site)."""
        rows = await self._reads.rows(QUERIES["site_advisories"], {"site_id": site_id})
        return [_typed(Advisory, r) for r in rows]

    async def of_sites(self, site_ids: Sequence[int]) -> dict[int, list[Advisory]]:
        """The advisories of a page of sites: every id a key, most with an empty list."""
        found: dict[int, list[Advisory]] = {site_id: [] for site_id in site_ids}
        if site_ids:
            params = {"site_ids": list(site_ids)}
            for row in await self._reads.rows(QUERIES["sites_advisories"], params):
                found[int(row["site_id"])].append(_typed(Advisory, row))
        return found

    async def summary(self, site_id: int, since: timedelta) -> list[RegionSummary]:
        """Each region of one site over the period that ends now, in the site's order
        (empty for an unknown site)."""
        params = {"site_id": site_id, "since": since}
        rows = await self._reads.rows(QUERIES["region_summary"], params)
        return [_typed(RegionSummary, r) for r in rows]
