"""The checker's Prometheus series (both roles share one registry) and its health."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from shared.health import DependencyState
from shared.messages import CheckResult
from shared.metrics import BATCH_BUCKETS, CHECK_BUCKETS, STATS_INTERVAL_MS, ConsumerStats, Health

WRITER_DB_ERROR_KINDS = ("unavailable", "statement")
ROLES = ("probe", "writer")
# Result classes that exist before the first check, so that rate() has a series to start
# from; the error classes appear as they happen.
BASE_RESULTS = ("up", "down")


class CheckerMetrics:
    """Both roles of a checker process share one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.health = Health()
        r = self.registry
        ProcessCollector(registry=r)
        # probe
        self._checks = Counter(
            "webmon_checks_total",
            "Checks performed, by result: up, down (a response, but not up) or the error class",
            ["result"],
            registry=r,
        )
        self._check_children = {result: self._checks.labels(result) for result in BASE_RESULTS}
        self.check_duration_seconds = Histogram(
            "webmon_check_duration_seconds",
            "Wall time of one check, from the request's start to its result",
            buckets=CHECK_BUCKETS,
            registry=r,
        )
        self.checks_in_flight = Gauge(
            "webmon_checks_in_flight", "Checks running right now", registry=r
        )
        self.tasks_expired = Counter(
            "webmon_tasks_expired_total",
            "Tasks dropped unchecked because their site's next slot had come",
            registry=r,
        )
        dead_lettered = Counter(
            "webmon_dead_lettered_total",
            "Unparsable messages sent to the dead-letter topic, by role",
            ["role"],
            registry=r,
        )
        self.probe_dead_lettered = dead_lettered.labels("probe")
        self.writer_dead_lettered = dead_lettered.labels("writer")
        self.consumer_lag = Gauge(
            "webmon_consumer_lag",
            "Messages between a partition's end and the group's committed offset",
            ["role", "topic", "partition"],
            registry=r,
        )
        # writer
        self.writer_rows_written = Counter(
            "webmon_writer_rows_written_total",
            "Results in batches committed to PostgreSQL (redelivered duplicates included)",
            registry=r,
        )
        self.writer_rows_inserted = Counter(
            "webmon_writer_rows_inserted_total",
            "New check_results rows (duplicates of stored checks excluded)",
            registry=r,
        )
        self.writer_batch_seconds = Histogram(
            "webmon_writer_batch_seconds",
            "One batch written to PostgreSQL: stage, insert, update site_status, commit",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self._db_errors = Counter(
            "webmon_writer_db_errors_total",
            "Failed batch writes by kind: unavailable (no connection) or statement",
            ["kind"],
            registry=r,
        )
        for kind in WRITER_DB_ERROR_KINDS:
            self._db_errors.labels(kind)

    def check_done(self, result: CheckResult, seconds: float) -> None:
        name = result.error or ("up" if result.up else "down")
        child = self._check_children.get(name)
        if child is None:
            child = self._check_children[name] = self._checks.labels(name)
        child.inc()
        self.check_duration_seconds.observe(seconds)

    def db_error(self, kind: str) -> None:
        self._db_errors.labels(kind).inc()

    def consumer_config(self, role: str, log: logging.Logger) -> dict[str, Any]:
        """librdkafka options for a consumer of `role`: statistics every few seconds feed
        its lag series and the Kafka dependency of the role's health component."""
        stats = ConsumerStats(role, self.consumer_lag, DependencyState("kafka", log))
        self.health.component(role).watch(stats.kafka)
        return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": stats}
