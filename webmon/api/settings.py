"""Settings of `webmon-api`: PostgreSQL, where to listen, the target policy, task limits.

The API needs no Kafka: it writes accepted tasks to PostgreSQL, and the scheduler emits
them (and any a crashed API left behind).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from shared.netpolicy import parse_networks
from shared.settings import CommonSettings, LogFormat, SecretKeySettings, TargetPolicySettings

DEFAULT_API_HOST = "127.0.0.1"
DEFAULT_API_PORT = 8080
DEFAULT_TASKS_PER_MINUTE = 60
DEFAULT_TASKS_IN_FLIGHT = 20
# A task that no checker started within this long after it was accepted is not checked.
DEFAULT_TASK_START_WITHIN_S = 60.0
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Request bodies past these are a 413, unread (webmon.api.door): any request, and a bulk
# import (10,000 sites of a few hundred bytes each, or the dashboard's CSV upload).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_BULK_BODY_BYTES = 16 * 1024 * 1024


class ApiSettings(TargetPolicySettings, SecretKeySettings):
    model_config = CommonSettings.model_config

    database_url: SecretStr
    api_host: str = Field(default=DEFAULT_API_HOST, min_length=1)
    api_port: int = Field(default=DEFAULT_API_PORT, ge=0, le=65535)
    # Per API key: tasks accepted per minute, and tasks not final yet.
    tasks_per_minute: int = Field(default=DEFAULT_TASKS_PER_MINUTE, ge=1, le=1_000_000)
    tasks_in_flight: int = Field(default=DEFAULT_TASKS_IN_FLIGHT, ge=1, le=1_000_000)
    task_start_within_s: float = Field(default=DEFAULT_TASK_START_WITHIN_S, ge=5, le=3600)
    # The web dashboard, served by the API process (WEBMON_DASHBOARD=false: the API only).
    dashboard: bool = True
    # Connections the API holds to PostgreSQL at most.
    api_db_pool_size: int = Field(default=10, ge=1, le=200)
    # And for the two hot reads (webmon.api.fastpath), on sessions with generic plans: a
    # few connections keep PostgreSQL's work on few backends (4 beat 10 by ~20 % on two
    # cores, bench/bench_api.py).
    api_read_pool_size: int = Field(default=4, ge=1, le=200)
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    log_format: LogFormat = LogFormat.TEXT
    # Reverse proxies (CIDRs, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto
    # are believed: the client's address (login limits, logs) and scheme (Secure cookies)
    # come from them. None by default: then those headers are ignored, whoever sends them.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    api_max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=2**31)
    api_max_bulk_body_bytes: int = Field(default=DEFAULT_MAX_BULK_BODY_BYTES, ge=1024, le=2**31)
    # Mark the dashboard's cookies Secure whatever the scheme of a request says: for a
    # dashboard behind a TLS proxy that is not a trusted proxy (else its X-Forwarded-Proto
    # says https, and cookies are Secure then anyway).
    secure_cookies: bool = False

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, tuple | list):
            parse_networks(value)  # ValueError names the bad one
        return value
