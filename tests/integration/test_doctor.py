"""`webmon doctor` against a real PostgreSQL and broker: one line per check, exact."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from migrations.runner import available_migrations
from shared.db import describe_url
from tests.support.db import Conn
from tests.support.services import TEST_PARTITIONS
from webmon.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def doctor_env(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no .env file
    for name, value in {**env, "WEBMON_KAFKA_PARTITIONS": str(TEST_PARTITIONS)}.items():
        monkeypatch.setenv(name, value)
    return env


def doctor() -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main(["doctor"], out=out)
    return code, out.getvalue().splitlines()


def postgres_line(env: dict[str, str], db: Conn) -> str:
    row = db.execute("SELECT current_setting('server_version')").fetchone()
    assert row is not None
    where = describe_url(env["WEBMON_DATABASE_URL"])
    return f"ok   postgres   connected to {where} (PostgreSQL {row[0]})"


def test_all_is_well(doctor_env: dict[str, str], db: Conn) -> None:
    shipped = len(available_migrations())
    bootstrap = doctor_env["WEBMON_KAFKA_BOOTSTRAP_SERVERS"]
    assert doctor() == (
        0,
        [
            postgres_line(doctor_env, db),
            f"ok   migrations {shipped} of {shipped} applied",
            f"ok   kafka      connected to {bootstrap} (PLAINTEXT), 1 broker",
            f"ok   topic      {doctor_env['WEBMON_TASKS_TOPIC']}: 4 partitions",
            f"ok   topic      {doctor_env['WEBMON_RESULTS_TOPIC']}: 4 partitions",
            f"ok   topic      {doctor_env['WEBMON_DEAD_LETTER_TOPIC']}: 4 partitions",
            f"ok   topic      {doctor_env['WEBMON_ONDEMAND_TASKS_TOPIC']}: 4 partitions",
            f"ok   topic      {doctor_env['WEBMON_ONDEMAND_RESULTS_TOPIC']}: 4 partitions",
        ],
    )


def test_a_missing_topic_and_a_missing_migration(
    doctor_env: dict[str, str], db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = available_migrations()[-1]
    db.execute("DELETE FROM webmon_migrations WHERE version = %s", (last.version,))
    missing_topic = doctor_env["WEBMON_RESULTS_TOPIC"] + ".absent"
    monkeypatch.setenv("WEBMON_RESULTS_TOPIC", missing_topic)
    shipped = len(available_migrations())
    code, lines = doctor()
    assert code == 1
    assert lines[1] == (
        f"FAIL migrations {shipped - 1} of {shipped} applied "
        f"(missing: {last.version:04d}_{last.name}; run webmon-migrate)"
    )
    assert lines[4] == f"FAIL topic      {missing_topic} missing (run webmon-migrate)"
    assert [line[:4] for line in lines] == ["ok  ", "FAIL", "ok  ", "ok  ", "FAIL"] + ["ok  "] * 3


def test_a_database_that_refuses_connections(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as held:  # bound, not listening: connections are refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        monkeypatch.setenv("WEBMON_DATABASE_URL", f"postgresql://w:s3cret@127.0.0.1:{port}/x")
        code, lines = doctor()
    assert code == 1
    assert lines[0].startswith(f"FAIL postgres   cannot connect to 127.0.0.1:{port}/x: ")
    assert lines[1] == "FAIL migrations not checked: no database connection"
    assert lines[2].startswith("ok   kafka")
    assert not any("s3cret" in line for line in lines)
