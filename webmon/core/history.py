"""A site's history as every surface reads it: its checks, its uptime and latency over a
period, a chart's series, its state changes, and the uptime strips of the overview and the
status page. `history.sql` holds the documented queries (the docs quote them as they are);
`site_history.sql` the rest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.db import AsyncDatabase
from shared.queries import load_queries
from webmon.core.errors import NotFound
from webmon.core.history_records import (
    Bucket,
    Chart,
    Check,
    Day,
    Event,
    Phases,
    RegionLine,
    RegionShare,
    Series,
    Step,
    Strip,
    Tick,
    Uptime,
)
from webmon.core.site_regions import SiteRegions

DOCUMENTED = load_queries("webmon.core", "history.sql")
QUERIES = load_queries("webmon.core", "site_history.sql")
QUERIES["site_uptime"] = (
    QUERIES["site_uptime"]
    .replace("{uptime}", DOCUMENTED["uptime"])
    .replace("{latency}", QUERIES["latency"])
)
QUERIES["series_by_quorum"] = QUERIES["series_by_quorum"].replace("{series}", QUERIES["series"])
# Timestamps a query may take: PostgreSQL's range, well inside datetime's.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
# The bars of ticks: a site's last TICKS checks. A chart's period holding at most
# RAW_CHART_CHECKS checks is drawn check by check (12 h of a site checked every minute).
TICKS = 50
# How long the overview keeps a site's uptime by quorum (its live part refreshes every 3 s).
QUORUM_TTL = 60.0
RAW_CHART_CHECKS = 720


def _typed(cls: Any, row: Mapping[str, Any]) -> Any:
    return cls(**{f.name: row[f.name] for f in fields(cls)})


def _counts(row: Mapping[str, Any]) -> dict[str, Any]:
    """An uptime query's checks, up checks, uptime and missed slots, typed."""
    pct = row["uptime_pct"]
    return {
        "checks": int(row["checks"] or 0),
        "up_checks": int(row["up_checks"] or 0),
        "uptime_pct": None if pct is None else float(pct),
        "missed": int(row["missed"] or 0),
    }


class History:
    def __init__(self, db: AsyncDatabase, reads: AsyncDatabase) -> None:
        self._db = db
        self._reads = reads
        self._regions = SiteRegions(reads)
        # the overview's uptime by quorum per site: (fresh until, 24 h, 30 d)
        self._by_quorum: dict[int, tuple[float, float | None, float | None]] = {}

    async def _site_must_exist(self, site_id: int) -> None:
        if await self._db.row(QUERIES["site_exists"], {"site_id": site_id}) is None:
            raise NotFound(f"no site with id {site_id}")

    async def checks(
        self,
        site_id: int,
        *,
        since: datetime,
        until: datetime,
        before: datetime = LATEST,
        limit: int = 50,
        region: str | None = None,
        before_region: str | None = None,
    ) -> list[Check]:
        """Checks and missed slots, newest first (and by region within a slot), in
        [since, until) and before a cursor: the check (`before`, `before_region`), or the
        slot `before` when `before_region` is None. Of one region, or of all (None)."""
        await self._site_must_exist(site_id)
        params = {"site_id": site_id, "since": since, "until": until, "before": before,
                  "limit": limit, "region": region, "before_region": before_region}  # fmt: skip
        return [_typed(Check, r) for r in await self._db.rows(QUERIES["site_results"], params)]

    async def uptime(self, site_id: int, since: timedelta, region: str | None = None) -> Uptime:
        """Uptime and latency over the period that ends now: of one region's checks; of a
        site checked from one region, its checks; of a site checked from several (region
        None), its slots by the quorum, with each region's own figures and the advisories
        beside them. The documented uptime query and the latency one in one statement, on
        the read pool: all a site checked from one region costs. One checked from several
        costs one more each for its quorum, its regions and its advisories."""
        params = {"site_id": site_id, "since": since, "region": region}
        row = await self._reads.row(QUERIES["site_uptime"], params)
        if row is None or row["regions"] is None:
            raise NotFound(f"no site with id {site_id}")
        p50, p95 = row["p50_ms"], row["p95_ms"]
        latency: dict[str, Any] = {
            "p50_ms": None if p50 is None else float(p50),
            "p95_ms": None if p95 is None else float(p95),
        }
        if region is not None or row["regions"] < 2:
            return Uptime(**_counts(row), **latency)
        by_quorum = await self._reads.row(DOCUMENTED["uptime_by_quorum"], params)
        assert by_quorum is not None  # an aggregate: one row
        return Uptime(
            **_counts(by_quorum),
            **latency,
            by_quorum=True,
            quorum_from=by_quorum["quorum_from"],
            regions=await self._regions.summary(site_id, since),
            advisories=await self._regions.of_site(site_id),
        )

    async def series(
        self, site_id: int, since: timedelta, step: Step, region: str | None = None
    ) -> Series:
        """A site's buckets over the period that ends now: of one region's checks; of a
        site checked from one region, its checks, in one statement as before regions; of a
        site checked from several (region None), its slots by the quorum, with every
        region's response times together (`uptime`'s rule, per bucket)."""
        found = await self._db.row(QUERIES["site_region_count"], {"site_id": site_id})
        if found is None:
            raise NotFound(f"no site with id {site_id}")
        params = {"site_id": site_id, "since": since, "step": step, "region": region}
        if region is not None or found["regions"] < 2:
            return Series(
                [_typed(Bucket, r) for r in await self._db.rows(QUERIES["series"], params)]
            )
        rows = await self._db.rows(QUERIES["series_by_quorum"], params)
        firsts = [r["first_slot"] for r in rows if r["first_slot"] is not None]
        return Series([_typed(Bucket, r) for r in rows], True, min(firsts, default=None))

    async def _buckets(
        self, site_id: int, since: timedelta, step: Step, region: str | None = None
    ) -> list[Bucket]:
        """A chart's buckets: of one region, or every region's checks together."""
        await self._site_must_exist(site_id)
        params = {"site_id": site_id, "since": since, "step": step, "region": region}
        return [_typed(Bucket, r) for r in await self._db.rows(QUERIES["series"], params)]

    async def events(
        self, site_id: int, *, before: datetime = LATEST, limit: int = 50
    ) -> list[Event]:
        """State changes, newest first, before a cursor."""
        await self._site_must_exist(site_id)
        params = {"site_id": site_id, "before": before, "limit": limit}
        return [_typed(Event, r) for r in await self._db.rows(QUERIES["site_events_page"], params)]

    async def strips(
        self, site_ids: Sequence[int], by_quorum: Sequence[int] = ()
    ) -> dict[int, Strip]:
        """The overview's uptime of a page of sites, reading those sites' rows only. The
        sites of `by_quorum` (those checked from several regions) have their 24 h and 30 d
        by their quorum, as their own page counts them (one more statement, only for a page
        holding such sites, and at most once per QUORUM_TTL a site: ~200 ms for 30 days
        of three regions checked every minute); their hours stay every region's checks
        together."""
        if not site_ids:
            return {}
        rows = await self._db.rows(QUERIES["overview_extras"], {"site_ids": list(site_ids)})
        found = {int(r["site_id"]): _typed(Strip, r) for r in rows}
        now = time.monotonic()
        stale = [i for i in by_quorum if i in found and self._by_quorum.get(i, (0.0,))[0] <= now]
        if stale:
            for r in await self._db.rows(QUERIES["overview_quorum"], {"site_ids": stale}):
                self._by_quorum[int(r["site_id"])] = (now + QUORUM_TTL, r["up_24h"], r["up_30d"])
        for i in by_quorum:
            if i in found and i in self._by_quorum:
                _, up_24h, up_30d = self._by_quorum[i]
                found[i] = Strip(i, up_24h, up_30d, found[i].hours)
        return found

    async def ticks(
        self, site_ids: Sequence[int], per_site: int = TICKS, by_quorum: Sequence[int] = ()
    ) -> dict[int, list[Tick]]:
        """The latest checks of each site of a page, oldest first: one query for the page.
        The sites of `by_quorum` (checked from several regions) have their latest slots
        instead, each by the quorum's verdict (one more statement, only for them)."""
        found: dict[int, list[Tick]] = {site_id: [] for site_id in site_ids}
        several = [i for i in site_ids if i in set(by_quorum)]
        single = [i for i in site_ids if i not in set(several)]
        if single:
            params = {"site_ids": single, "per_site": per_site}
            for row in await self._db.rows(QUERIES["recent_checks"], params):
                found[int(row["site_id"])].append(Tick(**row))
        if several:
            params = {"site_ids": several, "per_site": per_site}
            for row in await self._db.rows(QUERIES["recent_slots"], params):
                found[int(row["site_id"])].append(
                    Tick(int(row["site_id"]), row["scheduled_at"], row["checked_at"], row["up"],
                         None, None, None, None, None, list(row["failed_regions"]),
                         list(row["reported_regions"]))
                )  # fmt: skip
        return found

    async def chart(
        self, site_id: int, since: timedelta, step: Step, checks: int,
        regions: Sequence[str] = (),
    ) -> Chart:  # fmt: skip
        """Response times over the period that ends now: check by check when the period
        holds at most RAW_CHART_CHECKS (`checks`, as `uptime` counted them), so a site
        checked for two minutes shows a line of its checks, not an hour's single dot;
        the rollups' buckets beyond. A site checked from several `regions`: one line per
        region (regions_chart), not their checks interleaved."""
        if len(regions) > 1:
            return await self.regions_chart(site_id, since, step, checks, regions)
        if checks <= RAW_CHART_CHECKS:
            now = datetime.now(UTC)
            rows = await self.checks(
                site_id, since=now - since, until=now + timedelta(minutes=1),
                limit=2 * RAW_CHART_CHECKS,
            )  # fmt: skip
            performed = [c for c in reversed(rows) if c.up is not None]
            times = [c.response_time_ms for c in performed]
            return Chart("check", [c.checked_at for c in performed], times, times, times)
        buckets = await self._buckets(site_id, since, step)
        return Chart(
            step, [b.t for b in buckets], [b.avg_ms for b in buckets],
            [b.p50_ms for b in buckets], [b.p95_ms for b in buckets],
        )  # fmt: skip

    async def regions_chart(
        self, site_id: int, since: timedelta, step: Step, slots: int, regions: Sequence[str]
    ) -> Chart:
        """The chart of a site checked from several regions: one line per region over the
        slots (each region's response time, slot by slot, when the period holds at most
        RAW_CHART_CHECKS `slots`) or the buckets (each region's p50; `avg_ms` and the
        others are every region's together)."""
        lines: dict[str, dict[datetime, float | None]] = {r: {} for r in regions}
        if slots <= RAW_CHART_CHECKS:
            params = {"site_id": site_id, "since": datetime.now(UTC) - since,
                      "limit": 2 * RAW_CHART_CHECKS * len(regions)}  # fmt: skip
            for row in await self._db.rows(QUERIES["region_chart_checks"], params):
                if row["region"] in lines:
                    lines[row["region"]][row["scheduled_at"]] = row["response_time_ms"]
            t = sorted({at for line in lines.values() for at in line})
            none: list[float | None] = [None] * len(t)
            every = Chart("check", t, none, none, none)
        else:
            every = await self.chart(site_id, since, step, slots)
            for region in regions:
                for b in await self._buckets(site_id, since, step, region):
                    lines[region][b.t] = b.p50_ms
        by_region = [RegionLine(r, [lines[r].get(at) for at in every.t]) for r in regions]
        return Chart(every.step, every.t, every.avg_ms, every.p50_ms, every.p95_ms, by_region)

    async def days(self, site_id: int, days: int, by_quorum: bool = False) -> list[Day]:
        """Uptime per UTC day over the last `days` days, oldest first. A site checked from
        one region: its checks, from the daily rollups, as before regions. One checked from
        several (`by_quorum`): its slots by the quorum (from the checks kept, raw and
        packed: the rollups count each region apart), with the regions below beside each
        day; a pass over its kept checks in the period (~200 ms for 30 days of three
        regions checked every minute)."""
        params = {"site_id": site_id, "days": days}
        if not by_quorum:
            rows = await self._db.rows(QUERIES["daily_uptime"], params)
            return [Day(r["day"], r["checks"], r["up_share"]) for r in rows]
        return [
            Day(r["day"], r["checks"], r["up_share"], True, int(r["region_checks"]),
                [RegionShare(n, v) for n, v in zip(r["below"], r["below_shares"], strict=True)])
            for r in await self._db.rows(QUERIES["daily_uptime_by_quorum"], params)
        ]  # fmt: skip

    async def phases(self, site_id: int) -> list[Phases]:
        """Average phase durations per hour over the last day, from the raw checks."""
        rows = await self._db.rows(QUERIES["phases_24h"], {"site_id": site_id})
        return [_typed(Phases, r) for r in rows]
