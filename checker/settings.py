"""Settings of `webmon-checker`, both roles."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from checker.probe.prober import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_FIELD_BYTES,
    DEFAULT_MAX_REDIRECTS,
)
from shared.messages import MAX_SITE_REDIRECTS
from shared.messages.bounds import DEFAULT_REGION, REGION_PATTERN
from shared.settings import (
    DEFAULT_METRICS_HOST,
    DEFAULT_PARTITIONS,
    CommonSettings,
    SecretKeySettings,
    TargetPolicySettings,
)


class CheckerRole(StrEnum):
    PROBE = "probe"
    WRITER = "writer"


# Prometheus metrics and /healthz; 0 disables the endpoint. (The scheduler's is 9101.)
DEFAULT_CHECKER_METRICS_PORT = 9102
DEFAULT_PROBE_GROUP = "webmon-probe"
DEFAULT_WRITER_GROUP = "webmon-writer"
DEFAULT_ONDEMAND_PROBE_GROUP = "webmon-probe-ondemand"
DEFAULT_ONDEMAND_WRITER_GROUP = "webmon-writer-ondemand"
DEFAULT_CONCURRENCY = 512
DEFAULT_GRACE_S = 10.0
DEFAULT_WRITER_BATCH_SIZE = 5_000
DEFAULT_WRITER_BATCH_AGE_S = 0.5
DEFAULT_WRITER_LANES = 2
# Region health (docs/regions.md#region-health): a region is unhealthy when, of its checks in
# a batch that another region also performed, those down while another region saw the slot
# up span at least this many sites and make at least this share of them.
DEFAULT_REGION_MIN_SITES = 10
DEFAULT_REGION_DOWN_RATIO = 0.8
# A region's canary makes it unhealthy once it failed this many of its checks in a row (a
# flaky canary's single failure does not); the outage starts at the first of them.
DEFAULT_REGION_CANARY_FAILURES = 2


class CheckerSettings(CommonSettings, TargetPolicySettings, SecretKeySettings):
    # Only the writer role connects to PostgreSQL: a checker that only probes (a remote
    # region's, near its sites and far from the database) runs without WEBMON_DATABASE_URL,
    # so the database's credentials need not leave the database's side. Empty: not set.
    database_url: SecretStr = SecretStr("")
    # Both roles by default; WEBMON_CHECKER_ROLES=probe or =writer runs one alone.
    checker_roles: Annotated[set[CheckerRole], NoDecode] = Field(
        default={CheckerRole.PROBE, CheckerRole.WRITER}, min_length=1
    )
    probe_group: str = Field(default=DEFAULT_PROBE_GROUP, min_length=1)
    # The region this checker checks from (WEBMON_CHECKER_REGION): its probe consumes the
    # region's task topic in the region's own group, and stamps the region on each result.
    checker_region: str = Field(default=DEFAULT_REGION, pattern=REGION_PATTERN, max_length=40)
    # Partitions of the region's task topic if this checker is the first to need it.
    kafka_partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=10_000)
    # Static group membership (KIP-345): a stable name per replica. A replica restarted
    # under the same name within the session timeout gets its partitions back without a
    # rebalance, where the broker supports it. Unset: dynamic membership. Two running
    # replicas must never share one (the broker fences the older).
    checker_instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    writer_group: str = Field(default=DEFAULT_WRITER_GROUP, min_length=1)
    # The groups of the on-demand topics (a consumer each, beside the scheduled ones).
    ondemand_probe_group: str = Field(default=DEFAULT_ONDEMAND_PROBE_GROUP, min_length=1)
    ondemand_writer_group: str = Field(default=DEFAULT_ONDEMAND_WRITER_GROUP, min_length=1)
    # Checks in flight at once per process.
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=20_000)
    # Body bytes read per check, counted after decompression when the regex needs them; the
    # regex is searched in these as they stream (a check holds a window, not all of them).
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=0, le=64 * 1_048_576)
    # Redirects followed, unless the site sets its own (sites.max_redirects).
    max_redirects: int = Field(default=DEFAULT_MAX_REDIRECTS, ge=0, le=MAX_SITE_REDIRECTS)
    # Response heads: bytes per header line (and status line), and in all. The total is
    # what stops a header bomb: a head is at most this much memory per check in flight.
    max_header_field_bytes: int = Field(
        default=DEFAULT_MAX_HEADER_FIELD_BYTES, ge=1024, le=1_048_576
    )
    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, ge=1024, le=4 * 1_048_576)
    # On SIGTERM: how long in-flight checks may still finish before they are abandoned.
    grace_s: float = Field(default=DEFAULT_GRACE_S, ge=0, le=300)
    writer_batch_size: int = Field(default=DEFAULT_WRITER_BATCH_SIZE, ge=1, le=100_000)
    writer_batch_age_s: float = Field(default=DEFAULT_WRITER_BATCH_AGE_S, gt=0, le=60)
    # Batches written at once, each on its own connection, over disjoint partitions.
    writer_lanes: int = Field(default=DEFAULT_WRITER_LANES, ge=1, le=16)
    # The writer's "most sites" signal of an unhealthy region (the canary needs neither).
    region_min_sites: int = Field(default=DEFAULT_REGION_MIN_SITES, ge=1, le=1_000_000)
    region_down_ratio: float = Field(default=DEFAULT_REGION_DOWN_RATIO, gt=0, le=1)
    # The canary's signal: failed checks in a row before its region is unhealthy.
    region_canary_failures: int = Field(default=DEFAULT_REGION_CANARY_FAILURES, ge=1, le=1_000)
    metrics_host: str = Field(default=DEFAULT_METRICS_HOST, min_length=1)
    metrics_port: int = Field(default=DEFAULT_CHECKER_METRICS_PORT, ge=0, le=65535)

    @property
    def region_topic(self) -> str:
        """The task topic this checker's probe consumes: its region's."""
        return self.region_tasks_topic(self.checker_region)

    @property
    def region_probe_group(self) -> str:
        """The consumer group of this region's probes: `probe_group` in the default region,
        `<probe_group>.<region>` elsewhere, so that a region's checkers share its tasks and
        one region's rebalances never pause another's."""
        if self.checker_region == DEFAULT_REGION:
            return self.probe_group
        return f"{self.probe_group}.{self.checker_region}"

    @property
    def ondemand_region_topic(self) -> str:
        """The on-demand task topic this checker's probe consumes: its region's."""
        return self.region_ondemand_topic(self.checker_region)

    @property
    def region_ondemand_probe_group(self) -> str:
        """The group of this region's on-demand consumers, named as `region_probe_group`."""
        if self.checker_region == DEFAULT_REGION:
            return self.ondemand_probe_group
        return f"{self.ondemand_probe_group}.{self.checker_region}"

    def group_membership(self, role: str) -> dict[str, str]:
        """The consumer options of `role` ("probe" or "writer") for static membership."""
        if self.checker_instance_id is None:
            return {}
        return {"group.instance.id": f"{self.checker_instance_id}.{role}"}

    @model_validator(mode="after")
    def _writer_needs_the_database(self) -> Self:
        if CheckerRole.WRITER in self.checker_roles and not self.database_url.get_secret_value():
            raise ValueError(
                "database_url: required by the writer role (a checker that only probes,"
                " WEBMON_CHECKER_ROLES=probe or --role probe, runs without it)"
            )
        return self

    @field_validator("checker_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        if isinstance(value, str):
            return {part.strip() for part in value.split(",") if part.strip()}
        return value
