"""`webmon-migrate`: apply the SQL migrations, then create the Kafka topics.

Two kinds of files, both plain SQL:

* `migrations/NNNN_name.sql`, numbered: tables, columns, indexes, data. Applied once each,
  in order, each in its own transaction, recorded in `webmon_migrations`. A released one
  never changes; a change is a new number.
* `migrations/functions/NNN_name.sql`: functions and views, written `CREATE OR REPLACE`,
  so each file holds the current body of what it defines. After the numbered ones, every
  file whose text changed since it was last applied (by its SHA-256 in
  `webmon_functions`) is applied again, and all of them whenever a numbered migration
  ran. A change of a function's arguments or result type, which CREATE OR REPLACE cannot
  do, takes a numbered migration that drops the old one.

A session advisory lock keeps two runners from interleaving; whoever comes second finds
nothing left to do.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import sys
from dataclasses import dataclass
from importlib import resources

from migrations.settings import MigrateSettings
from shared import locks
from shared.db import Connection, connect, translated_errors
from shared.errors import WebmonError
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import load_settings

logger = logging.getLogger(__name__)

PROGRAM = "webmon-migrate"
MIGRATIONS_PACKAGE = "migrations"
FUNCTIONS_FOLDER = "functions"
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_FUNCTIONS_FILENAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

BOOKKEEPING_SQL = """
CREATE TABLE IF NOT EXISTS webmon_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS webmon_functions (
    file       text PRIMARY KEY,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
RECORD_MIGRATION_SQL = "INSERT INTO webmon_migrations (version, name) VALUES (%s, %s)"
RECORD_FUNCTIONS_SQL = """
INSERT INTO webmon_functions (file, sha256) VALUES (%s, %s)
    ON CONFLICT (file) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class FunctionsFile:
    file: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILENAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise WebmonError(f"two migrations share a version number: {versions}")
    return found


def available_functions() -> list[FunctionsFile]:
    folder = resources.files(MIGRATIONS_PACKAGE).joinpath(FUNCTIONS_FOLDER)
    found = [
        FunctionsFile(entry.name, entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if _FUNCTIONS_FILENAME.match(entry.name)
    ]
    return sorted(found, key=lambda f: f.file)


def applied_versions(conn: Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('webmon_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM webmon_migrations")}


def applied_functions(conn: Connection) -> dict[str, str]:
    """file -> SHA-256 of the text last applied."""
    exists = conn.execute("SELECT to_regclass('webmon_functions') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    return dict(conn.execute("SELECT file, sha256 FROM webmon_functions").fetchall())


def stale_functions(conn: Connection) -> list[FunctionsFile]:
    """The function files whose current text is not the one applied."""
    applied = applied_functions(conn)
    return [f for f in available_functions() if applied.get(f.file) != f.sha256]


def migrate_database(
    url: str, *, upto: int | None = None, functions: bool = True
) -> list[Migration]:
    """Apply every pending migration (up to version `upto`, if given), then the function
    files that need it (unless `functions` is false); return the migrations applied."""
    applied: list[Migration] = []
    conn = connect(url, autocommit=True, application_name=PROGRAM)
    with translated_errors(), conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (locks.MIGRATION,))
        try:
            conn.execute(BOOKKEEPING_SQL)
            done = applied_versions(conn)
            for migration in available_migrations():
                if migration.version in done or (upto is not None and migration.version > upto):
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(RECORD_MIGRATION_SQL, (migration.version, migration.name))
                logger.info(
                    "migrate.applied version=%04d name=%s", migration.version, migration.name
                )
                applied.append(migration)
            if functions:
                _apply_functions(conn, everything=bool(applied))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (locks.MIGRATION,))
    return applied


def _apply_functions(conn: Connection, *, everything: bool) -> None:
    """One transaction for all of them, so readers never see half a set."""
    files = available_functions() if everything else stale_functions(conn)
    if not files:
        return
    with conn.transaction():
        for f in files:
            conn.execute(f.sql)
            conn.execute(RECORD_FUNCTIONS_SQL, (f.file, f.sha256))
    logger.info("migrate.functions applied=%s", ",".join(f.file for f in files))


REGIONS_SQL = "SELECT DISTINCT region FROM sites, unnest(regions) AS region ORDER BY 1"


def site_regions(url: str) -> list[str]:
    """The regions the sites are checked from: each has a task topic (the scheduler also
    creates one when a site first names a new region)."""
    with translated_errors(), connect(url, autocommit=True, application_name=PROGRAM) as conn:
        return [str(row[0]) for row in conn.execute(REGIONS_SQL).fetchall()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.add_argument("--skip-kafka", action="store_true", help="do not create topics")
    args = parser.parse_args(argv)
    settings = load_settings(MigrateSettings, PROGRAM)
    configure_logging(settings.log_level, settings.log_format)
    try:
        applied = migrate_database(settings.database_url.get_secret_value())
        if not applied:
            logger.info("migrate.up_to_date")
        if not args.skip_kafka:
            regions = site_regions(settings.database_url.get_secret_value())
            per_region = [
                topic
                for r in regions
                for topic in (settings.region_tasks_topic(r), settings.region_ondemand_topic(r))
            ]
            topics = list(dict.fromkeys(settings.topics() + per_region))
            created = ensure_topics(
                settings, topics, settings.kafka_partitions, settings.kafka_replication_factor
            )
            logger.info(
                "migrate.topics created=%s existing=%d partitions=%d",
                ",".join(created) or "-",
                len(topics) - len(created),
                settings.kafka_partitions,
            )
    except WebmonError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        return 1
    return 0
