"""Metric objects, /healthz, the endpoint and librdkafka statistics, without services."""

from __future__ import annotations

import json
import logging
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from checker.metrics import CheckerMetrics
from devstack.localstack import free_port
from scheduler.metrics import SchedulerMetrics
from shared.health import DependencyState
from shared.messages import CheckResult
from shared.metrics import Health, MetricsServer, render_health, sample_names

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("test")


def get(port: int, path: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET on 127.0.0.1."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def result(*, up: bool, error: str | None = None, status: int | None = 200) -> CheckResult:
    now = datetime.now(UTC)
    return CheckResult(
        site_id=1,
        url="http://127.0.0.1/",
        scheduled_at=now,
        checked_at=now,
        up=up,
        error=error,
        status_code=None if error else status,
    )


# -- health -------------------------------------------------------------------------------


def test_healthy_when_every_component_beats_and_is_connected() -> None:
    health = Health()
    db = DependencyState("db", log)
    health.component("writer").watch(db)
    health.component("probe").beat()
    status, body = render_health(health)
    assert status == 200
    assert body.endswith(b"\n") and body.count(b"\n") == 1
    report = json.loads(body)
    assert report["status"] == "ok"
    assert report["components"]["writer"]["db"] == "ok"
    assert set(report["components"]) == {"writer", "probe"}


def test_a_lost_dependency_is_unhealthy_until_it_recovers() -> None:
    health = Health()
    db = DependencyState("db", log)
    health.component("writer").watch(db)
    db.lost("connection refused")
    status, body = render_health(health)
    assert status == 503
    assert json.loads(body)["components"]["writer"]["db"] == "lost"
    db.recovered()
    assert render_health(health)[0] == 200


def test_a_stalled_loop_is_unhealthy() -> None:
    health = Health()
    component = health.component("probe", max_age_s=0.0)
    component._last_beat -= 1  # as if it last beat a second ago
    status, body = render_health(health)
    assert status == 503
    assert json.loads(body)["status"] == "fail"


def test_no_loop_yet_is_unhealthy() -> None:
    assert render_health(Health())[0] == 503


# -- metric objects -------------------------------------------------------------------------


def test_check_results_are_counted_by_class() -> None:
    metrics = CheckerMetrics()
    metrics.check_done(result(up=True), 0.01)
    metrics.check_done(result(up=False, status=500), 0.02)
    metrics.check_done(result(up=False, error="timeout"), 5.0)
    metrics.check_done(result(up=False, error="timeout"), 5.0)
    got = samples(_exposition(metrics))
    assert got[("webmon_checks_total", (("result", "up"),))] == 1
    assert got[("webmon_checks_total", (("result", "down"),))] == 1
    assert got[("webmon_checks_total", (("result", "timeout"),))] == 2
    assert got[("webmon_check_duration_seconds_count", ())] == 4
    assert got[("webmon_check_duration_seconds_sum", ())] == pytest.approx(10.03)


def _exposition(metrics: CheckerMetrics | SchedulerMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_two_processes_worth_of_metrics_do_not_collide() -> None:
    # Each builds its own registry: tests can make as many as they like.
    SchedulerMetrics().tasks_emitted.inc()
    assert (
        samples(_exposition(SchedulerMetrics()))[("webmon_scheduler_tasks_emitted_total", ())] == 0
    )


# -- librdkafka statistics -------------------------------------------------------------------


def _stats(broker_state: str, partitions: dict[str, dict[str, object]]) -> str:
    return json.dumps(
        {
            "brokers": {
                "127.0.0.1:9092/1": {"name": "127.0.0.1:9092/1", "state": broker_state,
                                     "source": "learned"},
                "GroupCoordinator": {"name": "GroupCoordinator", "state": "UP",
                                     "source": "logical"},
            },
            "topics": {"webmon.tasks": {"partitions": partitions}},
        }
    )  # fmt: skip


def test_consumer_stats_set_lag_of_assigned_partitions_and_drop_revoked_ones() -> None:
    metrics = CheckerMetrics()
    stats = metrics.consumer_config("probe", log)["stats_cb"]
    stats(
        _stats(
            "UP",
            {
                "0": {"desired": True, "consumer_lag": 7},
                "1": {"desired": True, "consumer_lag": -1},  # nothing committed yet
                "2": {"desired": False, "consumer_lag": 3},  # not ours
                "-1": {"desired": False, "consumer_lag": -1},
            },
        )
    )
    lag = {
        labels: value
        for (name, labels), value in samples(_exposition(metrics)).items()
        if name == "webmon_consumer_lag"
    }
    assert lag == {(("partition", "0"), ("role", "probe"), ("topic", "webmon.tasks")): 7}
    stats(_stats("UP", {"1": {"desired": True, "consumer_lag": 2}}))
    lag_names = [k for k in samples(_exposition(metrics)) if k[0] == "webmon_consumer_lag"]
    assert lag_names == [
        ("webmon_consumer_lag", (("partition", "1"), ("role", "probe"), ("topic", "webmon.tasks")))
    ]


def test_consumer_stats_tell_whether_kafka_is_reachable(caplog: pytest.LogCaptureFixture) -> None:
    metrics = CheckerMetrics()
    stats = metrics.consumer_config("writer", log)["stats_cb"]
    stats(_stats("UP", {}))
    assert render_health(metrics.health)[0] == 200
    with caplog.at_level(logging.INFO, logger="test"):
        stats(_stats("TRY_CONNECT", {}))
        assert render_health(metrics.health)[0] == 503
        assert json.loads(render_health(metrics.health)[1])["components"]["writer"]["kafka"] == (
            "lost"
        )
        stats(_stats("UP", {}))
    assert render_health(metrics.health)[0] == 200
    events = [r.getMessage().split()[0] for r in caplog.records]
    assert events == ["kafka.lost", "kafka.recovered"]


def test_unreadable_stats_are_ignored() -> None:
    metrics = CheckerMetrics()
    stats = metrics.consumer_config("probe", log)["stats_cb"]
    stats("not json")
    stats(json.dumps({"brokers": [], "topics": {"t": {"partitions": {"0": {}}}}}))
    assert render_health(metrics.health)[0] == 200


# -- the endpoint ---------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[MetricsServer, SchedulerMetrics]]:
    metrics = SchedulerMetrics()
    metrics.health.component("scheduler").beat()
    server = MetricsServer("127.0.0.1", free_port(), metrics.registry, metrics.health)
    assert server.start()
    yield server, metrics
    server.stop()


def test_endpoint_serves_metrics_and_healthz(
    server: tuple[MetricsServer, SchedulerMetrics],
) -> None:
    endpoint, metrics = server
    assert endpoint.port is not None
    metrics.tasks_emitted.inc(3)
    status, content_type, body = get(endpoint.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    got = samples(body)
    assert got[("webmon_scheduler_tasks_emitted_total", ())] == 3
    assert ("process_resident_memory_bytes", ()) in got
    assert not any(name.endswith("_created") for name, _ in got)
    status, content_type, body = get(endpoint.port, "/healthz")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body)["status"] == "ok"
    assert get(endpoint.port, "/nothing")[0] == 404


def test_healthz_says_503_when_unhealthy(server: tuple[MetricsServer, SchedulerMetrics]) -> None:
    endpoint, metrics = server
    assert endpoint.port is not None
    kafka = DependencyState("kafka", log)
    metrics.health.component("scheduler").watch(kafka)
    kafka.lost("broker down")
    status, _, body = get(endpoint.port, "/healthz")
    assert status == 503
    assert json.loads(body)["components"]["scheduler"]["kafka"] == "lost"


def test_port_zero_disables_the_endpoint() -> None:
    metrics = SchedulerMetrics()
    server = MetricsServer("127.0.0.1", 0, metrics.registry, metrics.health)
    assert not server.start()
    assert server.port is None
    server.stop()


def test_a_taken_port_is_a_warning_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        metrics = SchedulerMetrics()
        server = MetricsServer("127.0.0.1", port, metrics.registry, metrics.health)
        with caplog.at_level(logging.WARNING):
            assert not server.start()
    assert any(r.getMessage().startswith("metrics.unavailable") for r in caplog.records)


# -- the dashboard --------------------------------------------------------------------------


def test_dashboard_asks_only_for_series_that_exist() -> None:
    dashboard = json.loads((ROOT / "contrib" / "grafana" / "webmon.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    asked = {name for expr in expressions for name in re.findall(r"\bwebmon_[a-z_]+", expr)}
    exposed = sample_names(SchedulerMetrics().registry) | sample_names(CheckerMetrics().registry)
    exposed.add("webmon_consumer_lag")  # labelled by partition: no sample until one is assigned
    assert asked, "the dashboard asks for nothing"
    assert asked <= exposed, asked - exposed
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for subject in ("up", "percentile", "backlog", "lag"):
        assert subject in titles
