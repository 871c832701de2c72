"""Apply the numbered SQL migrations and create the Kafka topics.

Migrations are `migrations/NNNN_name.sql`, applied in order, each in its own transaction,
recorded in `webmon_migrations`. A session advisory lock keeps two runners from
interleaving; whoever comes second finds nothing left to do.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from importlib import resources

from shared import locks
from shared.db import Connection, connect, translated_errors
from shared.errors import WebmonError
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.settings import MigrateSettings, load_settings

logger = logging.getLogger(__name__)

PROGRAM = "webmon-migrate"
MIGRATIONS_PACKAGE = "migrations"
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

BOOKKEEPING_SQL = """
CREATE TABLE IF NOT EXISTS webmon_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


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


def applied_versions(conn: Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('webmon_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM webmon_migrations")}


def migrate_database(url: str) -> list[Migration]:
    """Apply every pending migration; return the ones applied."""
    applied: list[Migration] = []
    conn = connect(url, autocommit=True, application_name="webmon-migrate")
    with translated_errors(), conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (locks.MIGRATION,))
        try:
            conn.execute(BOOKKEEPING_SQL)
            done = applied_versions(conn)
            for migration in available_migrations():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO webmon_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                logger.info(
                    "migrate.applied version=%04d name=%s", migration.version, migration.name
                )
                applied.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (locks.MIGRATION,))
    return applied


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
            topics = [settings.tasks_topic, settings.results_topic, settings.dead_letter_topic]
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


if __name__ == "__main__":
    raise SystemExit(main())
