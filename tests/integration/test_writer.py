"""The result writer against a real broker and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import confluent_kafka
import psycopg
import pytest

from checker.settings import CheckerSettings
from checker.writer import ResultWriter
from checker.writer.store import QUERIES
from shared.db import Database
from shared.kafka import make_producer
from shared.messages import RESULT_COLUMN_TYPES, RESULT_COLUMNS, CheckResult, CheckTask
from tests.support.db import Conn, add_sites, count
from tests.support.processes import wait_for
from tests.support.services import Services
from tests.support.settings import settings_from_env
from tests.support.topics import read_all

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@contextmanager
def running_writer(env: dict[str, str], **overrides: Any) -> Iterator[ResultWriter]:
    settings = settings_from_env(CheckerSettings, env, writer_batch_age_s=0.2, **overrides)
    db = Database(
        settings.database_url.get_secret_value(), max_size=settings.writer_lanes, pool_timeout_s=2
    )
    db.open()
    stop = threading.Event()
    writer = ResultWriter(settings, db, make_producer(settings), stop)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        yield writer
    finally:
        stop.set()
        thread.join(timeout=30)
        db.close()
    assert not thread.is_alive()


def produce(env: dict[str, str], values: list[tuple[int, bytes]]) -> None:
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": env["WEBMON_KAFKA_BOOTSTRAP_SERVERS"]}
    )
    for site_id, value in values:
        producer.produce(env["WEBMON_RESULTS_TOPIC"], value, str(site_id).encode())
    assert producer.flush(10) == 0


def result(site_id: int, slot: datetime, *, up: bool = True, status: int = 200) -> bytes:
    return CheckResult(
        site_id=site_id,
        url=f"http://127.0.0.1:9/{site_id}",
        scheduled_at=slot,
        checked_at=slot + timedelta(milliseconds=5),
        response_time_ms=12.5,
        status_code=status,
        up=up,
    ).encode()


COLUMN_TYPES = """
SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""


def test_the_tables_have_each_column_the_result_struct_copies(db: Conn) -> None:
    """CheckResult's stored fields are the COPY's columns and types: the staging table has
    each of them, and check_results each but the URL (kept in site_status)."""
    expected = dict(zip(RESULT_COLUMNS, RESULT_COLUMN_TYPES, strict=True))
    db.execute(QUERIES["create_staging"])
    assert dict(db.execute(COLUMN_TYPES, ("results_staging",)).fetchall()) == expected
    stored = dict(db.execute(COLUMN_TYPES, ("check_results",)).fetchall())
    assert {n: t for n, t in stored.items() if n in expected} == {
        n: t for n, t in expected.items() if n != "url"
    }


def test_results_land_once_even_when_delivered_twice(env: dict[str, str], db: Conn) -> None:
    site_ids = add_sites(db, 50)
    batch = [(s, result(s, T0 + timedelta(minutes=i))) for s in site_ids for i in range(4)]
    produce(env, batch + batch[:100])  # a redelivery of the first 100
    with running_writer(env) as writer:
        wait_for(lambda: writer.totals.rows >= len(batch) + 100, what="all rows written")
    assert count(db, "SELECT count(*) FROM check_results") == 200
    assert writer.totals.inserted == 200
    row = db.execute(
        "SELECT site_id, status_code, up, response_time_ms FROM check_results "
        "WHERE site_id = %s AND scheduled_at = %s",
        (site_ids[0], T0),
    ).fetchone()
    assert row == (site_ids[0], 200, True, 12.5)


def test_two_lanes_store_a_backlog_once_with_every_flip(env: dict[str, str], db: Conn) -> None:
    # Small batches over four partitions: both lanes write at once, and a site's slots
    # follow each other in consecutive batches of its lane.
    site_ids = add_sites(db, 60)
    slots = [T0 + timedelta(minutes=i) for i in range(6)]
    backlog = [
        (s, result(s, slot, up=(i // 2) % 2 == 0, status=200 if (i // 2) % 2 == 0 else 500))
        for i, slot in enumerate(slots)
        for s in site_ids
    ]
    produce(env, backlog + backlog[:30])  # and a redelivery
    with running_writer(env, writer_lanes=2, writer_batch_size=40) as writer:
        wait_for(lambda: writer.totals.rows >= len(backlog) + 30, what="the backlog")
        lanes_used = set(writer._lane_of.values())
    assert lanes_used == {0, 1}
    assert writer.totals.batches >= len(backlog) // 40
    assert count(db, "SELECT count(*) FROM check_results") == len(backlog)
    assert count(db, "SELECT count(DISTINCT (site_id, scheduled_at)) FROM check_results") == len(
        backlog
    )
    newest = db.execute("SELECT DISTINCT scheduled_at, up FROM site_status").fetchall()
    assert newest == [(slots[-1], True)]
    # Up, up, down, down, up, up: the first result and two flips per site.
    events = db.execute(
        "SELECT scheduled_at, from_up, to_up, count(*) FROM site_events GROUP BY 1, 2, 3 ORDER BY 1"
    ).fetchall()
    assert events == [
        (slots[0], None, True, 60),
        (slots[2], True, False, 60),
        (slots[4], False, True, 60),
    ]


def test_site_status_keeps_the_newest_result(env: dict[str, str], db: Conn) -> None:
    (site_id,) = add_sites(db, 1)
    newer = T0 + timedelta(minutes=5)
    produce(env, [(site_id, result(site_id, newer, up=True))])
    with running_writer(env) as writer:
        wait_for(lambda: writer.totals.rows >= 1, what="first result")
        produce(env, [(site_id, result(site_id, T0, up=False, status=500))])  # late arrival
        wait_for(lambda: writer.totals.rows >= 2, what="late result")
    status = db.execute(
        "SELECT scheduled_at, up, status_code FROM site_status WHERE site_id = %s", (site_id,)
    ).fetchone()
    assert status == (newer, True, 200)
    assert count(db, "SELECT count(*) FROM check_results WHERE site_id = %s", site_id) == 2


def test_garbage_goes_to_the_dead_letter_topic_and_the_writer_continues(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    (site_id,) = add_sites(db, 1)
    poison = [b"not json", b'{"v": 2}', b'{"v": 1, "site_id": 1}', b"\x00" * 900_000]
    produce(env, [(0, p) for p in poison] + [(site_id, result(site_id, T0))])
    with running_writer(env) as writer:
        # The poison and the good row sit on different partitions: wait for both.
        wait_for(lambda: count(db, "SELECT count(*) FROM check_results") == 1, what="good row")
        wait_for(lambda: writer.totals.dead_lettered >= 4, what="dead letters")
    assert writer.totals.dead_lettered == 4
    dead = read_all(services.kafka_bootstrap, env["WEBMON_DEAD_LETTER_TOPIC"])
    assert sorted(len(m.value() or b"") for m in dead) == sorted(len(p) for p in poison)
    reasons = {dict(m.headers() or [])["webmon.error"].decode() for m in dead}
    assert any("invalid CheckResult" in r for r in reasons)


def test_results_produced_while_postgres_is_down_are_all_stored(
    env: dict[str, str], services: Services, db_url: str
) -> None:
    stack: Any = services.stack
    if stack is None:
        pytest.skip("needs the embedded stack to stop PostgreSQL")
    with psycopg.connect(db_url, autocommit=True) as conn:
        site_ids = add_sites(conn, 100)
    with running_writer(env) as writer:
        produce(env, [(s, result(s, T0)) for s in site_ids])
        wait_for(lambda: writer.totals.rows >= 100, what="rows before the outage")
        stack.pg_stop()
        try:
            produce(env, [(s, result(s, T0 + timedelta(minutes=1))) for s in site_ids])
            wait_for(lambda: writer.totals.db_failures >= 2, what="the writer to notice")
        finally:
            stack.pg_start()
        wait_for(lambda: writer.totals.rows >= 200, what="rows after the outage")
    with psycopg.connect(db_url) as conn:
        assert count(conn, "SELECT count(*) FROM check_results") == 200
        assert count(conn, "SELECT count(*) FROM site_status WHERE scheduled_at = %s",
                     T0 + timedelta(minutes=1)) == 100  # fmt: skip


def missed(site_id: int, slot: datetime) -> bytes:
    task = CheckTask(
        site_id=site_id,
        url=f"http://127.0.0.1:9/{site_id}",
        timeout_s=5,
        scheduled_at=slot,
        expires_at=slot + timedelta(minutes=1),
    )
    return CheckResult.missed(task, slot + timedelta(minutes=1, seconds=1)).encode()


def test_a_missed_slot_is_stored_but_changes_neither_status_nor_events(
    env: dict[str, str], db: Conn
) -> None:
    (site_id,) = add_sites(db, 1)
    slots = [T0 + timedelta(minutes=i) for i in range(3)]
    produce(
        env,
        [
            (site_id, result(site_id, slots[0], up=False, status=500)),
            (site_id, missed(site_id, slots[1])),
            (site_id, result(site_id, slots[2], up=False, status=500)),
        ],
    )
    with running_writer(env) as writer:
        wait_for(lambda: writer.totals.rows >= 3, what="three results")
    rows = db.execute(
        "SELECT scheduled_at, up, error FROM check_results ORDER BY scheduled_at"
    ).fetchall()
    assert rows == [(slots[0], False, None), (slots[1], None, "missed"), (slots[2], False, None)]
    assert db.execute("SELECT scheduled_at, up FROM site_status").fetchall() == [(slots[2], False)]
    # The site's first check is its only flip: the miss between two downs is none.
    assert db.execute("SELECT scheduled_at, from_up, to_up FROM site_events").fetchall() == [
        (slots[0], None, False)
    ]
    # A miss after the newest check leaves the status on that check.
    produce(env, [(site_id, missed(site_id, slots[2] + timedelta(minutes=1)))])
    with running_writer(env) as writer:
        wait_for(lambda: writer.totals.rows >= 1, what="the later miss")
    assert db.execute("SELECT scheduled_at FROM site_status").fetchall() == [(slots[2],)]


def test_a_slot_is_one_row_whether_missed_or_checked_first(env: dict[str, str], db: Conn) -> None:
    """A redelivered task may be checked by one checker and missed by another: the slot
    keeps one row, the check, in whatever order the two arrive (also in one batch)."""
    first, second, third = add_sites(db, 3)
    produce(
        env,
        [
            (first, missed(first, T0)),  # missed, and the check comes later
            (second, result(second, T0)),  # checked, and the miss comes later
            (third, missed(third, T0)),  # both in the batch after
            (third, result(third, T0)),
        ],
    )
    with running_writer(env, writer_batch_size=2) as writer:
        wait_for(lambda: writer.totals.rows >= 4, what="the first results")
        produce(env, [(first, result(first, T0)), (second, missed(second, T0))])
        wait_for(lambda: writer.totals.rows >= 6, what="the second results")
    rows = db.execute("SELECT site_id, up, error FROM check_results ORDER BY site_id").fetchall()
    assert rows == [(first, True, None), (second, True, None), (third, True, None)]
    assert count(db, "SELECT count(*) FROM site_status WHERE up") == 3
