"""The notifier's Prometheus series and its health component."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from shared.metrics import BATCH_BUCKETS, Health

RESULTS = ("sent", "retried", "failed", "released")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.health = Health()
        r = self.registry
        ProcessCollector(registry=r)
        self._notifications = Counter(
            "webmon_notifier_notifications_total",
            "Notifications by channel kind and outcome: sent, retried (a failed attempt), "
            "failed (out of retries, or refused for good), released (on stop)",
            ["kind", "result"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "webmon_notifier_send_seconds",
            "One send to a channel, whatever its outcome",
            ["kind"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "webmon_notifier_delivery_seconds",
            "From the notification's row written (with the result) to it marked sent",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "webmon_notifier_in_flight", "Sends in progress in this notifier", registry=r
        )
        self.outbox = Gauge(
            "webmon_notifier_outbox",
            "Notifications pending or failed in the outbox (sampled periodically)",
            ["state"],
            registry=r,
        )
        self.db_errors = Counter(
            "webmon_notifier_db_errors_total", "Outbox statements that failed", registry=r
        )
        for state in ("pending", "failed"):
            self.outbox.labels(state)

    def count(self, kind: str, result: str) -> None:
        self._notifications.labels(kind, result).inc()
