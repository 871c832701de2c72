"""The notifier as a real process: at least once across kill -9, a failing channel beside a
healthy one, the target policy at connect time, SIGTERM, and the channel kinds' requests."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from notifier.payload import verify
from tests.support.alerting import NOTIFIER_FAST, add_channel, open_incidents, states
from tests.support.db import Conn, count
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import ConnectionCounter, Receiver

pytestmark = pytest.mark.integration

# How long the failing channel answers 500 (the minute).
FAILING_FOR_S = 60.0


def notifier(
    processes: list[Process], env: dict[str, str], tmp_path: Path, name: str = "notifier",
    **extra: str,
) -> Process:  # fmt: skip
    return start(processes, "notifier", {**env, **NOTIFIER_FAST, **extra}, name, tmp_path)


def test_kill_9_mid_send_delivers_everything_at_least_once(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver(delay_s=0.002) as r:
        hook = add_channel(db, "hook", config={"url": r.url()}, secret="s3cret")
        ids = open_incidents(db, 1000, [hook])
        first = notifier(processes, env, tmp_path, "notifier-1", WEBMON_LOG_LEVEL="WARNING")
        wait_for(lambda: len(r.requests) >= 300, 60, "300 deliveries before the kill")
        first.kill()  # SIGKILL, mid-send: its leases expire, nothing is released
        at_kill = states(db)
        assert at_kill.get("sent", 0) < 1000, at_kill
        notifier(processes, env, tmp_path, "notifier-2", WEBMON_LOG_LEVEL="WARNING")
        wait_for(lambda: states(db).get("sent", 0) == 1000, 120, "every notification sent")
        received = r.accepted()
    by_id: dict[int, list[bytes]] = defaultdict(list)
    keys: dict[int, set[str]] = defaultdict(set)
    for req in received:
        body = req.json()
        assert verify("s3cret", req.body, req.headers["X-Webmon-Signature"])
        assert req.headers["Idempotency-Key"] == body["idempotency_key"]
        by_id[body["notification_id"]].append(req.body)
        keys[body["notification_id"]].add(body["idempotency_key"])
    assert set(by_id) == set(ids)  # every one delivered
    assert all(len(k) == 1 for k in keys.values())  # a duplicate carries the same key
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())  # and the same body
    sent = {r[0] for r in db.execute("SELECT id FROM notifications WHERE state = 'sent'")}
    assert sent <= set(by_id)  # none marked sent without having been sent
    duplicates = sum(len(b) - 1 for b in by_id.values())
    print(f"duplicates after kill -9: {duplicates}")


def test_a_failing_channel_recovers_and_does_not_delay_another(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver() as failing, Receiver() as healthy:
        bad = add_channel(db, "failing", config={"url": failing.url()})
        good = add_channel(db, "healthy", config={"url": healthy.url()})
        recovers_at = time.monotonic() + FAILING_FOR_S
        recovers_wall = time.time() + FAILING_FOR_S
        failing.fail_until(recovers_at)
        first = open_incidents(db, 20, [bad, good])
        notifier(processes, env, tmp_path)
        wait_for(lambda: len(healthy.accepted()) == 20, 10, "the healthy channel's first 20")
        # Midway through the outage: new incidents reach the healthy channel on time.
        wait_for(lambda: time.monotonic() > recovers_at - FAILING_FOR_S / 2, FAILING_FOR_S)
        queued = time.time()
        open_incidents(db, 20, [good])
        wait_for(lambda: len(healthy.accepted()) == 40, 5, "the healthy channel's next 20")
        late = max(r.at for r in healthy.accepted()[20:]) - queued
        assert late < 2.0, late
        assert failing.accepted() == [] and len(failing.requests) > 20  # retried meanwhile
        wait_for(lambda: len(failing.accepted()) == 20, FAILING_FOR_S + 15, "after recovery")
        wait_for(lambda: states(db) == {"sent": 60}, 5, "all marked sent")
    assert min(r.at for r in failing.accepted()) >= recovers_wall - 0.01
    # Backoff capped at 3 s: each arrives within a step of the recovery.
    assert max(r.at for r in failing.accepted()) < recovers_wall + 3.5
    rows = db.execute(
        "SELECT min(attempts), max(attempts), count(*) FROM notifications"
        " WHERE channel_id = %s AND state = 'sent'",
        (bad,),
    ).fetchone()
    assert rows is not None and rows[0] > 1 and rows[2] == 20
    assert count(db, "SELECT count(*) FROM notifications WHERE state <> 'sent'") == 0
    assert len({i for i in first}) == 40


def test_a_webhook_on_a_blocked_address_is_refused_at_connect_time(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with ConnectionCounter("127.0.0.2") as internal, Receiver() as allowed:
        blocked = add_channel(db, "internal", config={"url": f"http://127.0.0.2:{internal.port}/"})
        ok = add_channel(db, "allowed", config={"url": allowed.url()})
        open_incidents(db, 3, [blocked, ok])
        notifier(processes, env, tmp_path)
        wait_for(lambda: states(db).get("failed", 0) == 3, 20, "the blocked ones failed")
        wait_for(lambda: len(allowed.accepted()) == 3, 10, "the allowed ones sent")
        assert internal.connections == 0
    errors = db.execute(
        "SELECT DISTINCT attempts, last_error FROM notifications WHERE channel_id = %s", (blocked,)
    ).fetchall()
    # Refused for good at the first attempt: retrying cannot unblock it.
    assert errors == [(1, "blocked: 127.0.0.2 is in a blocked network (WEBMON_BLOCKED_NETWORKS)")]


def test_sigterm_releases_what_it_holds_and_exits_0(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver(delay_s=30) as slow:  # every send outlasts the grace
        hook = add_channel(db, "slow", config={"url": slow.url()})
        open_incidents(db, 5, [hook])
        p = notifier(processes, env, tmp_path, WEBMON_NOTIFIER_GRACE_S="0.5",
                     WEBMON_NOTIFIER_LEASE_S="600")  # fmt: skip
        wait_for(lambda: _in_flight(db) >= 5, 20, "the sends started")
        code, took = p.stop()
    assert code == 0 and took < 5
    assert p.summary("notifier.stopped")["released"] == 5
    row = db.execute(
        "SELECT count(*) FILTER (WHERE claimed_by IS NULL AND next_attempt_at <= now()),"
        "       max(attempts) FROM notifications"
    ).fetchone()
    assert row == (5, 0)


def _in_flight(db: Conn) -> int:
    return count(db, "SELECT count(*) FROM notifications WHERE claimed_by IS NOT NULL")


def test_a_reminder_per_interval_while_an_incident_stays_open(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver() as r:
        hook = add_channel(db, "hook", config={"url": r.url()}, default=True)
        open_incidents(db, 1, [hook])
        # Open for 2.5 intervals of a minute: its second reminder is due.
        db.execute("UPDATE sites SET reminder_interval_seconds = 60")
        db.execute("UPDATE incidents SET opening_checked_at = now() - interval '150 seconds'")
        notifier(processes, env, tmp_path)
        notifier(processes, env, tmp_path, "notifier-2")  # two sweeps: still one reminder
        wait_for(lambda: len(r.accepted()) == 2, 20, "the DOWN and a reminder")
        wait_for(lambda: states(db) == {"sent": 2}, 5, "both marked sent")
        got = sorted((q.json()["event"], q.json()["idempotency_key"]) for q in r.accepted())
    assert [g[0] for g in got] == ["down", "reminder"]
    assert got[1][1].endswith("-reminder-2")
