"""What every benchmark needs: services (configured or a private embedded stack), a fresh
migrated database, fresh topics, and a way to print figures."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from migrations.runner import migrate_database
from shared.kafka import ensure_topics
from shared.settings import CommonSettings

BENCH_PARTITIONS = 12


@dataclass(frozen=True)
class BenchEnv:
    database_url: str
    kafka_bootstrap: str
    suffix: str

    def variables(self) -> dict[str, str]:
        return {
            "WEBMON_DATABASE_URL": self.database_url,
            "WEBMON_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "WEBMON_TASKS_TOPIC": f"bench.tasks.{self.suffix}",
            "WEBMON_RESULTS_TOPIC": f"bench.results.{self.suffix}",
            "WEBMON_DEAD_LETTER_TOPIC": f"bench.dead-letter.{self.suffix}",
            "WEBMON_ONDEMAND_TASKS_TOPIC": f"bench.ondemand-tasks.{self.suffix}",
            "WEBMON_ONDEMAND_RESULTS_TOPIC": f"bench.ondemand-results.{self.suffix}",
            "WEBMON_ONDEMAND_PROBE_GROUP": f"bench.ondemand-probe.{self.suffix}",
            "WEBMON_ONDEMAND_WRITER_GROUP": f"bench.ondemand-writer.{self.suffix}",
            "WEBMON_PROBE_GROUP": f"bench.probe.{self.suffix}",
            "WEBMON_WRITER_GROUP": f"bench.writer.{self.suffix}",
            "WEBMON_KAFKA_SESSION_TIMEOUT_MS": "6000",
        }

    def settings(
        self, model: type[CommonSettings] = CommonSettings, **extra: object
    ) -> CommonSettings:
        values: dict[str, Any] = {
            k.removeprefix("WEBMON_").lower(): v for k, v in self.variables().items()
        }
        values.update(extra)
        return model(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def services() -> Iterator[tuple[str, str]]:
    """(maintenance database URL, bootstrap): WEBMON_BENCH_* if set, else a private stack."""
    url = os.environ.get("WEBMON_BENCH_DATABASE_URL")
    bootstrap = os.environ.get("WEBMON_BENCH_KAFKA_BOOTSTRAP_SERVERS")
    if url and bootstrap:
        yield url, bootstrap
        return
    from devstack.localstack import LocalStack, free_port

    state = Path(tempfile.mkdtemp(prefix="webmon-bench-stack-"))
    stack = LocalStack(state, free_port(), free_port())
    stack.up()
    try:
        yield stack.database_url, stack.kafka_bootstrap
    finally:
        stack.destroy()
        shutil.rmtree(state, ignore_errors=True)


@contextmanager
def scratch_database(server_url: str, prefix: str, keep: bool = False) -> Iterator[str]:
    """A fresh migrated database on the server, dropped afterwards (unless `keep`)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
        migrate_database(url)
        yield url
    finally:
        if keep:
            print(f"kept database {name}", flush=True)
        else:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@contextmanager
def bench_env(url: str, bootstrap: str) -> Iterator[BenchEnv]:
    """A fresh migrated database and fresh topics, dropped afterwards."""
    with scratch_database(url, "webmon_bench") as db_url:
        env = BenchEnv(db_url, bootstrap, uuid.uuid4().hex[:8])
        s = env.settings()
        ensure_topics(s, s.topics(), BENCH_PARTITIONS)
        yield env


def report(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n== {title}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
