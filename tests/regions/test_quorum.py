"""The quorum with real paths (docs/regions.md): three regions as network namespaces
(tests/support/netns.py), each with its checker; a region's path to the target is broken
with 100 % loss (tc netem), and what the site's state, its incidents, its uptime, its
advisory and the region's health say is read back from the database.

Sites here are checked every 2 s with a 1 s timeout, so a broken path costs each check of
the region one second and thresholds are reached within seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerting import NOTIFIER_FAST, add_channel
from tests.support.db import Conn, count, scalar
from tests.support.fleet import Fleet
from tests.support.netns import RegionNet
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import Receiver
from webmon.core.history import DOCUMENTED

pytestmark = [pytest.mark.integration, pytest.mark.faults]

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


def uptime(db: Conn, site: int, region: str | None) -> dict[str, Any]:
    """The documented uptime query (docs/results.md) over the last hour."""
    cur = db.execute(
        DOCUMENTED["uptime"], {"site_id": site, "since": timedelta(hours=1), "region": region}
    )
    row = cur.fetchone()
    assert row is not None and cur.description is not None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def test_one_regions_broken_path_is_an_advisory_not_an_incident(
    net: RegionNet, fleet: Fleet, db: Conn
) -> None:
    """eu-west loses every packet to the target; us-east and ap-south still reach it. The
    quorum (2 of 3) says up: no incident; the site's advisory names eu-west; its uptime by
    quorum stays 100 % while eu-west's own falls."""
    site = add_site(db, net.url("/ok"))
    checkers(net, fleet)
    fleet.scheduler()
    wait_checks(db, site, REGIONS, 2)
    broken = break_at(db, net, "eu-west")
    threshold = 2
    wait_for(
        lambda: (
            checks(db, site, "eu-west", broken)[-(threshold + 1) :] == [False] * (threshold + 1)
        ),
        timeout_s=(threshold + 2) * INTERVAL_S + SLACK_S,
        what="eu-west's checks to fail past the failure threshold",
    )
    wait_checks(db, site, ["us-east", "ap-south"], threshold + 1, broken)
    assert all(checks(db, site, "us-east", broken)) and all(checks(db, site, "ap-south", broken))
    assert count(db, "SELECT count(*) FROM incidents") == 0
    assert scalar(db, "SELECT up FROM site_status WHERE site_id = %s", site) is True
    advisories = db.execute(
        "SELECT region, since, failures FROM webmon_advisories(%s)", (site,)
    ).fetchall()
    first_down = scalar(
        db,
        "SELECT min(scheduled_at) FROM check_results"
        " WHERE site_id = %s AND region = 'eu-west' AND NOT up",
        site,
    )
    assert [(r[0], r[1]) for r in advisories] == [("eu-west", first_down)], advisories
    assert advisories[0][2] >= threshold + 1
    by_quorum = uptime(db, site, None)
    assert by_quorum["uptime_pct"] == 100.0 and by_quorum["checks"] > 0, by_quorum
    assert uptime(db, site, "us-east")["uptime_pct"] == 100.0
    eu = uptime(db, site, "eu-west")
    assert eu["uptime_pct"] is not None and eu["uptime_pct"] < 100.0, eu


def test_two_regions_broken_paths_open_an_incident_that_names_both(
    net: RegionNet, fleet: Fleet, db: Conn, processes: list[Process], env: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    """eu-west and us-east lose every packet to the target: a majority sees the site down.
    The incident opens from the first slot both saw down, at the failure threshold's slot,
    and its notification (a webhook, sent by the notifier in the root namespace) names both
    regions (`incident.regions` of the payload)."""
    threshold = 2
    with Receiver() as hook:
        add_channel(db, "hook", config={"url": hook.url()}, secret="k", default=True)
        site = add_site(db, net.url("/ok"), failure_threshold=threshold)
        checkers(net, fleet)
        fleet.scheduler()
        start(processes, "notifier", {**env, **NOTIFIER_FAST}, "notifier", tmp_path)
        wait_checks(db, site, REGIONS, 2)
        broken = break_at(db, net, "eu-west", "us-east")
        wait_for(
            lambda: count(db, "SELECT count(*) FROM incidents") > 0,
            timeout_s=(threshold + 1) * INTERVAL_S + SLACK_S,
            what="an incident",
        )
        wait_for(lambda: len(hook.accepted()) >= 1, 30, "the DOWN notification")
        received = hook.accepted()
    incident = db.execute(
        "SELECT opened_at, opening_slot, regions FROM incidents WHERE site_id = %s", (site,)
    ).fetchone()
    assert incident is not None
    opened_at, opening_slot, regions = incident
    both_down = db.execute(
        "SELECT scheduled_at FROM check_results WHERE site_id = %s AND scheduled_at >= %s"
        " GROUP BY scheduled_at HAVING count(*) FILTER (WHERE NOT up) >= 2"
        " ORDER BY scheduled_at LIMIT %s",
        (site, broken, threshold),
    ).fetchall()
    assert [opened_at, opening_slot] == [both_down[0][0], both_down[-1][0]]
    assert opening_slot - opened_at == timedelta(seconds=(threshold - 1) * INTERVAL_S)
    assert opened_at - broken < timedelta(seconds=2 * INTERVAL_S)
    assert sorted(regions or []) == ["eu-west", "us-east"]
    assert [r.json()["event"] for r in received] == ["down"]
    down = received[0].json()
    assert down["site"]["id"] == site and sorted(down["incident"]["regions"]) == [
        "eu-west", "us-east",
    ], down  # fmt: skip


def test_an_unhealthy_region_is_one_notification_not_an_incident_per_site(
    net: RegionNet, fleet: Fleet, db: Conn
) -> None:
    """eu-west loses every packet to the target namespace: its canary (the target's second
    address) fails, and so do all of its sites, which need only one region (quorum 1). The
    region is unhealthy and its checks count for nothing: no site incident, one region
    notification."""
    threshold = 3
    add_channel(db, "ops", config={"url": "http://127.0.0.1:9/"}, default=True)
    canary = add_site(db, net.canary_url())
    sites = [add_site(db, net.url(f"/ok?n={n}"), quorum=1, failure_threshold=threshold)
             for n in range(5)]  # fmt: skip
    db.execute(
        "INSERT INTO region_canaries (region, site_id) SELECT r, %s FROM unnest(%s::text[]) r",
        (canary, REGIONS),
    )
    align_slots(db)
    checkers(net, fleet)
    fleet.scheduler()
    wait_checks(db, canary, REGIONS, 2)
    broken = break_at(db, net, "eu-west")
    wait_for(
        lambda: count(db, "SELECT count(*) FROM region_outages") > 0,
        timeout_s=3 * INTERVAL_S + SLACK_S,
        what="a region outage",
    )
    # Long enough that each site would have reached its threshold had eu-west counted.
    for site in sites:
        wait_checks(db, site, ["us-east", "ap-south"], threshold + 1, broken)
    wait_for(
        lambda: all(checks(db, s, "eu-west", broken)[-threshold:] == [False] * threshold
                    for s in sites),
        timeout_s=SLACK_S,
        what="eu-west's checks of every site to fail",
    )  # fmt: skip
    outages = db.execute("SELECT id, region, cause, ended_at FROM region_outages").fetchall()
    assert [o[1:] for o in outages] == [("eu-west", "canary", None)]
    assert count(db, "SELECT count(*) FROM incidents") == 0
    notifications = db.execute("SELECT kind, region_outage_id FROM notifications").fetchall()
    assert notifications == [("region_down", outages[0][0])]
    assert all(scalar(db, "SELECT up FROM site_status WHERE site_id = %s", s) for s in sites)
