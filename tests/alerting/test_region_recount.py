"""A region's outage recount decides its sites' states in one pass (`region_states` in
checker/writer/queries.sql), the readers a slot at a time (webmon_slot_verdict): after an
outage opens, and again after it ends, each site's flips and status are the readers'.

The sites mix what the pass must get right: three regions with their patterns rotated
(states that flip around the outage's start), a quorum of one and of three, a site of the
outage's region alone (no state left inside the outage), missed slots and slots a region
has not reported, and sites whose window holds no state before the slot (counted as a late
result is, `recount_events`) beside those whose window does."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from checker.writer import write_results
from checker.writer.outage_recount import QUERIES, recount_region
from shared.db import Database
from tests.alerting.test_quorum import (
    PATTERNS,
    T0,
    add_site,
    database,
    events,
    flips_of_states,
    m,
    rows_of,
    status,
)
from tests.support.db import Conn

__all__ = ["database"]  # the fixture, used below by name

pytestmark = pytest.mark.integration

OUT = "us-east"


def add_sites_of_every_kind(db: Conn, database: Database) -> list[int]:
    sites = []
    for shift in range(0, 24, 3):
        rotated = {r: p[shift:] + p[:shift] for r, p in PATTERNS.items()}
        for quorum in (None, 1, 3):
            site = add_site(db, quorum=quorum)
            write_results(database, rows_of(site, rotated))
            sites.append(site)
    alone = add_site(db, regions=(OUT,))
    write_results(database, rows_of(alone, {OUT: PATTERNS[OUT]}, count=1))
    return [*sites, alone]


def recount(db_url: str, since: datetime, change: str) -> int:
    """Open or end the region's outage at `since`, then count its sites again, as the writer
    does (region_health._recount), in one transaction."""
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        if change == "open":
            cur.execute(
                "INSERT INTO region_outages (region, started_at, cause) VALUES (%s, %s, 'canary')",
                (OUT, since),
            )
        else:
            cur.execute(
                "UPDATE region_outages SET ended_at = %s WHERE region = %s AND ended_at IS NULL",
                (since, OUT),
            )
        cur.execute(QUERIES["lock_region_sites"], {"region": OUT})
        return recount_region(cur, conn, OUT, since)


def assert_readers_states(db: Conn, sites: list[int]) -> None:
    for site in sites:
        assert events(db, site) == flips_of_states(db, site), site
        last = db.execute(
            "SELECT scheduled_at - %s, up FROM webmon_site_states(%s, '-infinity', 'infinity')"
            " ORDER BY scheduled_at DESC LIMIT 1",
            (T0, site),
        ).fetchone()
        assert status(db, site) == last, site


@pytest.mark.parametrize(("opens", "ends"), [(5, 9), (12, 20), (2, 30)])
def test_the_region_recount_is_the_readers_states(
    database: Database, db: Conn, db_url: str, opens: int, ends: int
) -> None:
    sites = add_sites_of_every_kind(db, database)
    before = {site: events(db, site) for site in sites}
    assert recount(db_url, T0 + m(opens), "open") == len(sites)
    assert_readers_states(db, sites)
    # The outage changed what counts: some sites' flips are not what they were.
    assert any(events(db, site) != before[site] for site in sites)
    assert recount(db_url, T0 + m(ends), "end") == len(sites)
    assert_readers_states(db, sites)


def test_a_site_without_a_state_in_its_window_keeps_its_older_one(
    database: Database, db: Conn, db_url: str
) -> None:
    """Checked from the outage's region alone, last up at slot 5, then not again until
    slot 20, inside the outage from 12: its window (two intervals before 12) holds no
    state, so its flips and status are found a slot at a time, back to slot 5."""
    site = add_site(db, regions=(OUT,))
    write_results(database, rows_of(site, {OUT: "UUUDDU" + " " * 14 + "D"}, count=1))
    assert status(db, site) == (m(20), False)
    assert recount(db_url, T0 + m(12), "open") == 1
    assert_readers_states(db, [site])
    assert status(db, site) == (m(5), True)
