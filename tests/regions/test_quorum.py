"""The quorum with real paths (docs/regions.md): three regions as network namespaces
(tests/support/netns.py), each with its checker; a region's path to the target is broken
with 100 % loss, and what the site's state, its incidents, its uptime and its advisory say
is read back.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerting import NOTIFIER_FAST, add_channel
from tests.support.db import Conn, count, scalar
from tests.support.fleet import Fleet
from tests.support.netns import RegionNet
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import Receiver
from tests.support.regional import (
    INTERVAL_S,
    REGIONS,
    SLACK_S,
    add_site,
    break_at,
    checkers,
    checks,
    wait_checks,
)
from webmon.core.history import DOCUMENTED

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def uptime(db: Conn, site: int, region: str | None) -> dict[str, Any]:
    """The site's uptime over the last hour by its quorum (region None: the documented
    `uptime_by_quorum`), or one region's own (the documented `uptime` of that region)."""
    params = {"site_id": site, "since": timedelta(hours=1), "region": region}
    cur = db.execute(DOCUMENTED["uptime" if region else "uptime_by_quorum"], params)
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
