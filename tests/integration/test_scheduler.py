"""The scheduler against a real PostgreSQL and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from scheduler import slots
from scheduler.service import QUERIES, Scheduler, make_scheduler_producer
from scheduler.settings import SchedulerSettings
from scheduler.wakeups import SiteChanges
from shared.db import Database
from shared.kafka import Producer
from tests.support.db import Conn, scalar
from tests.support.processes import wait_for
from tests.support.services import Services
from tests.support.settings import settings_from_env
from tests.support.topics import count_at_least, read_all, read_topic

pytestmark = pytest.mark.integration


def insert_due_sites(db: Conn, count: int, *, due_at: datetime, interval: int = 60) -> None:
    db.execute(
        """
        INSERT INTO sites (url, interval_seconds, next_check_at)
        SELECT 'http://127.0.0.1:9/site/' || g, %(interval)s, %(due_at)s
          FROM generate_series(1, %(count)s) AS g
        """,
        {"count": count, "due_at": due_at, "interval": interval},
    )


class Resources:
    def __init__(self, db: Database, producer: Producer, scheduler: Scheduler) -> None:
        self.db, self.producer, self.scheduler = db, producer, scheduler

    def close(self) -> None:
        self.scheduler.close()
        self.producer.close(1)
        self.db.close()


def make_scheduler(
    env: dict[str, str], stop: threading.Event | None = None, **overrides: object
) -> tuple[Scheduler, Resources]:
    """An in-process scheduler on the test's database and topic; close the second item."""
    settings = settings_from_env(SchedulerSettings, env, **overrides)
    db = Database(settings.database_url.get_secret_value(), pool_timeout_s=3)
    db.open()
    producer = make_scheduler_producer(settings)
    scheduler = Scheduler(settings, db, producer, stop)
    return scheduler, Resources(db, producer, scheduler)


def tasks(env: dict[str, str], services: Services) -> list[dict[str, Any]]:
    """Every task now on the test's topic."""
    messages = read_all(services.kafka_bootstrap, env["WEBMON_TASKS_TOPIC"])
    return [orjson.loads(m.value() or b"") for m in messages]


def test_ten_thousand_due_sites_become_ten_thousand_tasks(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    due_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    insert_due_sites(db, 10_000, due_at=due_at)
    scheduler, pool = make_scheduler(env)
    try:
        assert scheduler.drain() == 10_000
    finally:
        pool.close()

    emitted = tasks(env, services)
    assert len(emitted) == 10_000
    assert len({t["site_id"] for t in emitted}) == 10_000
    # The same instants, however spelt (msgspec writes UTC as "Z", orjson wrote "+00:00").
    assert {datetime.fromisoformat(t["scheduled_at"]) for t in emitted} == {due_at}
    assert {datetime.fromisoformat(t["expires_at"]) for t in emitted} == {
        due_at + timedelta(seconds=60)
    }
    advanced = db.execute(
        "SELECT count(*) FROM sites WHERE next_check_at = %s", (due_at + timedelta(seconds=60),)
    ).fetchone()
    assert advanced == (10_000,)


def test_two_schedulers_split_the_work_without_duplicates(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    insert_due_sites(db, 20_000, due_at=datetime.now(UTC) - timedelta(seconds=5))
    pairs = [make_scheduler(env, claim_batch_size=1000) for _ in range(2)]
    counts: list[int] = []
    start = threading.Barrier(2)

    def run(s: Scheduler) -> None:
        start.wait()
        counts.append(s.drain())

    threads = [threading.Thread(target=run, args=(s,)) for s, _ in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for _, pool in pairs:
        pool.close()

    assert sum(counts) == 20_000
    assert all(c > 0 for c in counts), counts  # both took part
    emitted = tasks(env, services)
    assert len(emitted) == 20_000
    assert len({(t["site_id"], t["scheduled_at"]) for t in emitted}) == 20_000


def test_unreachable_broker_moves_no_site_and_recovers(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    from devstack.localstack import free_port

    insert_due_sites(db, 500, due_at=datetime.now(UTC) - timedelta(seconds=1))
    before = db.execute("SELECT id, next_check_at FROM sites ORDER BY id").fetchall()

    dead_env = {**env, "WEBMON_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    scheduler, pool = make_scheduler(dead_env, flush_timeout_s=1.0)
    try:
        scheduler.tick()
        assert scheduler.totals.failed_batches == 1
        assert scheduler.totals.emitted == 0
    finally:
        pool.close()
    assert db.execute("SELECT id, next_check_at FROM sites ORDER BY id").fetchall() == before

    scheduler, pool = make_scheduler(env)
    try:
        scheduler.tick()
    finally:
        pool.close()
    assert scheduler.totals.emitted == 500
    assert len(tasks(env, services)) == 500


def test_paused_broker_rolls_back_then_the_same_scheduler_catches_up(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    stack: Any = services.stack
    if stack is None:
        pytest.skip("needs the embedded stack to pause the broker")
    insert_due_sites(db, 300, due_at=datetime.now(UTC) - timedelta(seconds=1))
    scheduler, pool = make_scheduler(env, flush_timeout_s=1.0)
    try:
        stack.broker_pause()
        try:
            scheduler.tick()
            assert scheduler.totals.emitted == 0
            assert scheduler.totals.failed_batches == 1
            due = db.execute("SELECT count(*) FROM sites WHERE next_check_at <= now()").fetchone()
            assert due == (300,)
        finally:
            stack.broker_resume()
        deadline = time.monotonic() + 30
        while scheduler.totals.emitted < 300 and time.monotonic() < deadline:
            scheduler.tick()  # returns at once while the backoff runs
            time.sleep(0.05)
    finally:
        pool.close()
    assert scheduler.totals.emitted == 300
    emitted = tasks(env, services)
    assert len({t["site_id"] for t in emitted}) == 300


def test_overdue_site_gets_one_task_and_a_future_slot(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    due_at = datetime.now(UTC) - timedelta(hours=1, seconds=10)
    insert_due_sites(db, 1, due_at=due_at)
    scheduler, pool = make_scheduler(env)
    try:
        assert scheduler.drain() == 1
        assert scheduler.drain() == 0
    finally:
        pool.close()
    row = db.execute("SELECT next_check_at, now() FROM sites").fetchone()
    assert row is not None
    next_check_at, now = row
    assert now < next_check_at <= now + timedelta(seconds=60)
    # Still on the site's own grid: no drift.
    assert (next_check_at - due_at).total_seconds() % 60 == pytest.approx(0, abs=1e-6)
    (task,) = tasks(env, services)
    assert datetime.fromisoformat(task["scheduled_at"]) == next_check_at - timedelta(seconds=60)
    assert len(tasks(env, services)) == 1


def test_disabled_site_gets_no_task(env: dict[str, str], services: Services, db: Conn) -> None:
    insert_due_sites(db, 3, due_at=datetime.now(UTC) - timedelta(seconds=1))
    db.execute("UPDATE sites SET enabled = false WHERE id = (SELECT min(id) FROM sites)")
    scheduler, pool = make_scheduler(env)
    try:
        assert scheduler.drain() == 2
    finally:
        pool.close()
    assert len(tasks(env, services)) == 2


def test_new_sites_are_spread_over_their_first_interval(db: Conn) -> None:
    db.execute(
        "INSERT INTO sites (url, interval_seconds) "
        "SELECT 'https://example.com/' || g, 300 FROM generate_series(1, 2000) g"
    )
    row = db.execute(
        """
        SELECT min(next_check_at - created_at), max(next_check_at - created_at),
               count(DISTINCT date_trunc('second', next_check_at))
          FROM sites
        """
    ).fetchone()
    assert row is not None
    earliest, latest, distinct_seconds = row
    assert earliest >= timedelta(0)
    assert latest < timedelta(seconds=300)
    assert distinct_seconds > 200  # 2,000 sites over 300 s: spread, not one burst


def test_sql_slot_arithmetic_matches_the_documented_rule(db: Conn) -> None:
    """claim_due's SQL and scheduler.slots.claim agree on many cases."""
    cases = [(s, i) for i in (1, 7, 60, 3600) for s in (0.0, 0.5, 59.9, 60.0, 3599.0, 86_400.5)]
    # One transaction so that now() is the same for the claim as for the expectation.
    for overdue_s, interval in cases:
        with db.transaction():
            db.execute("DELETE FROM sites")
            row = db.execute(
                "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
                "VALUES ('https://example.com', %s, 1, now() - %s * interval '1 second') "
                "RETURNING next_check_at, now()",
                (interval, overdue_s),
            ).fetchone()
            assert row is not None
            due_at, tx_now = row
            claimed = db.execute(QUERIES["claim_due"], {"batch_size": 10}).fetchall()
            assert len(claimed) == 1
            scheduled_at, expires_at = claimed[0][4], claimed[0][5]
            assert (scheduled_at, expires_at) == slots.claim(due_at, interval, tx_now)


def test_sigterm_during_a_long_drain_exits_cleanly(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    due_at = datetime.now(UTC) - timedelta(seconds=1)
    insert_due_sites(db, 100_000, due_at=due_at)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler"],
        env={**os.environ, **env, "WEBMON_CLAIM_BATCH_SIZE": "1000"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = db.execute("SELECT count(*) FROM sites WHERE next_check_at > %s", (due_at,))
            advanced = row.fetchone()
            if advanced and advanced[0] >= 5_000:
                break
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        output, _ = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output.decode()
    assert took < 10, took
    assert b"scheduler.stopped" in output

    advanced_ids = {
        r[0] for r in db.execute("SELECT id FROM sites WHERE next_check_at > %s", (due_at,))
    }
    still_due = db.execute(
        "SELECT count(*) FROM sites WHERE next_check_at = %s", (due_at,)
    ).fetchone()
    assert still_due is not None
    assert len(advanced_ids) + still_due[0] == 100_000
    assert 0 < len(advanced_ids) < 100_000, "the stop should land mid-drain"
    emitted = tasks(env, services)
    assert {t["site_id"] for t in emitted} == advanced_ids
    assert len(emitted) == len(advanced_ids)


def test_database_outage_is_survived_and_logged_once(
    env: dict[str, str], services: Services, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    stack: Any = services.stack
    if stack is None:
        pytest.skip("needs the embedded stack to stop PostgreSQL")
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_due_sites(conn, 100, due_at=datetime.now(UTC) - timedelta(seconds=1))
    scheduler, resources = make_scheduler(env)
    try:
        with caplog.at_level("INFO", logger="scheduler.service"):
            stack.pg_stop()
            try:
                deadline = time.monotonic() + 30
                while scheduler.totals.failed_batches < 2 and time.monotonic() < deadline:
                    scheduler.tick()  # fails and backs off; never raises
                    time.sleep(0.05)
                assert scheduler.totals.failed_batches >= 2
                assert scheduler.totals.emitted == 0
            finally:
                stack.pg_start()
            deadline = time.monotonic() + 60
            while scheduler.totals.emitted < 100 and time.monotonic() < deadline:
                scheduler.tick()
                time.sleep(0.05)
    finally:
        resources.close()
    assert scheduler.totals.emitted == 100
    events = [r.getMessage().split(" ", 1)[0] for r in caplog.records]
    assert events.count("db.lost") == 1, events
    assert events.count("db.recovered") == 1, events
    assert len(tasks(env, services)) == 100


# --- waking up when work is due ------------------------------------------------------------


@contextmanager
def claim_loop(env: dict[str, str], **overrides: object) -> Iterator[SiteChanges]:
    """`Scheduler.run` in a thread, as webmon-scheduler runs it, until the block ends."""
    stop = threading.Event()
    scheduler, pool = make_scheduler(env, stop, **overrides)
    changes = SiteChanges(env["WEBMON_DATABASE_URL"], stop)
    thread = threading.Thread(target=scheduler.run, args=(changes,), daemon=True)
    thread.start()
    try:
        yield changes
    finally:
        stop.set()
        thread.join(timeout=30)
        changes.close()
        pool.close()
    assert not thread.is_alive()


def first_task_at(env: dict[str, str], services: Services) -> datetime:
    """When the broker got the first task on the test's topic (its CreateTime)."""
    messages = read_topic(
        services.kafka_bootstrap, env["WEBMON_TASKS_TOPIC"], until=count_at_least(1)
    )
    assert messages, "no task"
    return datetime.fromtimestamp(messages[0].timestamp()[1] / 1000, UTC)


def test_a_site_inserted_while_the_scheduler_sleeps_gets_its_first_task_within_a_second(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    # Nothing is due and the longest sleep is 30 s: only the insert's notification can wake
    # the scheduler in time.
    with claim_loop(env, tick_seconds=30) as changes:
        wait_for(lambda: changes.listening, what="the scheduler to listen")
        inserted_at = scalar(
            db,
            "INSERT INTO sites (url, next_check_at) VALUES ('http://127.0.0.1:9/new', now()) "
            "RETURNING now()",
        )
        emitted_at = first_task_at(env, services)
    assert changes.wakeups >= 1
    assert timedelta(0) <= emitted_at - inserted_at < timedelta(seconds=1)


def test_the_scheduler_wakes_when_the_earliest_site_is_due(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    due_at = scalar(
        db,
        "INSERT INTO sites (url, next_check_at) "
        "VALUES ('http://127.0.0.1:9/soon', now() + interval '2 seconds') RETURNING next_check_at",
    )
    with claim_loop(env, tick_seconds=30):
        emitted_at = first_task_at(env, services)
    # Not before the site is due, and not a tick (30 s) later either.
    assert timedelta(0) <= emitted_at - due_at < timedelta(seconds=0.5)


def test_a_claim_moving_a_site_later_wakes_no_scheduler(db: Conn) -> None:
    """Only changes that make a site due sooner notify; the claims themselves do not."""
    db.execute("INSERT INTO sites (url, next_check_at) VALUES ('http://127.0.0.1:9/a', now())")
    with psycopg.connect(db.info.dsn, autocommit=True) as listener:
        listener.execute("LISTEN webmon_sites")
        db.execute("UPDATE sites SET next_check_at = next_check_at + interval '1 minute'")
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
        db.execute("UPDATE sites SET next_check_at = now() - interval '1 minute'")
        assert len(list(listener.notifies(timeout=5, stop_after=1))) == 1
