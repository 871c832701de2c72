"""Prometheus metrics and `/healthz`, per process.

The plumbing every process shares. Each component builds its metric objects in a
registry of its own (`scheduler.metrics`, `checker.metrics`) and serves them with
`MetricsServer`, started explicitly by the process's `__main__` (never at import). The
loops receive the metric objects and count into them; a loop built without them (tests,
benchmarks) gets a private, unserved set.

`/healthz` answers 200 when every loop of the process beat its heartbeat recently and
none of the dependencies it watches (PostgreSQL, Kafka) is lost; 503 otherwise. Either
way the body is one line of JSON saying which.

Series (all prefixed `webmon_`):

    scheduler  scheduler_tasks_emitted_total, scheduler_claim_batch_seconds,
               scheduler_due_backlog, scheduler_errors_total{kind}
    checker    checks_total{result}, check_duration_seconds, checks_in_flight,
               tasks_expired_total, dead_lettered_total{role},
               consumer_lag{role,topic,partition},
               writer_rows_written_total, writer_rows_inserted_total,
               writer_batch_seconds, writer_db_errors_total{kind}
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

from shared.health import DependencyState

logger = logging.getLogger(__name__)

# A loop that has not beaten its heartbeat for this long is stuck.
DEFAULT_MAX_AGE_S = 30.0
# librdkafka reports consumer statistics (lag, broker states) this often.
STATS_INTERVAL_MS = 5_000
SERVER_STOP_TIMEOUT_S = 2.0

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


# -- health -------------------------------------------------------------------------------


class Component:
    """One loop of a process: its heartbeat and the dependencies it talks to."""

    def __init__(self, name: str, max_age_s: float) -> None:
        self.name = name
        self.max_age_s = max_age_s
        self._last_beat = time.monotonic()
        self._dependencies: list[DependencyState] = []

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def watch(self, *dependencies: DependencyState) -> None:
        self._dependencies.extend(dependencies)

    def report(self, now: float) -> tuple[bool, dict[str, object]]:
        age = now - self._last_beat
        healthy = age <= self.max_age_s
        entry: dict[str, object] = {"age_s": round(age, 3)}
        for dependency in self._dependencies:
            entry[dependency.name] = "ok" if dependency.ok else "lost"
            healthy = healthy and dependency.ok
        return healthy, entry


class Health:
    """The components of a process; healthy when each is progressing and connected."""

    def __init__(self) -> None:
        self._components: dict[str, Component] = {}
        self._lock = threading.Lock()

    def component(self, name: str, max_age_s: float = DEFAULT_MAX_AGE_S) -> Component:
        with self._lock:
            component = self._components.get(name)
            if component is None:
                component = self._components[name] = Component(name, max_age_s)
            component.max_age_s = max(component.max_age_s, max_age_s)
            return component

    def report(self) -> tuple[bool, dict[str, object]]:
        now = time.monotonic()
        with self._lock:
            components = list(self._components.values())
        entries: dict[str, object] = {}
        healthy = bool(components)  # nothing running yet: not healthy
        for component in components:
            ok, entries[component.name] = component.report(now)
            healthy = healthy and ok
        return healthy, {"status": "ok" if healthy else "fail", "components": entries}


class ConsumerStats:
    """librdkafka's `stats_cb`: per-partition lag of the assigned partitions, and whether
    any broker connection is up. Runs on the thread that polls the consumer."""

    def __init__(self, role: str, lag: Gauge, kafka: DependencyState) -> None:
        self.role = role
        self.kafka = kafka
        self._lag = lag
        self._reported: set[tuple[str, str]] = set()

    def __call__(self, raw: str) -> None:
        try:
            stats = json.loads(raw)
            self._update_connection(stats.get("brokers", {}))
            self._update_lag(stats.get("topics", {}))
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            logger.debug("metrics.stats_unreadable role=%s error=%r", self.role, exc)

    def _update_connection(self, brokers: dict[str, Any]) -> None:
        real = [b for b in brokers.values() if b.get("source") != "logical"]
        if not real:
            return
        if any(b.get("state") == "UP" for b in real):
            self.kafka.recovered()
        else:
            states = ", ".join(sorted(f"{b.get('name')}: {b.get('state')}" for b in real))
            self.kafka.lost(f"no broker connection ({states})")

    def _update_lag(self, topics: dict[str, Any]) -> None:
        seen: set[tuple[str, str]] = set()
        for topic, entry in topics.items():
            for partition, p in entry.get("partitions", {}).items():
                if partition == "-1" or not p.get("desired"):
                    continue
                lag = p.get("consumer_lag", -1)
                if lag < 0:  # nothing committed yet, or the end is not known yet
                    continue
                self._lag.labels(self.role, topic, partition).set(lag)
                seen.add((topic, partition))
        for topic, partition in self._reported - seen:
            try:
                self._lag.remove(self.role, topic, partition)
            except KeyError:
                pass
        self._reported = seen


# -- the endpoint -------------------------------------------------------------------------


def render_health(health: Health) -> tuple[int, bytes]:
    healthy, body = health.report()
    return (200 if healthy else 503), json.dumps(body, separators=(",", ":")).encode() + b"\n"


class MetricsServer:
    """`/metrics` (Prometheus text format) and `/healthz` on a port of their own, served
    by a daemon thread. Port 0 disables it."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, health: Health) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._health = health
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The port listened on, None when not serving."""
        return None if self._server is None else int(self._server.server_address[1])

    def start(self) -> bool:
        """Listen and serve; False (and a warning) if the port cannot be had: a process
        without its metrics endpoint still does its work."""
        if self._port == 0:
            logger.info("metrics.disabled")
            return False
        # No `*_created` twin of every counter and histogram: noise for Prometheus' text format.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        handler = _handler(self._registry, self._health)
        try:
            server = ThreadingHTTPServer((self._host, self._port), handler)
        except OSError as exc:
            logger.warning(
                "metrics.unavailable host=%s port=%d error=%s",
                self._host,
                self._port,
                exc.strerror or exc,
            )
            return False
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="metrics", daemon=True
        )
        self._thread.start()
        logger.info("metrics.listening host=%s port=%d", self._host, self.port)
        return True

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(SERVER_STOP_TIMEOUT_S)


def _handler(registry: CollectorRegistry, health: Health) -> type[BaseHTTPRequestHandler]:
    def metrics() -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

    def healthz() -> tuple[int, str, bytes]:
        status, body = render_health(health)
        return status, "application/json", body

    routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
        "/metrics": metrics,
        "/healthz": healthz,
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self._send(404, "text/plain; charset=utf-8", b"try /metrics or /healthz\n")
                return
            self._send(*route())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes are not operator news

    return Handler


def sample_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name the registry exposes (tests and the dashboard check use it)."""
    return {sample.name for metric in registry.collect() for sample in metric.samples}
