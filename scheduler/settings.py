"""Settings of `webmon-scheduler`."""

from __future__ import annotations

from pydantic import Field

from shared.settings import DEFAULT_METRICS_HOST, DEFAULT_PARTITIONS, CommonSettings

# Prometheus metrics and /healthz; 0 disables the endpoint. (The checker's is 9102.)
DEFAULT_SCHEDULER_METRICS_PORT = 9101

DEFAULT_CLAIM_BATCH_SIZE = 5_000
DEFAULT_TICK_SECONDS = 1.0
DEFAULT_FLUSH_TIMEOUT_S = 5.0


class SchedulerSettings(CommonSettings):
    claim_batch_size: int = Field(default=DEFAULT_CLAIM_BATCH_SIZE, ge=1, le=100_000)
    # The longest the scheduler waits between looks for due sites. It looks sooner when the
    # earliest site is due or a change of `sites` wakes it; each look drains everything due.
    tick_seconds: float = Field(default=DEFAULT_TICK_SECONDS, gt=0, le=60)
    # How long a batch may wait for the broker's acknowledgements before it is rolled back.
    flush_timeout_s: float = Field(default=DEFAULT_FLUSH_TIMEOUT_S, gt=0, le=60)
    # Days of check_results partitions kept ready ahead of time.
    partitions_ahead_days: int = Field(default=3, ge=1, le=60)
    # Raw results (raw or packed) older than this many days are dropped, a day at a time.
    retention_days: int = Field(default=30, ge=1, le=3660)
    # Hourly and daily rollups and site_events are kept this long (monthly partitions).
    rollup_retention_days: int = Field(default=400, ge=1, le=36600)
    # Whole days older than this are packed into one row per site and day.
    pack_after_days: int = Field(default=1, ge=0, le=3660)
    # Finished on-demand tasks are kept this long, then deleted by maintenance.
    task_retention_days: int = Field(default=7, ge=1, le=3660)
    # An emitted task still without a result this long after it expired, plus its timeout,
    # is ended as ERROR (the checker that had it died): no task stays NEW or PROCESSING.
    task_result_grace_s: float = Field(default=30.0, ge=1, le=3600)
    # How often maintenance runs: partitions, rollups, packing, retention.
    maintenance_interval_s: float = Field(default=300, ge=1, le=86400)
    metrics_host: str = Field(default=DEFAULT_METRICS_HOST, min_length=1)
    metrics_port: int = Field(default=DEFAULT_SCHEDULER_METRICS_PORT, ge=0, le=65535)
    # Partitions of a region's task topic that the scheduler creates when a site first
    # names the region (as webmon-migrate's WEBMON_KAFKA_PARTITIONS for the others).
    kafka_partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=10_000)
