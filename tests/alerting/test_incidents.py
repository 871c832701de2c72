"""Incidents computed by the writer, against a real PostgreSQL: thresholds, the outbox
rows, and the same incidents whatever order the results arrive in."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.support.db import Conn, add_sites, count
from tests.support.processes import Process, start, wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    with Database(db_url, max_size=2) as d:
        yield d


def row(site: int, n: int, ch: str) -> CheckResult:
    """Slot `n` of `site`: 'U' up, 'D' down (503), 'T' down (timeout), '.' missed."""
    slot = T0 + timedelta(minutes=n)
    if ch == ".":
        return CheckResult(site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
                        checked_at=slot, up=None, error="missed")  # fmt: skip
    return CheckResult(site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
                    checked_at=slot + timedelta(seconds=2), response_time_ms=3.0,
                    status_code=None if ch == "T" else (200 if ch == "U" else 503),
                    up=ch == "U", error="timeout" if ch == "T" else None)  # fmt: skip


def site_incidents(db: Conn, site: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT opened_at - %s, opening_slot - %s, cause, resolved_at - %s, resolving_slot - %s"
        "  FROM incidents WHERE site_id = %s ORDER BY opened_at",
        (T0, T0, T0, T0, site),
    ).fetchall()


def notifications(db: Conn, site: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT n.kind, n.event_at - %s FROM notifications n WHERE n.site_id = %s"
        " ORDER BY n.event_at, n.kind",
        (T0, site),
    ).fetchall()


def add_default_channel(db: Conn) -> None:
    db.execute(
        "INSERT INTO channels (name, kind, config, is_default)"
        " VALUES ('hook', 'webhook', '{\"url\": \"http://127.0.0.1:9/\"}', true)"
    )


def m(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_down_five_up_three_opens_and_resolves_one_incident(database: Database, db: Conn) -> None:
    add_default_channel(db)
    [site] = add_sites(db, 1)
    pattern = "UUDDDDDUUU"
    for n, ch in enumerate(pattern):  # one batch per check, as they come
        write_results(database, [row(site, n, ch)])
    assert site_incidents(db, site) == [(m(2), m(4), "HTTP 503", m(7), m(8))]
    assert notifications(db, site) == [
        ("down", m(4) + timedelta(seconds=2)), ("resolved", m(8) + timedelta(seconds=2)),
    ]  # fmt: skip
    alerting = db.execute("SELECT alerting FROM site_status WHERE site_id = %s", (site,))
    assert alerting.fetchone() == (0,)  # clean: its up results are skipped


def test_a_site_that_stays_down_is_not_walked_until_it_comes_back(
    database: Database, db: Conn
) -> None:
    [site] = add_sites(db, 1)
    state = "SELECT a.last_slot - %s, st.alerting FROM site_alert_state a"
    state += " JOIN site_status st USING (site_id) WHERE site_id = %s"
    for n, ch in enumerate("DDDDDDDD"):
        write_results(database, [row(site, n, ch)])
    # Open since the third check, steady: the five downs after it were not walked.
    assert db.execute(state, (T0, site)).fetchone() == (m(2), 2)
    for n, ch in enumerate("UDUU", start=8):
        write_results(database, [row(site, n, ch)])
    assert db.execute(state, (T0, site)).fetchone() == (m(11), 0)
    assert site_incidents(db, site) == [(m(0), m(2), "HTTP 503", m(10), m(11))]


def test_flapping_below_the_thresholds_records_nothing(database: Database, db: Conn) -> None:
    add_default_channel(db)
    [site] = add_sites(db, 1)
    write_results(database, [row(site, n, ch) for n, ch in enumerate("DUDUDDUDDUDU")])
    assert site_incidents(db, site) == []
    assert notifications(db, site) == []


def test_missed_slots_count_neither_way(database: Database, db: Conn) -> None:
    [site] = add_sites(db, 1)
    for n, ch in enumerate("TT.T..UU"):
        write_results(database, [row(site, n, ch)])
    assert site_incidents(db, site) == [(m(0), m(3), "timeout", m(6), m(7))]


PATTERN = "UUDDDDDUUUDDUDDDUDUUUTTTT.TUDDDUU.UDDDD"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_out_of_order_and_redelivered_results_give_the_same_incidents(
    database: Database, db: Conn, seed: int
) -> None:
    add_default_channel(db)
    in_order, shuffled = add_sites(db, 2)
    for n, ch in enumerate(PATTERN):
        write_results(database, [row(in_order, n, ch)])
    rng = random.Random(seed)
    rows = [row(shuffled, n, ch) for n, ch in enumerate(PATTERN)]
    rows += rng.sample(rows, 12)  # redeliveries
    rng.shuffle(rows)
    while rows:  # batches of 1 to 5, some with several results of the site
        size = rng.randint(1, 5)
        write_results(database, rows[:size])
        rows = rows[size:]
    expected = site_incidents(db, in_order)
    assert len(expected) == 4
    assert site_incidents(db, shuffled) == expected
    # Every incident has its DOWN once; a resolved one its RESOLVED once.
    kinds = db.execute(
        "SELECT i.opening_slot - %s, n.kind, count(*) FROM incidents i"
        "  JOIN notifications n ON n.incident_id = i.id WHERE i.site_id = %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        (T0, shuffled),
    ).fetchall()
    opened = [e[1] for e in expected]
    resolved = [e[1] for e in expected if e[3] is not None]
    assert kinds == sorted(
        [(o, "down", 1) for o in opened] + [(o, "resolved", 1) for o in resolved]
    )


def test_a_writer_process_given_shuffled_and_redelivered_results_agrees(
    env: dict[str, str], db: Conn, database: Database, processes: list[Process], tmp_path: Path
) -> None:
    """The same through Kafka and a real writer process, in small batches: the in-order
    site is written first, the other's results arrive shuffled, some twice."""
    add_default_channel(db)
    in_order, shuffled = add_sites(db, 2)
    for n, ch in enumerate(PATTERN):
        write_results(database, [row(in_order, n, ch)])
    rng = random.Random(11)
    messages = [message(shuffled, n, ch) for n, ch in enumerate(PATTERN)]
    messages += rng.sample(messages, 15)
    rng.shuffle(messages)
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": env["WEBMON_KAFKA_BOOTSTRAP_SERVERS"]}
    )
    for value in messages:
        producer.produce(env["WEBMON_RESULTS_TOPIC"], value, str(shuffled).encode())
    assert producer.flush(10) == 0
    writer = start(
        processes, "checker", {**env, "WEBMON_CHECKER_ROLES": "writer",
                               "WEBMON_WRITER_BATCH_SIZE": "3"}, "writer", tmp_path,
    )  # fmt: skip
    stored = "SELECT count(*) FROM check_results WHERE site_id = %s"
    wait_for(lambda: count(db, stored, shuffled) == len(PATTERN), 60, "every result stored")
    code, _ = writer.stop()
    assert code == 0
    assert writer.summary("writer.stopped")["rows"] == len(messages)
    assert site_incidents(db, shuffled) == site_incidents(db, in_order)
    downs = "SELECT count(*) FROM notifications WHERE site_id = %s AND kind = 'down'"
    assert count(db, downs, shuffled) == count(db, downs, in_order)


def message(site: int, n: int, ch: str) -> bytes:
    slot = T0 + timedelta(minutes=n)
    if ch == ".":
        return CheckResult(site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
                           checked_at=slot, up=None, error="missed").encode()  # fmt: skip
    return CheckResult(
        site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
        checked_at=slot + timedelta(seconds=2), response_time_ms=3.0,
        status_code=None if ch == "T" else (200 if ch == "U" else 503), up=ch == "U",
        error="timeout" if ch == "T" else None,
    ).encode()  # fmt: skip


def test_a_resolved_whose_down_is_held_is_held_too(database: Database, db: Conn) -> None:
    add_default_channel(db)
    [site] = add_sites(db, 1)
    # The window covers the DOWN's check (minute 2) and is over by the RESOLVED (minute 4).
    db.execute(
        "INSERT INTO maintenance_windows (name, site_id, starts_at, duration_seconds)"
        " VALUES ('short', %s, %s, 180)",
        (site, T0),
    )
    write_results(database, [row(site, n, ch) for n, ch in enumerate("DDDUU")])  # one batch
    held = db.execute(
        "SELECT kind, state FROM notifications WHERE site_id = %s ORDER BY kind", (site,)
    ).fetchall()
    assert held == [("down", "suppressed"), ("resolved", "suppressed")]


def test_window_matching(db: Conn) -> None:
    def covers(starts: str, duration: int, recurrence: str, until: str | None, at: str) -> bool:
        return bool(
            db.execute(
                "SELECT webmon_window_covers(%s::timestamptz, %s, %s, %s::timestamptz,"
                " %s::timestamptz)",
                (starts, duration, recurrence, until, at),
            ).fetchone()[0]  # type: ignore[index]
        )

    monday_22 = "2026-11-30T22:00Z"
    assert covers(monday_22, 7200, "none", None, "2026-11-30T23:59Z")
    assert not covers(monday_22, 7200, "none", None, "2026-12-01T00:00Z")  # the end is open
    assert not covers(monday_22, 7200, "none", None, "2026-11-30T21:59Z")
    assert covers(monday_22, 7200, "weekly", None, "2026-12-07T23:00Z")  # a week later
    assert not covers(monday_22, 7200, "weekly", None, "2026-12-08T23:00Z")  # a Tuesday
    assert covers(monday_22, 3600, "daily", None, "2026-12-03T22:30Z")
    assert not covers(monday_22, 3600, "daily", "2026-12-02T00:00Z", "2026-12-03T22:30Z")
    assert covers(monday_22, 3600, "daily", "2026-12-02T00:00Z", "2026-12-01T22:30Z")


def test_a_late_result_inside_a_long_incident_whose_start_was_packed_away(
    database: Database, db: Conn
) -> None:
    """Raw rows of old days are packed (check_results_packed): a walk again can only start
    where the state is known without them: the covering incident's opening check."""
    add_default_channel(db)
    [site] = add_sites(db, 1)
    pattern = "DDDUUUUDDDDD.UD"  # one incident resolved at 4, one opened at 9; 12 arrives late
    for n, ch in enumerate(pattern):
        if ch != ".":
            write_results(database, [row(site, n, ch)])
    before = db.execute(
        "SELECT id, opened_at - %s, resolved_at - %s FROM incidents WHERE site_id = %s"
        " ORDER BY opened_at",
        (T0, T0, site),
    ).fetchall()
    assert [b[1:] for b in before] == [(m(0), m(3)), (m(7), None)]
    db.execute(
        "DELETE FROM check_results WHERE site_id = %s AND scheduled_at < %s", (site, T0 + m(8))
    )
    write_results(database, [row(site, 12, "U")])  # up at 12 and 13, down at 14: resolved at 12
    after = db.execute(
        "SELECT id, opened_at - %s, resolved_at - %s FROM incidents WHERE site_id = %s"
        " ORDER BY opened_at",
        (T0, T0, site),
    ).fetchall()
    assert after == [before[0], (before[1][0], m(7), m(12))]
    resolved = db.execute(
        "SELECT incident_id FROM notifications WHERE kind = 'resolved' AND site_id = %s"
        " ORDER BY incident_id",
        (site,),
    ).fetchall()
    assert resolved == [(before[0][0],), (before[1][0],)]


def test_a_regex_cause_survives_the_batches_between_the_first_down_and_the_opening(
    database: Database, db: Conn
) -> None:
    """The cause is the first down check's, also when the incident opens batches later."""
    [site, found] = add_sites(db, 2)
    for n in range(4):  # one batch per check, as they come
        slot = T0 + timedelta(minutes=n)
        for site_id, status, matched in ((site, 200, False), (found, 503, True)):
            write_results(database, [CheckResult(
                site_id=site_id, url="http://127.0.0.1:9/", scheduled_at=slot,
                checked_at=slot + timedelta(seconds=1), response_time_ms=3.0,
                status_code=status, up=False, regex_matched=matched,
            )])  # fmt: skip
    assert site_incidents(db, site) == [(m(0), m(2), "regex did not match · HTTP 200", None, None)]
    assert site_incidents(db, found) == [(m(0), m(2), "HTTP 503 · regex found", None, None)]
