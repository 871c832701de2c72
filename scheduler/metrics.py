"""The scheduler's Prometheus series and its health components."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from shared.metrics import BATCH_BUCKETS, Health

SCHEDULER_ERROR_KINDS = ("db", "kafka", "sql", "maintenance", "backlog")


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.health = Health()
        r = self.registry
        ProcessCollector(registry=r)
        self.tasks_emitted = Counter(
            "webmon_scheduler_tasks_emitted_total",
            "Check tasks acknowledged by Kafka whose claim was committed",
            registry=r,
        )
        self.claim_batch_seconds = Histogram(
            "webmon_scheduler_claim_batch_seconds",
            "One claimed batch: produce, wait for the acknowledgements, commit",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.due_backlog = Gauge(
            "webmon_scheduler_due_backlog",
            "Enabled sites due now and not yet claimed (sampled periodically)",
            registry=r,
        )
        self._errors = Counter(
            "webmon_scheduler_errors_total",
            "Scheduler failures by kind: db (unreachable), kafka (produce or flush), "
            "sql (a statement failed), maintenance, backlog",
            ["kind"],
            registry=r,
        )
        for kind in SCHEDULER_ERROR_KINDS:
            self._errors.labels(kind)

    def error(self, kind: str) -> None:
        self._errors.labels(kind).inc()
