"""Settings of `webmon-migrate`: what it needs to create the tables and the topics."""

from __future__ import annotations

from pydantic import Field

from shared.settings import DEFAULT_PARTITIONS, CommonSettings


class MigrateSettings(CommonSettings):
    kafka_partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=10_000)
    # None: the broker's default (replication factor -1, KIP-464).
    kafka_replication_factor: int | None = Field(default=None, ge=1, le=16)
