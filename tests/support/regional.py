"""Sites and checks of the region tests (tests/regions): sites checked from the three
regions every 2 s with a 1 s timeout, so that a broken path costs each check of the region
one second and thresholds are reached within seconds; a checker in each region's namespace;
the checks each region stored."""

from __future__ import annotations

from datetime import datetime

from tests.support.db import Conn, scalar
from tests.support.fleet import Fleet
from tests.support.netns import RegionNet
from tests.support.processes import Process, wait_for

REGIONS = ["eu-west", "us-east", "ap-south"]
INTERVAL_S = 2
# Each wait for a number of slots allows this much more (joins, a loaded machine).
SLACK_S = 20.0


def add_site(db: Conn, url: str, *, quorum: int | None = None, failure_threshold: int = 2) -> int:
    """A site on `url` checked from the three regions every 2 s, first due now."""
    return int(
        scalar(
            db,
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, regions, quorum,"
            "                   failure_threshold, success_threshold, next_check_at)"
            " VALUES (%s, %s, 1, %s, %s, %s, 1, now()) RETURNING id",
            url, INTERVAL_S, REGIONS, quorum, failure_threshold,
        )
    )  # fmt: skip


def align_slots(db: Conn) -> None:
    """Every site's slots on the same instants: one region's failures then begin at the same
    slot for all of them (its canary's among them)."""
    db.execute("UPDATE sites SET next_check_at = date_trunc('second', now()) + interval '1 s'")


def checkers(net: RegionNet, fleet: Fleet) -> list[Process]:
    """A checker in each region's namespace, joined."""
    started = [net.checker(fleet, region, region) for region in REGIONS]
    fleet.wait_joined(*started)
    return started


def checks(db: Conn, site: int, region: str, since: datetime | None = None) -> list[bool]:
    """The region's performed checks of the site (slots from `since`), in slot order."""
    rows = db.execute(
        "SELECT up FROM check_results WHERE site_id = %s AND region = %s AND up IS NOT NULL"
        "   AND scheduled_at >= coalesce(%s::timestamptz, '-infinity') ORDER BY scheduled_at",
        (site, region, since),
    ).fetchall()
    return [r[0] for r in rows]


def wait_checks(
    db: Conn, site: int, regions: list[str], n: int, since: datetime | None = None
) -> None:
    wait_for(
        lambda: all(len(checks(db, site, r, since)) >= n for r in regions),
        timeout_s=n * INTERVAL_S + SLACK_S,
        what=f"{n} checks of site {site} from {regions}",
    )


def break_at(db: Conn, net: RegionNet, *regions: str) -> datetime:
    """Break the regions' paths; the database's time just before, to compare slots with."""
    before: datetime = scalar(db, "SELECT now()")
    for region in regions:
        net.break_path(region)
    return before
