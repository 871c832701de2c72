"""Settings of `webmon-notifier`: PostgreSQL, the target policy, sending and retrying."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import (
    DEFAULT_METRICS_HOST,
    CommonSettings,
    LogFormat,
    SecretKeySettings,
    TargetPolicySettings,
)

# Prometheus metrics and /healthz; 0 disables the endpoint. (The scheduler's is 9101, the
# checker's 9102, and `make run`'s second checker's 9103.)
DEFAULT_NOTIFIER_METRICS_PORT = 9104


class NotifierSettings(TargetPolicySettings, SecretKeySettings):
    """The notifier needs no Kafka: the writer puts notifications in PostgreSQL.
    WEBMON_SECRET_KEY opens the channels' sealed secrets."""

    model_config = CommonSettings.model_config

    database_url: SecretStr
    # Sends in flight at once, in all and to one channel: a channel that is slow or down
    # holds at most its own share.
    notifier_concurrency: int = Field(default=64, ge=1, le=10_000)
    notifier_channel_concurrency: int = Field(default=16, ge=1, le=10_000)
    # How long a claim holds a notification: a notifier that died is replaced after it.
    notifier_lease_s: float = Field(default=60.0, ge=1, le=3600)
    # How often the outbox is looked at when nothing is due.
    notifier_poll_s: float = Field(default=0.25, gt=0, le=60)
    notifier_request_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Retries: capped exponential backoff with jitter; after this many attempts, failed.
    notifier_max_attempts: int = Field(default=12, ge=1, le=1000)
    notifier_backoff_base_s: float = Field(default=2.0, gt=0, le=3600)
    notifier_backoff_cap_s: float = Field(default=300.0, gt=0, le=86400)
    # Held notifications whose window ended, and reminders, are looked for this often.
    notifier_sweep_s: float = Field(default=5.0, gt=0, le=3600)
    # On SIGTERM, sends in flight may finish for this long; the rest are released.
    notifier_grace_s: float = Field(default=5.0, ge=0, le=300)
    metrics_host: str = Field(default=DEFAULT_METRICS_HOST, min_length=1)
    metrics_port: int = Field(default=DEFAULT_NOTIFIER_METRICS_PORT, ge=0, le=65535)
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    log_format: LogFormat = LogFormat.TEXT
