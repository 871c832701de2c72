"""Region health with real paths (docs/regions.md, "Region health"): three regions as
network namespaces (tests/support/netns.py), each with its checker; one region loses its
path to the target's namespace, where its canary is too.
"""

from __future__ import annotations

import pytest

from tests.support.alerting import add_channel
from tests.support.db import Conn, count, scalar
from tests.support.fleet import Fleet
from tests.support.netns import RegionNet
from tests.support.processes import wait_for
from tests.support.regional import (
    INTERVAL_S,
    REGIONS,
    SLACK_S,
    add_site,
    align_slots,
    break_at,
    checkers,
    checks,
    wait_checks,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_an_unhealthy_region_is_one_notification_not_an_incident_per_site(
    net: RegionNet, fleet: Fleet, db: Conn
) -> None:
    """eu-west loses every packet to the target namespace: its canary (the target's second
    address) fails, and so do all of its sites, which need only one region (quorum 1). The
    region is unhealthy from the canary's first failure once it failed twice in a row, and
    its checks count for nothing: no site incident, one region notification."""
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
    outages = db.execute(
        "SELECT id, region, cause, ended_at, started_at FROM region_outages"
    ).fetchall()
    assert [o[1:4] for o in outages] == [("eu-west", "canary", None)]
    # It took WEBMON_REGION_CANARY_FAILURES (2) failures in a row, and starts at the first.
    first_failure = scalar(
        db,
        "SELECT min(scheduled_at) FROM check_results"
        " WHERE site_id = %s AND region = 'eu-west' AND NOT up",
        canary,
    )
    assert outages[0][4] == first_failure
    assert count(db, "SELECT count(*) FROM incidents") == 0
    notifications = db.execute("SELECT kind, region_outage_id FROM notifications").fetchall()
    assert notifications == [("region_down", outages[0][0])]
    assert all(scalar(db, "SELECT up FROM site_status WHERE site_id = %s", s) for s in sites)
