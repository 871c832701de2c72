"""History over months: partitions, packing, rollups, state changes (real PostgreSQL).

The maintenance job runs with a fixed clock; results go in through the writer's own
transaction (`write_results`), as they would from Kafka.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from psycopg import sql

from checker.writer import write_results
from scheduler.maintenance import Maintenance, MaintenanceReport
from scheduler.settings import SchedulerSettings
from shared import locks
from shared.db import Database
from shared.messages import CheckResult, CheckTask
from tests.support.db import Conn, add_sites
from webmon.core.history import DOCUMENTED as HISTORY

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 20, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    with Database(db_url, max_size=2) as db:
        yield db


def settings(db_url: str, **overrides: Any) -> SchedulerSettings:
    return SchedulerSettings(
        database_url=db_url,
        kafka_bootstrap_servers="127.0.0.1:1",  # never contacted
        _env_file=None,  # type: ignore[call-arg]
        **overrides,
    )


def maintain(database: Database, db_url: str, now: datetime, **overrides: Any) -> MaintenanceReport:
    report = Maintenance(database, settings(db_url, **overrides), clock=lambda: now).run()
    assert report is not None and report.finished
    return report


def result(site_id: int, slot: datetime, up: bool, rt: float | None = 10.0) -> CheckResult:
    return CheckResult(
        site_id=site_id,
        url=f"http://127.0.0.1:9/{site_id}",
        scheduled_at=slot,
        checked_at=slot + timedelta(milliseconds=250),
        response_time_ms=rt,
        status_code=200 if up else (500 if rt is not None else None),
        error=None if up else ("http_status" if rt is not None else "connect"),
        up=up,
    )


def partitions(db: Conn, parent: str) -> set[str]:
    rows = db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (parent,),
    ).fetchall()
    return {row[0] for row in rows}


def day_name(parent: str, day: date) -> str:
    return f"{parent}_{day:%Y%m%d}"


# -- partitions -------------------------------------------------------------------------


def test_partitions_are_created_ahead_and_dropped_after_retention(
    db: Conn, database: Database, db_url: str
) -> None:
    old = [TODAY - timedelta(days=d) for d in (40, 31, 30, 29)]
    for day in old:
        db.execute("SELECT webmon_create_partition(%s)", (day,))
    db.execute("SELECT webmon_month_partition('check_rollups_hourly', '2025-09-01')")
    db.execute("SELECT webmon_month_partition('check_rollups_daily', '2025-10-01')")

    report = maintain(
        database, db_url, NOW, partitions_ahead_days=4, retention_days=30,
        rollup_retention_days=400, pack_after_days=60,
    )  # fmt: skip

    raw = partitions(db, "check_results")
    for ahead in range(4):
        assert day_name("check_results", TODAY + timedelta(days=ahead)) in raw
    # Day 30 back is the first day kept; 31 and 40 are gone.
    assert day_name("check_results", old[0]) not in raw
    assert day_name("check_results", old[1]) not in raw
    assert day_name("check_results", old[2]) in raw
    assert day_name("check_results", old[3]) in raw
    # 400 days before 2026-11-23 is 2025-10-19: September 2025 ended before it, October not.
    assert "check_rollups_hourly_202509" not in partitions(db, "check_rollups_hourly")
    assert "check_rollups_daily_202510" in partitions(db, "check_rollups_daily")
    assert set(report.dropped) == {
        day_name("check_results", old[0]),
        day_name("check_results", old[1]),
        "check_rollups_hourly_202509",
    }
    # A second run finds nothing to do.
    again = maintain(database, db_url, NOW, partitions_ahead_days=4, pack_after_days=60)
    assert again.partitions_created == 0 and again.dropped == []


def test_inserts_far_in_the_future_or_past_never_fail(db: Conn, database: Database) -> None:
    (site,) = add_sites(db, 1)
    far = [datetime(2001, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC)]
    assert write_results(database, [result(site, slot, True) for slot in far]) == 2
    stored = db.execute(
        "SELECT scheduled_at FROM check_results_default WHERE site_id = %s ORDER BY 1", (site,)
    ).fetchall()
    assert [row[0] for row in stored] == far
    # Creating the partition of such a day later moves its rows in.
    db.execute("SELECT webmon_create_partition('2099-12-31')")
    assert db.execute("SELECT count(*) FROM check_results_20991231").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM check_results").fetchone() == (2,)


def test_only_one_scheduler_maintains_at_a_time(db: Conn, database: Database, db_url: str) -> None:
    db.execute("SELECT pg_advisory_lock(%s)", (locks.MAINTENANCE,))
    try:
        assert Maintenance(database, settings(db_url), clock=lambda: NOW).run() is None
    finally:
        db.execute("SELECT pg_advisory_unlock(%s)", (locks.MAINTENANCE,))
    assert Maintenance(database, settings(db_url), clock=lambda: NOW).run() is not None


# -- rollups ----------------------------------------------------------------------------


def percentile_cont(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def expected_rollup(rows: list[CheckResult]) -> tuple[int, int, float, float, float, float, float]:
    # Response time statistics count the checks that got a response.
    times = [
        r.response_time_ms
        for r in rows
        if r.status_code is not None and r.response_time_ms is not None
    ]
    return (
        len(rows),
        sum(1 for r in rows if r.up),
        min(times),
        sum(times) / len(times),
        max(times),
        percentile_cont(times, 0.5),
        percentile_cont(times, 0.95),
    )


def stored_rollups(db: Conn, table: str, key: str) -> dict[tuple[int, Any], tuple[Any, ...]]:
    query = sql.SQL(
        "SELECT site_id, {}, checks, up_checks, rt_min_ms, rt_avg_ms, rt_max_ms, "
        "rt_p50_ms, rt_p95_ms FROM {}"
    ).format(sql.Identifier(key), sql.Identifier(table))
    rows = db.execute(query).fetchall()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def assert_rollups_equal(
    stored: dict[tuple[int, Any], tuple[Any, ...]],
    expected: dict[tuple[int, Any], tuple[int, int, float, float, float, float, float]],
) -> None:
    assert stored.keys() == expected.keys()
    for key, want in expected.items():
        got = stored[key]
        assert got[:2] == want[:2], key
        assert got[2:] == pytest.approx(want[2:], rel=1e-6), key  # real: 7 digits


def test_rollups_equal_a_recount_from_raw_rows_including_late_results(
    db: Conn, database: Database, db_url: str
) -> None:
    sites = add_sites(db, 3)
    rng = random.Random(7)
    start = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # three hours either side of midnight
    rows: list[CheckResult] = []
    for site in sites:
        phase = timedelta(seconds=rng.randrange(60))
        for k in range(6 * 60):
            slot = start + phase + timedelta(minutes=k)
            roll = rng.random()
            if roll < 0.05:
                rows.append(result(site, slot, False, rt=None))  # no response at all
            elif roll < 0.15:
                rows.append(result(site, slot, False, rt=rng.uniform(1, 50)))
            else:
                rows.append(result(site, slot, True, rt=rng.lognormvariate(3, 0.7)))
    late = [r for r in rows if r.scheduled_at.hour == 22 and r.scheduled_at.minute < 5]
    on_time = [r for r in rows if r not in late]
    for i in range(0, len(on_time), 500):
        write_results(database, on_time[i : i + 500])

    # 03:00 + 10 minutes of settling: every hour up to 03:00 is rolled up.
    report = maintain(database, db_url, datetime(2026, 11, 23, 3, 10, tzinfo=UTC))
    assert report.hours_rolled == 6 and report.days_rolled == 1

    def by_hour(subset: list[CheckResult]) -> dict[tuple[int, Any], Any]:
        groups: dict[tuple[int, Any], list[CheckResult]] = {}
        for r in subset:
            hour = r.scheduled_at.replace(minute=0, second=0, microsecond=0)
            groups.setdefault((r.site_id, hour), []).append(r)
        return {key: expected_rollup(group) for key, group in groups.items()}

    def by_day(subset: list[CheckResult]) -> dict[tuple[int, Any], Any]:
        groups: dict[tuple[int, Any], list[CheckResult]] = {}
        for r in subset:
            if r.scheduled_at.date() < date(2026, 11, 23):
                groups.setdefault((r.site_id, r.scheduled_at.date()), []).append(r)
        return {key: expected_rollup(group) for key, group in groups.items()}

    assert_rollups_equal(stored_rollups(db, "check_rollups_hourly", "hour"), by_hour(on_time))
    assert_rollups_equal(stored_rollups(db, "check_rollups_daily", "day"), by_day(on_time))

    # Results that arrive after their hour was rolled up are queued and recounted.
    write_results(database, late)
    queued = db.execute("SELECT hour FROM webmon_rollup_queue").fetchall()
    assert queued == [(datetime(2026, 11, 22, 22, tzinfo=UTC),)]
    report = maintain(database, db_url, datetime(2026, 11, 23, 3, 20, tzinfo=UTC))
    assert report.hours_rolled == 1 and report.days_rolled == 1
    assert_rollups_equal(stored_rollups(db, "check_rollups_hourly", "hour"), by_hour(rows))
    assert_rollups_equal(stored_rollups(db, "check_rollups_daily", "day"), by_day(rows))


# -- packing ----------------------------------------------------------------------------

SELECT_ALL_COLUMNS = (
    "SELECT site_id, scheduled_at, checked_at, response_time_ms, status_code, up, regex_matched, "
    "error, error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms, redirects, tls_version, "
    "tls_expires_at FROM "
)


def test_packed_days_keep_every_check_and_take_late_results(
    db: Conn, database: Database, db_url: str
) -> None:
    sites = add_sites(db, 4)
    day = TODAY - timedelta(days=2)
    db.execute("SELECT webmon_create_partition(%s)", (day,))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows = [
        result(site, start + timedelta(minutes=7 * k, seconds=site % 60), k % 9 != 0, rt=5.0 + k)
        for site in sites
        for k in range(200)
    ]
    rows[3] = CheckResult(
            site_id=rows[3].site_id, url="https://x", scheduled_at=rows[3].scheduled_at,
            checked_at=rows[3].checked_at,
            response_time_ms=1.5, status_code=200, up=True, regex_matched=True, dns_ms=0.25,
            connect_ms=0.5, tls_ms=2.0, ttfb_ms=1.0, redirects=1, tls_version="TLSv1.3",
            tls_expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        )  # fmt: skip
    write_results(database, rows)
    before = db.execute(SELECT_ALL_COLUMNS + "check_results ORDER BY 1, 2").fetchall()

    report = maintain(database, db_url, NOW, pack_after_days=1)
    assert report.days_packed == [day]
    assert day_name("check_results", day) not in partitions(db, "check_results")
    assert db.execute(
        "SELECT count(*), sum(checks) FROM check_results_packed WHERE day = %s", (day,)
    ).fetchone() == (4, 800)
    after = db.execute(SELECT_ALL_COLUMNS + "check_results_all ORDER BY 1, 2").fetchall()
    assert after == before

    # A late result for the packed day (and a redelivery of a packed one) waits in the
    # default partition, then is folded in, once.
    late_slot = start + timedelta(hours=23, minutes=59)
    write_results(database, [result(sites[0], late_slot, False), rows[10]])
    report = maintain(database, db_url, NOW + timedelta(minutes=5), pack_after_days=1)
    assert report.late_days_folded == [day]
    assert db.execute("SELECT count(*) FROM check_results_default").fetchone() == (0,)
    counts = db.execute(
        "SELECT site_id, checks FROM check_results_packed WHERE day = %s ORDER BY 1", (day,)
    ).fetchall()
    assert counts == [(sites[0], 201)] + [(site, 200) for site in sites[1:]]
    hour = db.execute(
        "SELECT checks FROM check_rollups_hourly WHERE site_id = %s AND hour = %s",
        (sites[0], late_slot.replace(minute=0)),
    ).fetchone()
    assert hour == (
        sum(1 for r in rows if r.site_id == sites[0] and r.scheduled_at.hour == 23) + 1,
    )


# -- site_events ------------------------------------------------------------------------


def scripted(site: int, n: int, rng: random.Random) -> list[CheckResult]:
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    up = True
    rows = []
    for k in range(n):
        if rng.random() < 0.3:
            up = not up
        rows.append(result(site, start + timedelta(minutes=k), up))
    return rows


def expected_flips(rows: list[CheckResult]) -> list[tuple[Any, ...]]:
    flips = []
    previous: bool | None = None
    for r in rows:
        if r.up != previous:
            flips.append((r.site_id, r.scheduled_at, previous, r.up))
        previous = r.up
    return flips


def stored_flips(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT site_id, scheduled_at, from_up, to_up FROM site_events ORDER BY 1, 2"
    ).fetchall()


def test_site_events_hold_exactly_the_flips_in_order(db: Conn, database: Database) -> None:
    sites = add_sites(db, 3)
    rng = random.Random(1)
    scripts = [scripted(site, 60, rng) for site in sites]
    for k in range(60):  # one batch per slot, all sites together
        write_results(database, [script[k] for script in scripts])
    want = [flip for script in scripts for flip in expected_flips(script)]
    assert len(want) > 20
    assert stored_flips(db) == want


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_site_events_hold_exactly_the_flips_when_results_arrive_out_of_order(
    db: Conn, database: Database, seed: int
) -> None:
    sites = add_sites(db, 4)
    rng = random.Random(seed)
    scripts = [scripted(site, 80, rng) for site in sites]
    deliveries = [r for script in scripts for r in script]
    deliveries += rng.sample(deliveries, 40)  # redeliveries
    rng.shuffle(deliveries)
    while deliveries:
        size = rng.randint(1, 25)
        batch, deliveries = deliveries[:size], deliveries[size:]
        write_results(database, batch)
    assert stored_flips(db) == [flip for script in scripts for flip in expected_flips(script)]
    # site_status holds the newest result whatever the order.
    latest = db.execute("SELECT site_id, scheduled_at, up FROM site_status ORDER BY 1").fetchall()
    assert latest == [(s[-1].site_id, s[-1].scheduled_at, s[-1].up) for s in scripts]


class StopAfter(threading.Event):
    """A stop request that arrives after `calls` checks of it: a run cut short mid-way."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0 or super().is_set()


def test_a_run_cut_short_leaves_its_work_queued_for_the_next(
    db: Conn, database: Database, db_url: str
) -> None:
    (site,) = add_sites(db, 1)
    start = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    write_results(database, [result(site, start + timedelta(minutes=k), True) for k in range(300)])
    now = datetime(2026, 11, 23, 1, 15, tzinfo=UTC)
    # Three steps: November 22nd's rows wait in the default partition (the database has no
    # partition for that day) and the first step gives the day its own; two hours follow.
    cut = Maintenance(database, settings(db_url), stop=StopAfter(3), clock=lambda: now).run()
    assert cut is not None and not cut.finished and cut.hours_rolled == 2
    # The queries do not trust the hours that are still queued.
    state = db.execute("SELECT counted_to, rolled_up_to FROM webmon_rollup_state").fetchone()
    assert state == (datetime(2026, 11, 23, 1, tzinfo=UTC), None)

    report = maintain(database, db_url, now)
    assert report.hours_rolled == 3 and report.days_rolled == 1
    hours = db.execute("SELECT hour, checks FROM check_rollups_hourly ORDER BY 1").fetchall()
    assert hours == [(start + timedelta(hours=h), 60) for h in range(5)]
    assert db.execute("SELECT checks FROM check_rollups_daily").fetchall() == [(240,)]
    assert db.execute(
        "SELECT rolled_up_to, days_rolled_to FROM webmon_rollup_state"
    ).fetchone() == (
        datetime(2026, 11, 23, 1, tzinfo=UTC),
        date(2026, 11, 23),
    )


def test_results_of_a_deleted_site_do_not_stop_the_batch(db: Conn, database: Database) -> None:
    kept, deleted = add_sites(db, 2)
    slot = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    db.execute("DELETE FROM sites WHERE id = %s", (deleted,))
    batch = [result(kept, slot, True), result(deleted, slot, False)]
    assert write_results(database, batch) == 2
    assert db.execute("SELECT site_id FROM site_status").fetchall() == [(kept,)]


def test_a_redelivered_batch_with_a_deleted_site_is_still_written(
    db: Conn, database: Database
) -> None:
    kept, deleted = add_sites(db, 2)
    slot = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert write_results(database, [result(kept, slot, True)]) == 1
    db.execute("DELETE FROM sites WHERE id = %s", (deleted,))
    # A stored check and a site deleted meanwhile in one batch: both fallbacks at once.
    batch = [result(kept, slot, True), result(deleted, slot, False)]
    assert write_results(database, batch) == 1
    assert db.execute("SELECT site_id FROM site_status").fetchall() == [(kept,)]
    assert db.execute("SELECT count(*) FROM check_results").fetchone() == (2,)


def test_the_first_run_on_an_empty_database_sets_the_marks(
    db: Conn, database: Database, db_url: str
) -> None:
    maintain(database, db_url, NOW)
    marks = db.execute("SELECT counted_to, rolled_up_to FROM webmon_rollup_state").fetchone()
    assert marks == (datetime(2026, 11, 23, 12, tzinfo=UTC),) * 2
    # A result for an hour before the mark is then queued by the writer.
    (site,) = add_sites(db, 1)
    write_results(database, [result(site, datetime(2026, 11, 23, 11, 30, tzinfo=UTC), True)])
    assert db.execute("SELECT hour FROM webmon_rollup_queue").fetchall() == [
        (datetime(2026, 11, 23, 11, tzinfo=UTC),)
    ]


def test_missed_slots_are_counted_apart_and_left_out_of_uptime(
    db: Conn, database: Database, db_url: str
) -> None:
    (site,) = add_sites(db, 1)
    start = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)
    rows: list[CheckResult] = []
    for k in range(60):
        slot = start + timedelta(minutes=k)
        if k % 10 == 9:  # six slots nobody checked in time
            task = CheckTask(
                site_id=site, url="http://x", timeout_s=5, scheduled_at=slot,
                expires_at=slot + timedelta(minutes=1),
            )  # fmt: skip
            rows.append(CheckResult.missed(task, slot + timedelta(minutes=1)))
        else:
            rows.append(result(site, slot, up=k % 3 != 0))
    write_results(database, rows)
    maintain(database, db_url, datetime(2026, 11, 23, 3, 10, tzinfo=UTC))
    performed = [r for r in rows if r.up is not None]
    up_checks = sum(1 for r in performed if r.up)
    for table, key in (("check_rollups_hourly", "hour"), ("check_rollups_daily", "day")):
        stored = db.execute(
            sql.SQL("SELECT checks, up_checks, missed FROM {}").format(sql.Identifier(table))
        ).fetchall()
        assert stored == [(len(performed), up_checks, 6)], (table, key)
    uptime = db.execute(
        HISTORY["uptime"], {"site_id": site, "since": "30 days", "region": None}
    ).fetchone()
    assert uptime is not None
    checks, ups, pct, missed = uptime
    assert (checks, ups, missed) == (54, up_checks, 6)
    assert float(pct) == pytest.approx(100 * up_checks / 54, abs=1e-3)
