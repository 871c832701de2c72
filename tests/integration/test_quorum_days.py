"""Uptime per day of a site checked from several regions, in the core on a real
PostgreSQL: the site page's day bars (webmon.core.history `days`) and the status page's
(webmon.core.status_views) count its slots by the quorum, as its uptime does, on the raw
days, the packed and rolled-up ones alike; a day whose checks are no longer kept is not
counted by quorum (and not from the rollups, which count each region apart). A site of
one region reads as before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from psycopg import sql

from tests.support.db import Conn
from tests.support.quorum import REGIONS, add_checks, add_site, failing_south, with_core
from webmon.core import OPERATOR, Core
from webmon.core.history_records import Day, RegionShare
from webmon.core.status_pages import PageIn
from webmon.core.status_views import PageView

pytestmark = pytest.mark.integration

SOUTH_DOWN = {"eu-west": True, "us-east": True, "ap-south": False}


def _day_of_checks(db: Conn, site_id: int, day: date, ups: dict[str, bool | None]) -> None:
    """Four slots of `day` (from 12:00 UTC), in the day's own partition, rolled up."""
    db.execute("SELECT webmon_create_partition(%s::date)", (day,))
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    add_checks(db, site_id, [noon + timedelta(minutes=m) for m in range(4)], ups)
    db.execute("SELECT webmon_rollup_day(%s::date)", (day,))


def _days_rolled_to(db: Conn, day: date) -> None:
    db.execute("UPDATE webmon_rollup_state SET days_rolled_to = %s", (day,))


def _by_day(days: list[Day]) -> dict[date, Day]:
    return {d.day: d for d in days}


def test_the_site_pages_days_count_a_site_of_several_regions_by_its_quorum(
    db: Conn, db_url: str
) -> None:
    several = add_site(db)
    failing_south(db, several, 5)  # 7 slots, ap-south down in the last 5
    days = with_core(db_url, lambda core: core.history.days(several, 3, by_quorum=True))
    assert len(days) == 3 and all(d.by_quorum for d in days)
    checked = [d for d in days if d.checks]  # today (and yesterday, just after midnight)
    assert sum(d.checks or 0 for d in checked) == 7  # slots, each once
    assert {d.up_share for d in checked} == {1.0}  # not 16 of 21 checks (76 %)
    assert {b.region for d in checked for b in d.below} == {"ap-south"}
    assert sum(d.region_checks for d in checked) == 21
    # A site of one region: its checks, from the same statement as before regions.
    single = add_site(db, ["default"])
    add_checks(db, single, [datetime.now(UTC) - timedelta(seconds=1)], {"default": False})
    plain = with_core(db_url, lambda core: core.history.days(single, 3))
    assert [(d.checks, d.up_share, d.by_quorum) for d in plain if d.checks] == [(1, 0.0, False)]


def test_packed_and_rolled_up_days_count_by_quorum_and_unkept_days_not_at_all(
    db: Conn, db_url: str
) -> None:
    site_id = add_site(db)
    today = datetime.now(UTC).date()
    packed, gone = today - timedelta(days=3), today - timedelta(days=10)
    _day_of_checks(db, site_id, gone, SOUTH_DOWN)
    # Past retention: its partition dropped, its rollups stay.
    db.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(f"check_results_{gone:%Y%m%d}")))
    _day_of_checks(db, site_id, packed, SOUTH_DOWN)
    assert db.execute("SELECT webmon_pack_day(%s::date)", (packed,)).fetchone() == (12,)
    _days_rolled_to(db, today - timedelta(days=1))
    days = _by_day(with_core(db_url, lambda core: core.history.days(site_id, 14, by_quorum=True)))
    assert (days[packed].checks, days[packed].up_share) == (4, 1.0)  # the rollups say 8 of 12
    assert days[packed].below == [RegionShare("ap-south", 0.0)]
    assert days[gone].unkept and days[gone].up_share is None and days[gone].region_checks == 12
    assert not days[today].unkept and days[today].checks is None  # no check at all
    # Its uptime over the same days says the same.
    uptime = with_core(db_url, lambda core: core.history.uptime(site_id, timedelta(days=14)))
    assert (uptime.by_quorum, uptime.checks, uptime.uptime_pct) == (True, 4, 100.0)


def _page(db_url: str, site_ids: list[int]) -> PageView:
    async def ask(core: Core) -> PageView:
        groups = [{"name": "Services", "site_ids": site_ids}]
        await core.status_pages.add(
            OPERATOR, PageIn.model_validate({"slug": "acme", "title": "Acme", "groups": groups})
        )
        return await core.status_views.page("acme")

    return with_core(db_url, ask)


def _sites(view: PageView) -> dict[int, Any]:
    return {s.id: s for g in view.groups for s in g.sites}


def test_the_status_pages_days_count_a_site_of_several_regions_by_its_quorum(
    db: Conn, db_url: str
) -> None:
    several = add_site(db)
    failing_south(db, several, 5)
    today = datetime.now(UTC).date()
    packed = today - timedelta(days=3)
    _day_of_checks(db, several, packed, SOUTH_DOWN)
    db.execute("SELECT webmon_pack_day(%s::date)", (packed,))
    _days_rolled_to(db, today - timedelta(days=1))
    single = add_site(db, ["default"])
    add_checks(db, single, [datetime.now(UTC) - timedelta(seconds=30)], {"default": False})
    add_checks(db, single, [datetime.now(UTC) - timedelta(seconds=20)], {"default": True})
    sites = _sites(_page(db_url, [several, single]))
    days = {d.day: d for d in sites[several].days}
    assert (days[packed].checks, days[packed].uptime) == (4, 1.0)  # not 8 of 12
    recent = [d for d in sites[several].days if d.day >= today - timedelta(days=1)]
    assert sum(d.checks for d in recent) == 7 and {d.uptime for d in recent} == {1.0}
    assert {d.level for d in sites[several].days} == {"up"}  # no red nor amber bar
    assert sites[several].uptime == 1.0
    # A site of one region: its checks, as before.
    assert [(d.checks, d.uptime) for d in sites[single].days] == [(2, 0.5)]
    assert sites[single].uptime == 0.5


def test_the_regions_own_days_stay_beside_the_quorums(db: Conn, db_url: str) -> None:
    site_id = add_site(db, [*REGIONS])
    today = datetime.now(UTC).date()
    down_two = {"eu-west": True, "us-east": False, "ap-south": False}
    _day_of_checks(db, site_id, today - timedelta(days=2), down_two)
    days = _by_day(with_core(db_url, lambda core: core.history.days(site_id, 3, by_quorum=True)))
    day = days[today - timedelta(days=2)]
    assert (day.checks, day.up_share) == (4, 0.0)  # two of three: the quorum says down
    assert day.below == [RegionShare("ap-south", 0.0), RegionShare("us-east", 0.0)]
