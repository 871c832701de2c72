"""Scheduler and checker processes end to end: real broker, PostgreSQL and HTTP targets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import confluent_kafka
import pytest

from devstack.localstack import free_port
from shared.messages import CheckTask
from tests.support.db import Conn, add_sites, count
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services
from tests.support.slots import emitted_slots, stored_slots
from tests.support.targets import Targets
from tests.support.topics import read_all

pytestmark = pytest.mark.integration


def test_two_hundred_sites_end_to_end(
    env: dict[str, str], db: Conn, targets: Targets, processes: list[Process], tmp_path: Path
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/"
    behaviours: list[tuple[str, float, str | None, tuple[object, ...]]] = [
        # url, timeout, regex -> (status_code, error, regex_matched, up)
        (targets.url("/ok"), 2, None, (200, None, None, True)),
        (targets.url("/ok"), 2, "hello", (200, None, True, True)),
        (targets.url("/ok"), 2, "goodbye", (200, None, False, False)),
        (targets.url("/status/404"), 2, None, (404, None, None, False)),
        (targets.url("/status/500"), 2, None, (500, None, None, False)),
        (targets.url("/redirect/2"), 2, None, (200, None, None, True)),
        (targets.url("/slow-headers?seconds=3"), 1, None, (None, "timeout", None, False)),
        (refused, 2, None, (None, "connect", None, False)),
    ]
    expected: dict[int, tuple[object, ...]] = {}
    for i in range(200):
        url, timeout, regex, outcome = behaviours[i % len(behaviours)]
        sep = "&" if "?" in url else "?"
        row = db.execute(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, regex, next_check_at) "
            "VALUES (%s, 30, %s, %s, now()) RETURNING id",
            (f"{url}{sep}n={i}", timeout, regex),
        ).fetchone()
        assert row is not None
        expected[row[0]] = outcome

    scheduler = start(processes, "scheduler", env, "scheduler", tmp_path)
    checker = start(processes, "checker", env, "checker", tmp_path)
    wait_for(
        lambda: count(db, "SELECT count(DISTINCT site_id) FROM check_results") == 200,
        timeout_s=90,
        what="a result for every site",
    )
    assert scheduler.stop()[0] == 0, scheduler.output
    code, took = checker.stop()
    assert code == 0, checker.output
    assert took < 12

    rows = db.execute(
        "SELECT DISTINCT ON (site_id) site_id, status_code, error, regex_matched, up "
        "FROM check_results ORDER BY site_id, scheduled_at"
    ).fetchall()
    mismatches = {
        site_id: (got, expected[site_id])
        for site_id, *got_list in rows
        if (got := tuple(got_list)) != expected[site_id]
    }
    assert not mismatches, mismatches
    assert count(db, "SELECT count(*) FROM site_status") == 200
    assert count(db, "SELECT count(*) FROM site_status WHERE up") == 75


def test_kill_9_of_one_checker_loses_and_doubles_nothing(
    env: dict[str, str],
    services: Services,
    db: Conn,
    targets: Targets,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    db.execute(
        "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
        "SELECT %s || '?n=' || g, 30, 5, now() + (g %% 20) * interval '1 second' "
        "FROM generate_series(1, 400) g",
        (targets.url("/delay?ms=300"),),
    )
    victim = start(processes, "checker", env, "checker-1", tmp_path)
    survivor = start(processes, "checker", env, "checker-2", tmp_path)
    wait_for(lambda: victim.logged("probe.assigned") and survivor.logged("probe.assigned"))
    scheduler = start(processes, "scheduler", env, "scheduler", tmp_path)
    wait_for(lambda: count(db, "SELECT count(*) FROM check_results") >= 100, what="some results")
    victim.kill()
    # Let the survivor take over and the schedule run on for a while, then stop emitting.
    wait_for(lambda: count(db, "SELECT count(*) FROM check_results") >= 500, timeout_s=120)
    assert scheduler.stop()[0] == 0
    _, emitted = emitted_slots(services.kafka_bootstrap, env["WEBMON_TASKS_TOPIC"])
    wait_for(
        lambda: stored_slots(db) >= emitted,
        timeout_s=90,
        what="every emitted slot to be stored",
    )
    code, _ = survivor.stop()
    assert code == 0, survivor.output
    stored = stored_slots(db)
    assert stored == emitted
    assert count(db, "SELECT count(*) FROM check_results") == len(emitted)
    assert survivor.summary("probe.stopped")["expired"] == 0


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs from 50 simultaneous checks
    daemon_threads = True


class _HoldingHandler(BaseHTTPRequestHandler):
    """Answers "ok" after `hold()`; counts the requests, those held now and the most at once
    (each subclass its own counts)."""

    lock = threading.Lock()
    in_flight = 0
    seen = 0
    most = 0

    def hold(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.seen += 1
            cls.most = max(cls.most, cls.in_flight)
        try:
            self.hold()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def log_message(self, format: str, *args: object) -> None:
        pass


class _SlowHandler(_HoldingHandler):
    def hold(self) -> None:
        time.sleep(3)


class _GatedHandler(_HoldingHandler):
    gate = threading.Event()

    def hold(self) -> None:
        self.gate.wait(30)


@contextmanager
def _sites_served_by(
    handler: type[_HoldingHandler], db: Conn, sites: int, timeout_s: int
) -> Iterator[None]:
    """`sites` due sites on a local server of `handler`, serving until the block ends."""
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        db.execute(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
            "SELECT %s || '?n=' || g, 60, %s, now() FROM generate_series(1, %s) g",
            (f"http://127.0.0.1:{server.server_address[1]}/", timeout_s, sites),
        )
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_sigterm_with_checks_in_flight_finishes_them(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with _sites_served_by(_SlowHandler, db, 50, timeout_s=10):
        checker = start(processes, "checker", env, "checker", tmp_path)
        scheduler = start(processes, "scheduler", env, "scheduler", tmp_path)
        wait_for(
            lambda: _SlowHandler.in_flight == 50,
            what=f"50 checks in flight (seen {_SlowHandler.seen})",
        )
        assert scheduler.stop()[0] == 0
        code, took = checker.stop()
        assert code == 0, checker.output
        assert took < 10 + 2, took  # the grace period, plus the flush and commit
        assert checker.summary("probe.stopped")["abandoned"] == 0
        # The checks finished during the grace period and their results were acknowledged
        # before the task offsets were committed. A writer started now stores all of them,
        # and nothing is checked twice.
        writer = start(
            processes, "checker", {**env, "WEBMON_CHECKER_ROLES": "writer"}, "writer", tmp_path
        )
        wait_for(lambda: count(db, "SELECT count(*) FROM check_results") == 50, what="50 rows")
        assert writer.stop()[0] == 0
    assert count(db, "SELECT count(*) FROM check_results WHERE up") == 50
    assert _SlowHandler.seen == 50


def test_probe_keeps_to_its_concurrency_and_refills_as_checks_finish(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with _sites_served_by(_GatedHandler, db, 12, timeout_s=20):
        probe_env = {**env, "WEBMON_CONCURRENCY": "4"}
        checker = start(processes, "checker", probe_env, "checker", tmp_path)
        scheduler = start(processes, "scheduler", env, "scheduler", tmp_path)
        wait_for(lambda: _GatedHandler.in_flight == 4, what="4 checks held by the target")
        # All 12 tasks are on the topic and the probe holds 4: none of the others may start
        # until one of those finishes. The gate opens and the rest go through, 4 at a time.
        _GatedHandler.gate.set()
        wait_for(lambda: count(db, "SELECT count(*) FROM check_results") == 12, what="12 rows")
        assert scheduler.stop()[0] == 0
        assert checker.stop()[0] == 0
    assert _GatedHandler.most == 4
    assert count(db, "SELECT count(*) FROM check_results WHERE up") == 12


def test_garbage_task_is_dead_lettered_and_checking_goes_on(
    env: dict[str, str],
    services: Services,
    db: Conn,
    targets: Targets,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": services.kafka_bootstrap})
    for value in (b"not json", b'{"v": 9}', b"\xff" * 900_000):
        producer.produce(env["WEBMON_TASKS_TOPIC"], value, b"x")
    assert producer.flush(10) == 0
    db.execute(
        "INSERT INTO sites (url, interval_seconds, next_check_at) VALUES (%s, 60, now())",
        (targets.url("/ok"),),
    )
    checker = start(processes, "checker", env, "checker", tmp_path)
    scheduler = start(processes, "scheduler", env, "scheduler", tmp_path)
    wait_for(lambda: count(db, "SELECT count(*) FROM check_results") == 1, what="the good check")
    assert scheduler.stop()[0] == 0
    assert checker.stop()[0] == 0
    dead = read_all(services.kafka_bootstrap, env["WEBMON_DEAD_LETTER_TOPIC"])
    assert len(dead) == 3
    assert all(dict(m.headers() or [])["webmon.error"] for m in dead)
    assert checker.summary("probe.stopped")["dead_lettered"] == 3


def test_a_task_past_its_next_slot_is_recorded_as_missed_not_checked(
    env: dict[str, str],
    services: Services,
    db: Conn,
    targets: Targets,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    (site_id,) = add_sites(db, 1, url=targets.url("/ok"))
    slot = datetime.now(UTC) - timedelta(minutes=2)
    producer = confluent_kafka.Producer({"bootstrap.servers": services.kafka_bootstrap})
    task = CheckTask(
        site_id=site_id,
        url=targets.url("/ok"),
        timeout_s=5.0,
        scheduled_at=slot,
        expires_at=slot + timedelta(minutes=1),
    )
    producer.produce(env["WEBMON_TASKS_TOPIC"], task.encode(), str(site_id).encode())
    assert producer.flush(10) == 0
    checker = start(processes, "checker", env, "checker", tmp_path)
    wait_for(lambda: count(db, "SELECT count(*) FROM check_results") == 1, what="the missed row")
    code, _ = checker.stop()
    assert code == 0, checker.output
    row = db.execute(
        "SELECT site_id, scheduled_at, up, error, status_code, response_time_ms FROM check_results"
    ).fetchone()
    assert row == (site_id, slot, None, "missed", None, None)
    assert count(db, "SELECT count(*) FROM site_status") == 0
    assert checker.summary("probe.stopped")["expired"] == 1
    assert checker.summary("probe.stopped")["checks"] == 0
