"""The region below the quorum, in the core (webmon.core.site_regions, and the uptime of
webmon.core.history): a region failing check after check while the quorum says up carries
an advisory; uptime counts a site's slots by the quorum, each region's own beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.db import Conn, scalar
from tests.support.quorum import (
    REGIONS,
    add_checks,
    add_site,
    failing_south,
    minutes_ago,
    set_state,
    with_core,
)
from webmon.core.history_records import Uptime
from webmon.core.site_regions import Advisory

pytestmark = pytest.mark.integration


def advisories(db_url: str, site_id: int) -> list[Advisory]:
    return with_core(db_url, lambda core: core.site_regions.of_site(site_id))


def uptime(db_url: str, site_id: int, region: str | None = None) -> Uptime:
    return with_core(db_url, lambda core: core.history.uptime(site_id, timedelta(hours=1), region))


def test_a_region_failing_in_a_row_under_an_up_quorum_carries_an_advisory(
    db: Conn, db_url: str
) -> None:
    site_id = add_site(db)
    slots = failing_south(db, site_id, 14)
    assert advisories(db_url, site_id) == [Advisory("ap-south", slots[0], 14)]
    # It is a page's too, beside sites without one.
    other = add_site(db, ["eu-west", "us-east"])
    single = add_site(db, ["default"])
    found = with_core(db_url, lambda core: core.site_regions.of_sites([site_id, other, single]))
    assert found == {site_id: [Advisory("ap-south", slots[0], 14)], other: [], single: []}


def test_the_advisory_goes_when_the_region_recovers(db: Conn, db_url: str) -> None:
    site_id = add_site(db)
    failing_south(db, site_id, 5, up_before=0)
    assert [a.failures for a in advisories(db_url, site_id)] == [5]
    now = datetime.now(UTC)
    add_checks(db, site_id, [now], dict.fromkeys(REGIONS, True))
    assert advisories(db_url, site_id) == []
    # A new run counts from its own first slot.
    later = [now + timedelta(minutes=m) for m in (1, 2, 3)]
    add_checks(db, site_id, later, {"eu-west": True, "us-east": True, "ap-south": False})
    assert advisories(db_url, site_id) == [Advisory("ap-south", later[0], 3)]


def test_no_advisory_below_the_threshold_nor_while_the_site_is_down(db: Conn, db_url: str) -> None:
    site_id = add_site(db, threshold=4)
    slots = failing_south(db, site_id, 3)
    assert advisories(db_url, site_id) == []
    add_checks(db, site_id, [slots[-1] + timedelta(minutes=1)],
               {"eu-west": True, "us-east": True, "ap-south": False})  # fmt: skip
    assert [a.failures for a in advisories(db_url, site_id)] == [4]
    set_state(db, site_id, False, slots[-1])  # the quorum says down: its incident tells it
    assert advisories(db_url, site_id) == []


def test_a_missed_slot_neither_counts_nor_breaks_the_run(db: Conn, db_url: str) -> None:
    site_id = add_site(db)
    slots = failing_south(db, site_id, 3, up_before=1)
    add_checks(db, site_id, [slots[-1] + timedelta(minutes=1)],
               {"eu-west": True, "us-east": True, "ap-south": None})  # fmt: skip
    assert advisories(db_url, site_id) == [Advisory("ap-south", slots[0], 3)]


def test_no_advisory_for_a_site_checked_from_one_region(db: Conn, db_url: str) -> None:
    site_id = add_site(db, ["eu-west"])
    add_checks(db, site_id, minutes_ago(*range(10, 0, -1)), {"eu-west": False})
    set_state(db, site_id, True, datetime.now(UTC))  # even if its state said up
    assert advisories(db_url, site_id) == []


def test_no_advisory_for_a_region_in_an_outage(db: Conn, db_url: str) -> None:
    site_id = add_site(db)
    slots = failing_south(db, site_id, 6)
    assert len(advisories(db_url, site_id)) == 1
    db.execute(
        "INSERT INTO region_outages (region, started_at, cause) VALUES ('ap-south', %s, 'canary')",
        (slots[0],),
    )
    assert advisories(db_url, site_id) == []
    # Once the outage ended, its checks still count for nothing: the run is the checks after.
    db.execute("UPDATE region_outages SET ended_at = %s", (slots[3],))
    assert advisories(db_url, site_id) == [Advisory("ap-south", slots[3], 3)]


def test_uptime_by_quorum_stays_whole_while_one_region_fails(db: Conn, db_url: str) -> None:
    site_id = add_site(db)
    failing_south(db, site_id, 10)
    found = uptime(db_url, site_id)
    assert (found.by_quorum, found.checks, found.up_checks, found.uptime_pct, found.missed) == (
        True, 12, 12, 100.0, 0,
    )  # fmt: skip
    first = scalar(db, "SELECT min(scheduled_at) FROM check_results WHERE site_id = %s", site_id)
    assert found.quorum_from == first
    assert [(r.region, r.checks, r.up_checks, r.last_up) for r in found.regions] == [
        ("eu-west", 12, 12, True), ("us-east", 12, 12, True), ("ap-south", 12, 2, False),
    ]  # fmt: skip
    assert [a.region for a in found.advisories] == ["ap-south"]
    south = uptime(db_url, site_id, "ap-south")
    assert (south.by_quorum, south.checks, south.up_checks, south.regions) == (False, 12, 2, [])
    assert south.uptime_pct == pytest.approx(16.667)


def test_uptime_by_quorum_falls_when_the_quorum_sees_it_down(db: Conn, db_url: str) -> None:
    site_id = add_site(db)
    s4, s3, s2, s1 = minutes_ago(4, 3, 2, 1)
    add_checks(db, site_id, [s4, s3], dict.fromkeys(REGIONS, True))
    add_checks(db, site_id, [s2], {"eu-west": True, "us-east": False, "ap-south": False})
    # A slot that one region has not reported can still go either way: no verdict.
    add_checks(db, site_id, [s1], {"eu-west": True, "us-east": False})
    found = uptime(db_url, site_id)
    assert (found.checks, found.up_checks, found.missed) == (3, 2, 1)
    # A region in an outage counts for nothing: its down checks no longer make the quorum.
    db.execute(
        "INSERT INTO region_outages (region, started_at, ended_at, cause)"
        " VALUES ('ap-south', %s, %s, 'most_sites')",
        (s2, s1),
    )
    found = uptime(db_url, site_id)
    assert (found.checks, found.up_checks, found.missed) == (3, 3, 1)


def test_a_single_region_site_counts_its_checks_as_before(db: Conn, db_url: str) -> None:
    site_id = add_site(db, ["default"])
    add_checks(db, site_id, minutes_ago(3, 2), {"default": True})
    add_checks(db, site_id, minutes_ago(1), {"default": False})
    add_checks(db, site_id, minutes_ago(4), {"default": None})
    found = uptime(db_url, site_id)
    assert (found.by_quorum, found.checks, found.up_checks, found.missed) == (False, 3, 2, 1)
    assert (found.quorum_from, found.regions, found.advisories) == (None, [], [])


def test_the_region_summary_of_a_site(db: Conn, db_url: str) -> None:
    site_id = add_site(db)
    slots = failing_south(db, site_id, 3, up_before=1)
    db.execute("INSERT INTO region_outages (region, started_at, cause) VALUES ('us-east', now(),"
               " 'canary')")  # fmt: skip
    found: list[Any] = with_core(
        db_url, lambda core: core.site_regions.summary(site_id, timedelta(hours=1))
    )
    assert [(r.region, r.checks, r.up_checks, r.last_up, r.out) for r in found] == [
        ("eu-west", 4, 4, True, False), ("us-east", 4, 4, True, True),
        ("ap-south", 4, 1, False, False),
    ]  # fmt: skip
    assert found[2].uptime_pct == 25.0 and found[2].p50_ms == 10.0 and found[2].avg_ms == 10.0
    assert found[0].last_checked_at == slots[-1]
