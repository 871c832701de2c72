"""Fixtures: real PostgreSQL and broker, a fresh database and fresh topics per test.

With `WEBMON_TEST_DATABASE_URL` and `WEBMON_TEST_KAFKA_BOOTSTRAP_SERVERS` set, tests use
those services (never the `WEBMON_*` ones a process would use: tests create and drop
databases and topics); otherwise the session starts a private embedded stack on free ports
in a temporary folder and stops it at the end, so a test run leaves no process behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shared.kafka import ensure_topics
from shared.migrate import migrate_database
from shared.settings import CommonSettings
from tests.processes import Process
from tests.targets import Targets

TEST_PARTITIONS = 4
# Tansu forms a group in about half the session timeout; keep it short in tests.
TEST_SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class Services:
    database_url: str  # of the maintenance database; tests get their own database
    kafka_bootstrap: str
    stack: object | None  # the LocalStack when the session started one


def _url_with_dbname(url: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


def _drop_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    url = os.environ.get("WEBMON_TEST_DATABASE_URL")
    bootstrap = os.environ.get("WEBMON_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if url and bootstrap:
        yield Services(url, bootstrap, None)
        return
    from shared.localstack import LocalStack, free_port

    # Not pytest's tmp_path: as root, PostgreSQL runs as `nobody`, who cannot enter it.
    state = Path(tempfile.mkdtemp(prefix="webmon-test-stack-"))
    stack = LocalStack(state, free_port(), free_port())
    stack.up()
    try:
        yield Services(stack.database_url, stack.kafka_bootstrap, stack)
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(services: Services) -> Iterator[str]:
    """A migrated database that each test's database is cloned from."""
    name = f"webmon_tpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate_database(_url_with_dbname(services.database_url, name))
    yield name
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def db_url(services: Services, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test alone."""
    name = f"webmon_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    yield _url_with_dbname(services.database_url, name)
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def env(services: Services, db_url: str) -> dict[str, str]:
    """WEBMON_* variables for this test: its database and its own topics (created)."""
    suffix = uuid.uuid4().hex[:10]
    variables = {
        "WEBMON_DATABASE_URL": db_url,
        "WEBMON_KAFKA_BOOTSTRAP_SERVERS": services.kafka_bootstrap,
        "WEBMON_TASKS_TOPIC": f"test.tasks.{suffix}",
        "WEBMON_RESULTS_TOPIC": f"test.results.{suffix}",
        "WEBMON_DEAD_LETTER_TOPIC": f"test.dead-letter.{suffix}",
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
    ensure_topics(
        settings,
        [
            variables["WEBMON_TASKS_TOPIC"],
            variables["WEBMON_RESULTS_TOPIC"],
            variables["WEBMON_DEAD_LETTER_TOPIC"],
        ],
        TEST_PARTITIONS,
    )
    return variables


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to this test's database, for arranging and asserting."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    """The hostile local HTTP(S) target server (tests/targets.py), one per test module."""
    with Targets() as t:
        yield t


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """webmon processes a test started (tests.processes.start); killed if still running."""
    started: list[Process] = []
    yield started
    for p in started:
        p.ensure_dead()
