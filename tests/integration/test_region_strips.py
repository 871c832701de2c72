"""The overview's uptime, bars of ticks and the site chart of a site checked from several
regions, in the core (webmon.core.history) on a real PostgreSQL: by the quorum, as the
site's own page counts it, and one chart line per region; a site of one region as before."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.db import Conn
from tests.support.quorum import (
    REGIONS,
    add_checks,
    add_site,
    failing_south,
    minutes_ago,
    with_core,
)
from webmon.core.history_records import Chart

pytestmark = pytest.mark.integration


def south_failing(db: Conn, site_id: int) -> list[datetime]:
    """Eight slots: ap-south down in the last five, the other regions up (19 of 24 up)."""
    down = failing_south(db, site_id, 5, up_before=3)
    return [down[0] - timedelta(minutes=m) for m in (3, 2, 1)] + down


def test_the_overview_counts_a_site_of_several_regions_by_its_quorum(db: Conn, db_url: str) -> None:
    several = add_site(db)
    south_failing(db, several)
    single = add_site(db, ["default"])
    slots = minutes_ago(4, 3, 2, 1)
    add_checks(db, single, slots[:1], {"default": True})
    add_checks(db, single, slots[1:], {"default": False})
    ids = [several, single]

    mixed = with_core(db_url, lambda core: core.history.strips(ids))
    assert mixed[several].up_24h == pytest.approx(19 / 24)  # every region's checks together
    by_quorum = with_core(db_url, lambda core: core.history.strips(ids, by_quorum=[several]))
    assert (by_quorum[several].up_24h, by_quorum[several].up_30d) == (1.0, 1.0)
    page = with_core(db_url, lambda core: core.history.uptime(several, timedelta(hours=24)))
    assert page.uptime_pct == 100.0  # what its page says
    # A site of one region: its checks, as before, asked or not.
    assert by_quorum[single] == mixed[single]
    assert by_quorum[single].up_24h == pytest.approx(0.25)


def test_a_site_of_several_regions_has_a_tick_per_slot_by_its_quorum(db: Conn, db_url: str) -> None:
    several = add_site(db)
    slots = south_failing(db, several)
    down = minutes_ago(0)
    add_checks(db, several, down, {"eu-west": True, "us-east": False, "ap-south": False})
    single = add_site(db, ["default"])
    add_checks(db, single, slots[:2], {"default": True})
    ticks = with_core(
        db_url, lambda core: core.history.ticks([several, single], by_quorum=[several])
    )
    mine = ticks[several]
    assert [t.scheduled_at for t in mine] == [*slots, *down]  # one per slot, oldest first
    assert [t.state for t in mine] == ["up"] * 8 + ["down"]
    assert [t.failed_regions for t in mine] == [[]] * 3 + [["ap-south"]] * 5 + [
        ["ap-south", "us-east"]
    ]
    assert mine[0].reported_regions == sorted(REGIONS)
    assert [(t.state, t.failed_regions) for t in ticks[single]] == [("up", None)] * 2
    # Asked as a site of one region: a tick per check, the regions interleaved.
    assert len(with_core(db_url, lambda core: core.history.ticks([several]))[several]) == 27


def test_the_chart_of_a_site_of_several_regions_has_a_line_per_region(
    db: Conn, db_url: str
) -> None:
    several = add_site(db)
    slots = south_failing(db, several)
    db.execute(
        "UPDATE check_results SET response_time_ms = CASE region WHEN 'eu-west' THEN 40"
        " WHEN 'us-east' THEN 80 ELSE 120 END WHERE site_id = %s", (several,),
    )  # fmt: skip

    def chart(regions: list[str]) -> Chart:
        return with_core(
            db_url,
            lambda core: core.history.chart(several, timedelta(hours=24), "hour", 8, regions),
        )

    lines = chart(REGIONS)
    assert lines.step == "check" and lines.t == slots
    assert [(line.region, line.ms) for line in lines.regions] == [
        ("eu-west", [40.0] * 8), ("us-east", [80.0] * 8), ("ap-south", [120.0] * 8),
    ]  # fmt: skip
    # Of one region (or asked without its regions): one line of checks, no region lines.
    one = chart([])
    assert one.regions == [] and len(one.t) == 24
    # Beyond RAW_CHART_CHECKS slots: each region's buckets.
    hourly = with_core(
        db_url,
        lambda core: core.history.chart(several, timedelta(hours=24), "hour", 10_000, REGIONS),
    )
    assert hourly.step == "hour"
    assert [line.region for line in hourly.regions] == REGIONS
    assert {v for line in hourly.regions for v in line.ms if v is not None} == {40.0, 80.0, 120.0}
