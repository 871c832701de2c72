"""Fixtures: real PostgreSQL and broker, a fresh database and fresh topics per test.

The helpers behind them live in `tests.support`; nothing imports this file.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from migrations.runner import migrate_database
from tests.support.db import Conn
from tests.support.processes import Process
from tests.support.services import Services, database, session_services, variables_for
from tests.support.targets import Targets


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    # Under pytest's own temporary folder, whose parents are 0700: as root the stack must
    # still start (PostgreSQL, run as `nobody`, keeps its files where it can reach them).
    with session_services(tmp_path_factory.mktemp("stack")) as s:
        yield s


@pytest.fixture(scope="session")
def template_db(services: Services) -> Iterator[str]:
    """A migrated database that each test's database is cloned from; yields its name."""
    with database(services.database_url, "webmon_tpl") as url:
        migrate_database(url)
        yield str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])


@pytest.fixture
def db_url(services: Services, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test alone."""
    with database(services.database_url, "webmon_t", template=template_db) as url:
        yield url


@pytest.fixture
def env(services: Services, db_url: str) -> dict[str, str]:
    """WEBMON_* variables for this test: its database and its own topics (created)."""
    return variables_for(services, db_url)


@pytest.fixture
def db(db_url: str) -> Iterator[Conn]:
    """An autocommit connection to this test's database, for arranging and asserting."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    """The hostile local HTTP(S) target server (tests/support/targets.py), one per module."""
    with Targets() as t:
        yield t


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """webmon processes a test started (tests.support.processes.start); killed if running."""
    started: list[Process] = []
    yield started
    for p in started:
        p.ensure_dead()
