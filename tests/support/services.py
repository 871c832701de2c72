"""The services a test session talks to, and a fresh database per test.

With `WEBMON_TEST_DATABASE_URL` and `WEBMON_TEST_KAFKA_BOOTSTRAP_SERVERS` set, tests use
those services (never the `WEBMON_*` ones a process would use: tests create and drop
databases and topics); otherwise the session starts a private embedded stack on free ports
and stops it at the end, so a test run leaves no process behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from devstack.localstack import LocalStack, free_port
from shared.kafka import ensure_topics
from shared.settings import CommonSettings

TEST_PARTITIONS = 4
# Tansu forms a group in about half the session timeout; keep it short in tests.
TEST_SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class Services:
    database_url: str  # of the maintenance database; tests get their own database
    kafka_bootstrap: str
    stack: LocalStack | None  # the LocalStack when the session started one


@contextmanager
def session_services(state_dir: Path) -> Iterator[Services]:
    """The configured test services, or a private embedded stack under `state_dir`."""
    url = os.environ.get("WEBMON_TEST_DATABASE_URL")
    bootstrap = os.environ.get("WEBMON_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if url and bootstrap:
        yield Services(url, bootstrap, None)
        return
    stack = LocalStack(state_dir, free_port(), free_port())
    stack.up()
    try:
        yield Services(stack.database_url, stack.kafka_bootstrap, stack)
    finally:
        stack.destroy()


def url_with_dbname(url: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


@contextmanager
def database(server_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server (a copy of `template`, if given), dropped afterwards;
    yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield url_with_dbname(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def variables_for(services: Services, db_url: str) -> dict[str, str]:
    """WEBMON_* variables for one test: its database and its own topics (created here)."""
    suffix = uuid.uuid4().hex[:10]
    variables = {
        "WEBMON_DATABASE_URL": db_url,
        "WEBMON_KAFKA_BOOTSTRAP_SERVERS": services.kafka_bootstrap,
        "WEBMON_TASKS_TOPIC": f"test.tasks.{suffix}",
        "WEBMON_RESULTS_TOPIC": f"test.results.{suffix}",
        "WEBMON_DEAD_LETTER_TOPIC": f"test.dead-letter.{suffix}",
        "WEBMON_ONDEMAND_TASKS_TOPIC": f"test.ondemand-tasks.{suffix}",
        "WEBMON_ONDEMAND_RESULTS_TOPIC": f"test.ondemand-results.{suffix}",
        "WEBMON_ONDEMAND_PROBE_GROUP": f"test.ondemand-probe.{suffix}",
        "WEBMON_ONDEMAND_WRITER_GROUP": f"test.ondemand-writer.{suffix}",
        "WEBMON_KAFKA_SESSION_TIMEOUT_MS": str(TEST_SESSION_TIMEOUT_MS),
        "WEBMON_PROBE_GROUP": f"test.probe.{suffix}",
        "WEBMON_WRITER_GROUP": f"test.writer.{suffix}",
        # No metrics endpoint unless a test asks for one on a free port of its own.
        "WEBMON_METRICS_PORT": "0",
    }
    settings = CommonSettings(
        database_url=db_url,
        kafka_bootstrap_servers=services.kafka_bootstrap,
        _env_file=None,  # type: ignore[call-arg]
    )
    kinds = ("TASKS", "RESULTS", "DEAD_LETTER", "ONDEMAND_TASKS", "ONDEMAND_RESULTS")
    topics = [variables[f"WEBMON_{kind}_TOPIC"] for kind in kinds]
    ensure_topics(settings, topics, TEST_PARTITIONS)
    return variables
