"""Regions as the operator sees them: which regions the sites are checked from, whether each
region's checkers are doing their work, and whether the region is healthy (docs/regions.md).

A checker does not report to the database, so whether a region's checkers keep up is read
from what they stored: checks performed recently, and slots missed (emitted to the region's
topic, not checked before the next slot), which is what a region without a live checker
leaves behind. Whether the region itself is healthy is the writer's finding: an open
outage of it (`region_outages`), from its canary or from most of its sites failing there;
its checks then count for no site's quorum. The operator names a region's canary here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shared.db import AsyncDatabase
from shared.messages.bounds import REGION_PATTERN
from shared.queries import load_queries
from webmon.core.actors import Actor
from webmon.core.errors import Invalid
from webmon.core.sites import MAX_SITE_ID

logger = logging.getLogger(__name__)
QUERIES = load_queries("webmon.core", "regions.sql")
# The window a region's health is read over: a few intervals of the usual 60 s.
DEFAULT_WINDOW = timedelta(minutes=5)
# Missed slots beyond this share of the region's slots: its checkers are behind or absent.
BEHIND_SHARE = 0.1

Health = Literal["ok", "unhealthy", "no checker", "behind", "unused"]
OutageCause = Literal["canary", "most_sites"]


@dataclass(frozen=True, slots=True)
class Canary:
    """The site a region's checkers check to tell their own path's failure from the sites'."""

    site_id: int
    url: str
    active: Annotated[
        bool,
        Field(description="false: the site is disabled or no longer checked from the region, "
              "so it tells nothing of the region any more"),
    ] = True  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outage:
    """A region's outage that lasts: its checks count for no site's quorum since `since`."""

    id: int
    since: Annotated[datetime, Field(description="the first slot it covers")]
    cause: Annotated[
        OutageCause,
        Field(description="canary: its canary failed there; most_sites: most of its sites "
              "failed there while another region saw them up"),
    ]  # fmt: skip
    detail: Annotated[str | None, Field(description="what was seen")]


@dataclass(frozen=True, slots=True)
class Region:
    region: str
    sites: Annotated[int, Field(description="enabled sites checked from it")]
    checks: Annotated[int, Field(description="checks performed in the window")]
    down: int
    missed: Annotated[int, Field(description="slots not checked in time in the window")]
    last_check: datetime | None
    health: Annotated[
        Health,
        Field(description="unhealthy: an outage lasts (`outage`); no checker: sites name it "
              "and nothing was checked there in the window; behind: more than a tenth of its "
              "slots were missed; unused: no site names it"),
    ]  # fmt: skip
    canary: Canary | None
    outage: Outage | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Region:
        canary = None
        if row["canary_site_id"] is not None:
            canary = Canary(row["canary_site_id"], row["canary_url"], row["canary_active"])
        outage = None
        if row["outage_id"] is not None:
            outage = Outage(
                row["outage_id"], row["outage_since"], row["outage_cause"], row["outage_detail"]
            )
        counts = (row["sites"], row["checks"], row["missed"])
        return cls(
            region=row["region"], sites=row["sites"], checks=row["checks"], down=row["down"],
            missed=row["missed"], last_check=row["last_check"],
            health=health(*counts, unhealthy=outage is not None), canary=canary, outage=outage,
        )  # fmt: skip


class CanaryIn(BaseModel):
    """What `PUT /api/v1/regions/{region}/canary` takes."""

    site_id: Annotated[int, Field(ge=1, le=MAX_SITE_ID)] | None = Field(
        description="the site whose failure from the region says the region is unhealthy; "
        "null: no canary",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegionCanary:
    region: str
    canary: Canary | None


def health(sites: int, checks: int, missed: int, *, unhealthy: bool = False) -> Health:
    """A region's health: `unhealthy` while an outage of it lasts; else `unused` (no site
    names it: results of a region taken off every site), `no checker` (nothing checked
    there in the window), `behind` (more than a tenth of its slots missed), or `ok`."""
    if unhealthy:
        return "unhealthy"
    if sites == 0:
        return "unused"
    if checks == 0:
        return "no checker"
    if missed > BEHIND_SHARE * (checks + missed):
        return "behind"
    return "ok"


def canary_watches(site_id: int, site_regions: list[str], region: str) -> None:
    """The rule of a canary: it is checked from the region it watches."""
    if region not in site_regions:
        raise Invalid(
            "site_id",
            f"site {site_id} is not checked from {region}: a region's canary must list the "
            "region in its regions",
        )


def valid_region(region: str) -> None:
    if not re.fullmatch(REGION_PATTERN, region):
        raise Invalid(
            "region",
            "a region's name is 1 to 40 lower-case letters, digits, - or _, starting with a "
            "letter or a digit",
        )


class Regions:
    def __init__(self, db: AsyncDatabase, reads: AsyncDatabase | None = None) -> None:
        self._db = db
        self._reads = reads or db

    async def every(self, window: timedelta = DEFAULT_WINDOW) -> list[Region]:
        """Every region a site names, a check came from in the window, or that has a canary
        or an outage, by name."""
        rows = await self._reads.rows(QUERIES["regions"], {"window": window})
        return [Region.from_row(row) for row in rows]

    async def set_canary(self, actor: Actor, region: str, site_id: int | None) -> RegionCanary:
        """Name the site whose checks from `region` tell whether the region itself is healthy
        (it must be checked from there), or none (`site_id` None). Without a canary, an
        outage its canary opened ends now: nothing would end it any more."""
        valid_region(region)
        if site_id is None:
            row = await self._db.row(QUERIES["clear_canary"], {"region": region})
            if row is not None and row["outage_id"] is not None:
                logger.info(
                    "region.recovered region=%s outage_id=%d at=%s by=%s cause=canary_cleared",
                    region, row["outage_id"], row["ended_at"].isoformat(), actor,
                )  # fmt: skip
            logger.info("regions.canary_cleared region=%s by=%s", region, actor)
            return RegionCanary(region, None)
        site = await self._db.row(QUERIES["canary_site"], {"site_id": site_id})
        if site is None:
            raise Invalid("site_id", f"no site with id {site_id}")
        canary_watches(site_id, site["regions"], region)
        params = {"region": region, "site_id": site_id}
        if await self._db.row(QUERIES["set_canary"], params) is None:  # changed meanwhile
            canary_watches(site_id, [], region)
        logger.info("regions.canary region=%s site_id=%d by=%s", region, site_id, actor)
        return RegionCanary(region, Canary(site_id, site["url"], site["enabled"]))
