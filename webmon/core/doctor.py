"""`webmon doctor`: can this configuration work? One line per check, exit 1 on any FAIL.

Checks PostgreSQL (connection and server version), the migrations (every one this webmon
ships is applied), Kafka (the brokers answer) and the three topics (they exist; their
partition counts against WEBMON_KAFKA_PARTITIONS). Shows where it connects (host, port,
database, bootstrap servers), never a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from migrations.runner import applied_versions, available_migrations
from migrations.settings import MigrateSettings
from shared.db import connect, describe_url, translated_errors
from shared.errors import WebmonError
from shared.kafka import ClusterInfo, describe_cluster

KAFKA_TIMEOUT_S = 10.0
# librdkafka logs every failed connection attempt to stderr; the doctor reports them itself.
QUIET_KAFKA = {"log_level": 0}


class Outcome(StrEnum):
    OK = "ok"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    outcome: Outcome
    subject: str
    message: str

    def line(self) -> str:
        return f"{self.outcome.value:<4} {self.subject:<10} {self.message}"


def database_checks(url: str) -> Iterator[Check]:
    where = describe_url(url)
    try:
        conn = connect(url, application_name="webmon-doctor")
    except WebmonError as exc:
        yield Check(Outcome.FAIL, "postgres", f"cannot connect to {where}: {exc}")
        yield Check(Outcome.FAIL, "migrations", "not checked: no database connection")
        return
    with translated_errors(), conn:
        row = conn.execute("SELECT current_setting('server_version')").fetchone()
        version = row[0] if row else "?"
        yield Check(Outcome.OK, "postgres", f"connected to {where} (PostgreSQL {version})")
        yield migrations_check(applied_versions(conn))


def migrations_check(applied: set[int]) -> Check:
    shipped = available_migrations()
    missing = [m for m in shipped if m.version not in applied]
    count = f"{len(shipped) - len(missing)} of {len(shipped)} applied"
    if missing:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in missing)
        return Check(Outcome.FAIL, "migrations", f"{count} (missing: {names}; run webmon-migrate)")
    return Check(Outcome.OK, "migrations", count)


def kafka_checks(settings: MigrateSettings) -> Iterator[Check]:
    where = f"{settings.kafka_bootstrap_servers} ({settings.kafka_security_protocol.value})"
    try:
        cluster = describe_cluster(settings, KAFKA_TIMEOUT_S, **QUIET_KAFKA)
    except WebmonError as exc:
        yield Check(Outcome.FAIL, "kafka", f"{where}: {exc}")
        yield Check(Outcome.FAIL, "topic", "not checked: no Kafka connection")
        return
    brokers = f"{cluster.brokers} broker{'s' if cluster.brokers != 1 else ''}"
    yield Check(Outcome.OK, "kafka", f"connected to {where}, {brokers}")
    for topic in settings.topics():
        yield topic_check(cluster, topic, settings.kafka_partitions)


def topic_check(cluster: ClusterInfo, topic: str, expected_partitions: int) -> Check:
    partitions = cluster.partitions.get(topic)
    if partitions is None:
        return Check(Outcome.FAIL, "topic", f"{topic} missing (run webmon-migrate)")
    found = f"{topic}: {partitions} partition{'s' if partitions != 1 else ''}"
    if partitions != expected_partitions:
        expected = f"WEBMON_KAFKA_PARTITIONS is {expected_partitions}"
        return Check(Outcome.WARN, "topic", f"{found} ({expected})")
    return Check(Outcome.OK, "topic", found)


def run_checks(settings: MigrateSettings) -> list[Check]:
    return [
        *database_checks(settings.database_url.get_secret_value()),
        *kafka_checks(settings),
    ]
