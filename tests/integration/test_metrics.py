"""/metrics and /healthz of real loops and processes: the named series exist and move."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.localstack import free_port
from scheduler.metrics import SchedulerMetrics
from scheduler.service import Scheduler, make_scheduler_producer
from scheduler.settings import SchedulerSettings
from shared.db import Database
from shared.messages import CheckResult, CheckTask
from shared.metrics import MetricsServer
from tests.support.db import Conn
from tests.support.processes import Process, wait_for
from tests.support.services import Services
from tests.support.settings import settings_from_env
from tests.support.targets import Targets

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(port: int) -> Samples:
    """Every sample of /metrics; empty while the endpoint is not up yet."""
    try:
        status, text = get(port, "/metrics")
    except OSError:
        return {}
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        status, body = get(port, "/healthz")
    except OSError:
        return 0, {}
    assert body.count("\n") == 1
    return status, json.loads(body)


def test_scheduler_series_move_when_tasks_are_emitted(env: dict[str, str], db: Conn) -> None:
    db.execute(
        "INSERT INTO sites (url, interval_seconds, next_check_at) "
        "SELECT 'http://127.0.0.1:9/' || g, 60, now() - interval '1 second' "
        "FROM generate_series(1, 30) g"
    )
    settings = settings_from_env(SchedulerSettings, env)
    metrics = SchedulerMetrics()
    database = Database(settings.database_url.get_secret_value(), pool_timeout_s=3)
    database.open()
    producer = make_scheduler_producer(settings)
    scheduler = Scheduler(settings, database, producer, metrics=metrics)
    server = MetricsServer("127.0.0.1", free_port(), metrics.registry, metrics.health)
    assert server.start()
    port = server.port
    assert port is not None
    try:
        scheduler.measure_backlog()
        before = scrape(port)
        assert value(before, "webmon_scheduler_due_backlog") == 30
        assert value(before, "webmon_scheduler_tasks_emitted_total") == 0
        assert value(before, "webmon_scheduler_claim_batch_seconds_count") == 0

        scheduler.tick()
        scheduler.measure_backlog()
        after = scrape(port)
        assert value(after, "webmon_scheduler_tasks_emitted_total") == 30
        assert value(after, "webmon_scheduler_claim_batch_seconds_count") >= 1
        assert value(after, "webmon_scheduler_claim_batch_seconds_sum") > 0
        assert value(after, "webmon_scheduler_due_backlog") == 0
        for kind in ("db", "kafka", "sql", "maintenance", "backlog"):
            assert ("webmon_scheduler_errors_total", (("kind", kind),)) in after
            assert value(after, "webmon_scheduler_errors_total", kind=kind) == 0
        status, report = healthz(port)
        assert status == 200
        assert report["components"]["scheduler"]["db"] == "ok"
    finally:
        server.stop()
        scheduler.close()
        producer.close(1)
        database.close()


def test_checker_series_move_when_checks_are_done(
    env: dict[str, str],
    services: Services,
    db: Conn,
    targets: Targets,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/"
    for url in (targets.url("/ok"), targets.url("/status/500"), refused):
        db.execute(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at)"
            " VALUES (%s, 60, 2, now())",
            (url,),
        )
    # An unparsable task and one whose slot has passed, straight onto the topic.
    past = datetime.now(UTC) - timedelta(minutes=2)
    expired = CheckTask(
        site_id=999,
        url=refused,
        timeout_s=1,
        scheduled_at=past,
        expires_at=past + timedelta(minutes=1),
    )
    producer = confluent_kafka.Producer({"bootstrap.servers": services.kafka_bootstrap})
    producer.produce(env["WEBMON_TASKS_TOPIC"], b"not json", b"x")
    producer.produce(env["WEBMON_TASKS_TOPIC"], expired.encode(), b"999")
    assert producer.flush(10) == 0

    port = free_port()
    metrics_env = {"WEBMON_METRICS_HOST": "127.0.0.1", "WEBMON_METRICS_PORT": str(port)}
    fast = {"WEBMON_TICK_SECONDS": "0.2", "WEBMON_WRITER_BATCH_AGE_S": "0.2"}
    checker = Process("checker", {**env, **fast, **metrics_env}, tmp_path, "checker")
    processes.append(checker)
    scheduler = Process("scheduler", {**env, **fast}, tmp_path, "scheduler")
    processes.append(scheduler)

    def done() -> bool:
        s = scrape(port)
        return (
            value(s, "webmon_writer_rows_written_total") >= 4
            and value(s, "webmon_tasks_expired_total") >= 1
            and value(s, "webmon_dead_lettered_total", role="probe") >= 1
        )

    # Three checks and the expired task's missed slot are written.
    wait_for(done, timeout_s=60, what="four rows written, one expired, one dead letter")
    s = scrape(port)
    assert value(s, "webmon_checks_total", result="up") == 1
    assert value(s, "webmon_checks_total", result="down") == 1
    assert value(s, "webmon_checks_total", result="connect") == 1
    assert value(s, "webmon_check_duration_seconds_count") == 3
    assert value(s, "webmon_check_duration_seconds_sum") > 0
    assert value(s, "webmon_tasks_expired_total") == 1
    assert value(s, "webmon_dead_lettered_total", role="probe") == 1
    assert value(s, "webmon_writer_rows_written_total") == 4
    assert value(s, "webmon_writer_rows_inserted_total") == 4
    assert value(s, "webmon_writer_batch_seconds_count") >= 1
    assert value(s, "webmon_checks_in_flight") == 0
    assert value(s, "webmon_writer_db_errors_total", kind="unavailable") == 0

    # Lag comes from librdkafka's statistics every few seconds; Tansu's offsets are not
    # exact, so only its presence and sign are checked.
    def lag_reported() -> bool:
        return any(
            name == "webmon_consumer_lag" and dict(labels)["role"] == "probe" and v >= 0
            for (name, labels), v in scrape(port).items()
        )

    wait_for(lag_reported, timeout_s=30, what="a consumer lag series of the probe")
    status, report = healthz(port)
    assert status == 200, report
    assert report["components"]["probe"]["kafka"] == "ok"
    assert report["components"]["writer"]["db"] == "ok"
    assert scheduler.stop()[0] == 0
    assert checker.stop()[0] == 0


def test_writer_healthz_says_503_while_postgres_is_unreachable(
    env: dict[str, str], services: Services, processes: list[Process], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    result = CheckResult(
        site_id=1, url="http://127.0.0.1:9/", scheduled_at=now, checked_at=now, up=True,
        status_code=200, response_time_ms=1.0,
    )  # fmt: skip
    producer = confluent_kafka.Producer({"bootstrap.servers": services.kafka_bootstrap})
    producer.produce(env["WEBMON_RESULTS_TOPIC"], result.encode(), b"1")
    assert producer.flush(10) == 0

    port = free_port()
    with socket.socket() as held:  # bound, not listening: connections are refused
        held.bind(("127.0.0.1", 0))
        refused = f"postgresql://webmon:s3cret@127.0.0.1:{held.getsockname()[1]}/webmon"
        writer = Process(
            "checker",
            {
                **env,
                "WEBMON_DATABASE_URL": refused,
                "WEBMON_CHECKER_ROLES": "writer",
                "WEBMON_WRITER_BATCH_AGE_S": "0.2",
                "WEBMON_GRACE_S": "1",
                "WEBMON_METRICS_HOST": "127.0.0.1",
                "WEBMON_METRICS_PORT": str(port),
            },
            tmp_path,
            "writer",
        )
        processes.append(writer)
        wait_for(lambda: healthz(port)[0] == 200, timeout_s=30, what="a healthy writer first")
        wait_for(
            lambda: healthz(port)[0] == 503, timeout_s=60, what="/healthz to report the database"
        )
        _, report = healthz(port)
        assert report == {
            "status": "fail",
            "components": {"writer": report["components"]["writer"]},
        }
        assert report["components"]["writer"]["db"] == "lost"
        assert value(scrape(port), "webmon_writer_db_errors_total", kind="unavailable") >= 1
        # (Stopping waits out the writer's database attempt in progress: up to its pool
        # timeout and the pool's close, not this test's subject.)
        assert writer.stop(timeout_s=45)[0] == 0
    assert "s3cret" not in writer.output
