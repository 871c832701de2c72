"""The public view of a status page, as `/status/{slug}`, its JSON and its Atom feed show
it: the banner, each group's sites with their bar of days, and the incidents told.

A page is read with a fixed number of statements whatever its number of sites: its row,
its sites with their state, their days (one statement over the rollups and the raw rows of
all of them, and one more, by quorum, for the sites checked from several regions), what
happened on those days, and its incidents; never a statement per site.
A view is fresh for `CACHE_SECONDS` in this process; past that, it is served while one
refresh reads the next in the background; it is forgotten at once when the page or its
incidents change through this process.

The banner, as Atlassian Statuspage and Uptime Kuma show one: "major outage" when every
site with a state is down, "partial outage" when some are or an incident is open and not
yet being monitored, "all systems operational" otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from shared.db import AsyncDatabase, dict_rows
from webmon.core.errors import NotFound
from webmon.core.status_pages import QUERIES, Page, PageIncident, StatusPages

logger = logging.getLogger(__name__)

CACHE_SECONDS = 15.0
DEFAULT_PAGE_DAYS = 90
Banner = Literal["operational", "partial_outage", "major_outage"]
BANNER_TEXT = {
    "operational": "All systems operational",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


def two_decimals(share: float | None) -> str:
    """An uptime share as a percentage with two decimals, rounded down: 99.999 % is
    "99.99", never "100.00" while a check failed."""
    if share is None:
        return "—"
    return f"{math.floor(share * 10000) / 100:.2f}"


# DayView and SiteView are built a thousand times or more per read of a big page: slots
# without frozen, whose __init__ sets each field through object.__setattr__ (twice the
# time). Nothing changes them after _assemble.
@dataclass(slots=True)
class DayView:
    day: date
    checks: int
    uptime: float | None  # a share, None: no check that day
    incidents: list[str]

    @property
    def label(self) -> str:
        """The day's tooltip: its uptime and what happened."""
        up = "no checks" if self.uptime is None else f"{two_decimals(self.uptime)} % up"
        told = "".join(f"\n• {i}" for i in self.incidents)
        return f"{self.day.isoformat()}: {up}{told}"

    @property
    def level(self) -> str:
        if self.uptime is None:
            return "none"
        return "up" if self.uptime >= 0.999 else ("partial" if self.uptime >= 0.95 else "down")


@dataclass(slots=True)
class SiteView:
    id: int
    name: str
    url: str | None
    up: bool | None
    checked_at: datetime | None
    uptime: float | None
    days: list[DayView]  # those with checks or incidents, oldest first

    @property
    def state(self) -> str:
        return "unknown" if self.up is None else ("up" if self.up else "down")


@dataclass(frozen=True, slots=True)
class GroupView:
    name: str
    sites: list[SiteView]


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: PageIncident
    affected: list[str]


@dataclass(frozen=True, slots=True)
class PageView:
    slug: str | None
    title: str
    description: str
    logo_url: str | None
    days_shown: int
    first_day: date  # the first day the bars show; the last is today (UTC)
    banner: Banner
    groups: list[GroupView]
    incidents: list[IncidentView]
    updated_at: datetime
    generated_at: datetime

    @property
    def banner_text(self) -> str:
        return BANNER_TEXT[self.banner]

    @property
    def open_incidents(self) -> list[IncidentView]:
        return [i for i in self.incidents if i.incident.resolved_at is None]

    @property
    def past_incidents(self) -> list[IncidentView]:
        """Those resolved, opened within the days the page shows."""
        return [i for i in self.incidents if i.incident.resolved_at is not None
                and i.incident.opened_at.date() >= self.first_day]  # fmt: skip


def display_name(name: str | None, url: str) -> str:
    """A site's name, or its URL's host where it has none (never the whole URL)."""
    return name or _host(url)


@lru_cache(maxsize=100_000)
def _host(url: str) -> str:
    """A URL's host (urlsplit is ~3 us a URL: 3 ms a page of 1,000 sites without names)."""
    return urlsplit(url).hostname or "site"


def banner(sites: Sequence[SiteView], incidents: Sequence[IncidentView]) -> Banner:
    known = [s for s in sites if s.up is not None]
    down = [s for s in known if not s.up]
    if known and len(down) == len(known):
        return "major_outage"
    active = [i for i in incidents
              if i.incident.resolved_at is None and i.incident.status != "monitoring"]  # fmt: skip
    return "partial_outage" if down or active else "operational"


def _days(
    site_id: int,
    first: date,
    checked: dict[int, dict[date, tuple[int, int]]],
    told: dict[int, dict[date, list[str]]],
) -> tuple[list[DayView], float | None]:
    """A site's days with checks or incidents, oldest first (the others had neither), and
    its uptime over them."""
    counts, notes = checked.get(site_id, _NONE), told.get(site_id, _NONE)
    days, total, ups = [], 0, 0
    for day in sorted(counts.keys() | notes.keys() if notes else counts):
        if day < first:
            continue
        n, up = counts.get(day, _NO_CHECKS)
        total += n
        ups += up
        days.append(DayView(day, n, up / n if n else None, notes.get(day, [])))
    return days, (ups / total if total else None)


_NONE: dict[Any, Any] = {}
_NO_CHECKS = (0, 0)


class Views:
    """Public views of the pages, cached briefly in this process."""

    def __init__(self, reads: AsyncDatabase, pages: StatusPages) -> None:
        self._reads = reads
        self._pages = pages
        self._cache: dict[str, tuple[float, PageView]] = {}
        self.ttl = CACHE_SECONDS  # how long a view is fresh (0: no cache, for a benchmark)
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._changes: dict[str, int] = {}  # per page, how many times it was forgotten
        pages.changed = self.forget

    def forget(self, slug: str) -> None:
        self._cache.pop(slug, None)
        self._changes[slug] = self._changes.get(slug, 0) + 1

    async def page(self, slug: str) -> PageView:
        """The view of `/status/{slug}`; NotFound if there is no such page."""
        return await self._cached(slug, lambda: self._read(slug))

    async def default(self) -> PageView:
        """The view of `/status`: the sites marked public, in one group."""
        return await self._cached("", lambda: self._read(None))

    async def _cached(self, key: str, read: Any) -> PageView:
        """A fresh view, or one past its time while a single refresh reads the next in the
        background (readers never wait on a refresh, and a page read by many at once is
        read from the database once); the first read of a page, or one after a change,
        waits for the database."""
        if self.ttl <= 0:
            fresh: PageView = await read()
            return fresh
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None:
            view: PageView = await read()
            self._cache[key] = (now + self.ttl, view)
            return view
        if hit[0] <= now and key not in self._refreshing:
            task = asyncio.create_task(self._refresh(key, read))
            self._refreshing[key] = task
            task.add_done_callback(lambda _: self._refreshing.pop(key, None))
        return hit[1]

    async def _refresh(self, key: str, read: Any) -> None:
        changes = self._changes.get(key, 0)
        try:
            view = await read()
        except NotFound:
            self._cache.pop(key, None)  # the page is gone
            return
        except Exception:
            logger.exception("status_pages.refresh_failed slug=%s", key or "(default)")
            return
        if self._changes.get(key, 0) == changes:  # (a change meanwhile: a newer read wins)
            self._cache[key] = (time.monotonic() + self.ttl, view)

    async def _read(self, slug: str | None) -> PageView:
        page: Page | None = None
        if slug is not None:
            page = await self._pages.get(slug)
        days = page.days_shown if page else DEFAULT_PAGE_DAYS
        page_id = page.id if page else None
        async with self._reads.connection() as conn:
            if page is None:
                site_rows = await dict_rows(conn, QUERIES["public_sites"])
                incident_rows: list[dict[str, Any]] = []
            else:
                site_rows = await dict_rows(conn, QUERIES["page_sites"], {"page_id": page_id})
                incident_rows = await dict_rows(conn, QUERIES["page_incidents"],
                    {"page_id": page_id, "incident_id": None, "limit": 50})  # fmt: skip
            ids = sorted({int(r["id"]) for r in site_rows})
            # A site checked from several regions: its days by its quorum, and its uptime
            # over them (one more statement, only for a page holding such sites).
            several = sorted({int(r["id"]) for r in site_rows if (r["regions"] or 1) > 1})
            single = sorted(set(ids) - set(several))
            params = {"site_ids": ids, "days": days, "page_id": page_id}
            # (site_id, day, checks, up_checks) and (site_id, day, labels): tuples, two or
            # more rows a site, which dicts by name would cost ~1 us each
            days_read = await conn.execute(QUERIES["page_days"], {**params, "site_ids": single})
            day_rows = list(await days_read.fetchall())
            told_read = await conn.execute(QUERIES["page_site_incidents"], params)
            told_rows = await told_read.fetchall()
            if several:
                quorum_read = await conn.execute(QUERIES["page_quorum_days"],
                                                 {"site_ids": several, "days": days})  # fmt: skip
                day_rows.extend(await quorum_read.fetchall())
        return self._assemble(page, days, site_rows, day_rows, told_rows, incident_rows)

    def _assemble(
        self, page: Page | None, days: int, site_rows: list[dict[str, Any]],
        day_rows: Sequence[Sequence[Any]], told_rows: Sequence[Sequence[Any]],
        incident_rows: list[dict[str, Any]],
    ) -> PageView:  # fmt: skip
        now = datetime.now(UTC)
        first = now.date() - timedelta(days=days - 1)
        checked: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
        for site_id, day, checks, up_checks in day_rows:
            checked[site_id][day] = (checks or 0, up_checks or 0)
        told: dict[int, dict[date, list[str]]] = defaultdict(dict)
        for site_id, day, labels in told_rows:
            told[site_id].setdefault(day, []).extend(labels)
        show_urls = bool(page and page.show_urls)
        names = ["Status"] if page is None else [g.name for g in page.groups]
        groups: list[list[SiteView]] = [[] for _ in names]
        shown: dict[int, str] = {}
        for r in site_rows:
            site_id = int(r["id"])
            bar, uptime = _days(site_id, first, checked, told)
            name = display_name(r["name"], r["url"])
            shown[site_id] = name
            groups[int(r["group_position"])].append(SiteView(
                site_id, name, r["url"] if show_urls else None, r["up"], r["checked_at"],
                uptime, bar))  # fmt: skip
        incidents = [PageIncident.from_row(r) for r in incident_rows]
        views = [IncidentView(i, [shown[s] for s in i.site_ids if s in shown]) for i in incidents]
        group_views = [GroupView(n, s) for n, s in zip(names, groups, strict=True) if s]
        every = [s for g in group_views for s in g.sites]
        return PageView(
            slug=page.slug if page else None,
            title=page.title if page else "Status",
            description=page.description if page else "",
            logo_url=page.logo_url if page else None,
            days_shown=days,
            first_day=first,
            banner=banner(every, views),
            groups=group_views,
            incidents=views,
            updated_at=max([page.updated_at] + [i.updated_at for i in incidents]) if page else now,
            generated_at=now,
        )
