"""Migrations: the contract's columns, idempotence, concurrency, and one schema whatever the
path (from empty, or step by step from every earlier release)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from migrations.runner import available_functions, available_migrations, migrate_database
from tests.support.schema import schema_fingerprint
from tests.support.services import Services, database

pytestmark = pytest.mark.integration

CONTRACT: dict[str, dict[str, str]] = {
    "sites": {
        "id": "bigint",
        "url": "text",
        "interval_seconds": "integer",
        "timeout_seconds": "double precision",
        "regex": "text",
        "enabled": "boolean",
        "next_check_at": "timestamp with time zone",
    },
    "check_results": {
        "site_id": "bigint",
        "scheduled_at": "timestamp with time zone",
        "checked_at": "timestamp with time zone",
        "response_time_ms": "double precision",
        "status_code": "smallint",
        "regex_matched": "boolean",
        "error": "text",
        "up": "boolean",
    },
    "site_status": {
        "site_id": "bigint",
        "url": "text",
        "checked_at": "timestamp with time zone",
        "response_time_ms": "double precision",
        "status_code": "smallint",
        "regex_matched": "boolean",
        "error": "text",
        "up": "boolean",
    },
}


@pytest.fixture
def empty_db(services: Services) -> Iterator[str]:
    name = f"webmon_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield psycopg.conninfo.make_conninfo(services.database_url, dbname=name)
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
        (table,),
    ).fetchall()
    return dict(rows)


def test_all_migrations_give_the_contract_schema(empty_db: str) -> None:
    applied = migrate_database(empty_db)
    assert [m.version for m in applied] == [m.version for m in available_migrations()]
    with psycopg.connect(empty_db) as conn:
        for table, expected in CONTRACT.items():
            actual = columns(conn, table)
            for column, data_type in expected.items():
                assert actual.get(column) == data_type, (table, column, actual.get(column))
        partitions = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'check_results'::regclass"
        ).fetchone()
        assert partitions is not None and partitions[0] >= 3  # default, today, tomorrow


def test_second_run_applies_nothing(empty_db: str) -> None:
    assert migrate_database(empty_db)
    assert migrate_database(empty_db) == []


def test_concurrent_runners_apply_each_migration_once(empty_db: str) -> None:
    errors: list[BaseException] = []
    applied: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            applied.extend(m.version for m in migrate_database(empty_db))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(applied) == [m.version for m in available_migrations()]
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute("SELECT version, count(*) FROM webmon_migrations GROUP BY 1").fetchall()
    assert all(n == 1 for _, n in rows)
    assert len(rows) == len(available_migrations())


@pytest.mark.parametrize(
    ("insert", "constraint"),
    [
        ("INSERT INTO sites (url) VALUES ('ftp://x')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('tcp://db.internal')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('tcp://db.internal:5432/x')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('tcp://:5432')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('tls://a:b:c')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('dns://1.1.1.1')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('dns://1.1.1.1/a/b')", "sites_url_form"),
        ("INSERT INTO sites (url) VALUES ('udp://a:53')", "sites_url_form"),
        ("INSERT INTO sites (url, method) VALUES ('tcp://a:1', 'HEAD')", "sites_http_options"),
        (
            "INSERT INTO sites (url, headers) VALUES ('dns:///a', '{\"A\": \"b\"}')",
            "sites_http_options",
        ),
        ("INSERT INTO sites (url, max_redirects) VALUES ('tls://a', 3)", "sites_http_options"),
        ("INSERT INTO sites (url, tls_verify) VALUES ('tls://a', false)", "sites_http_options"),
        ("INSERT INTO sites (url, ip_version) VALUES ('tcp://a:1', 4)", "sites_http_options"),
        (
            "INSERT INTO sites (url, regex, regex_mode) VALUES ('tcp://a:1', 'x', 'absent')",
            "sites_http_options",
        ),
        (
            "INSERT INTO sites (url, proxy) VALUES ('dns:///a', 'http://127.0.0.1:3128')",
            "sites_http_options",
        ),
        ("INSERT INTO sites (url, regex) VALUES ('tls://a', 'x')", "sites_tls_without_regex"),
        (
            "INSERT INTO sites (url, interval_seconds) VALUES ('https://a', 0)",
            "sites_interval_range",
        ),
        (
            "INSERT INTO sites (url, interval_seconds, timeout_seconds) VALUES ('https://a', 5, 6)",
            "sites_timeout_within_interval",
        ),
        ("INSERT INTO sites (url) VALUES ('https://exa mple.com')", "sites_url_no_whitespace"),
        ("INSERT INTO sites (url) VALUES ('https://' || repeat('a', 3000))", "sites_url_length"),
    ],
)
def test_constraints_reject_nonsense(
    db: psycopg.Connection[Any], insert: str, constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        db.execute(insert)


@pytest.mark.parametrize(
    "url",
    [
        "tcp://db.internal:5432",
        "TCP://10.0.0.7:6379?send=PING%0D%0A",
        "tcp://[2001:db8::1]:22/",
        "tls://example.com",
        "tls://example.com:8443",
        "dns:///example.com",
        "dns://1.1.1.1/example.com?type=MX",
        "dns://[2606:4700:4700::1111]:53/example.com",
        "dns://ns1.example.net/example.com",
    ],
)
def test_the_check_kinds_register_with_a_plain_insert(
    db: psycopg.Connection[Any], url: str
) -> None:
    db.execute("INSERT INTO sites (url) VALUES (%s)", (url,))
    if not url.startswith("tls"):
        db.execute("INSERT INTO sites (url, regex) VALUES (%s, 'x')", (url,))
    assert db.execute("SELECT count(*) FROM sites").fetchone() == (1 if url[:3] == "tls" else 2,)


def test_defaults_for_a_plain_insert(db: psycopg.Connection[Any]) -> None:
    row = db.execute(
        "INSERT INTO sites (url) VALUES ('https://example.com') "
        "RETURNING interval_seconds, timeout_seconds, regex, enabled, next_check_at - now()"
    ).fetchone()
    assert row is not None
    interval, timeout, regex, enabled, first_in = row
    assert (interval, timeout, regex, enabled) == (60, 10, None, True)
    assert 0 <= first_in.total_seconds() < 60
    short = db.execute(
        "INSERT INTO sites (url, interval_seconds) VALUES ('https://example.com', 5) "
        "RETURNING timeout_seconds"
    ).fetchone()
    assert short == (5,)


@pytest.fixture(scope="module")
def fresh_schema(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """The schema of a database migrated from empty in one run."""
    with database(services.database_url, "webmon_fresh") as url:
        migrate_database(url)
        with psycopg.connect(url) as conn:
            return schema_fingerprint(conn)


@pytest.mark.parametrize("released", range(len(available_migrations())))
def test_an_earlier_release_migrated_on_equals_a_fresh_database(
    services: Services, fresh_schema: dict[str, list[tuple[Any, ...]]], released: int
) -> None:
    """A database left by an earlier release (its numbered migrations up to `released`,
    the function bodies they created) and migrated by this one ends in the same schema as
    a database migrated from empty."""
    with database(services.database_url, "webmon_old") as url:
        migrate_database(url, upto=released, functions=False)
        migrate_database(url)
        with psycopg.connect(url) as conn:
            upgraded = schema_fingerprint(conn)
    for kind, rows in fresh_schema.items():
        assert upgraded[kind] == rows, kind


def test_a_changed_function_file_is_applied_again(empty_db: str) -> None:
    migrate_database(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        # A database whose function differs from its file: as if the file had changed.
        conn.execute(
            "CREATE OR REPLACE FUNCTION webmon_nonnull(a anyarray) RETURNS anyarray "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT a'"
        )
        conn.execute("UPDATE webmon_functions SET sha256 = 'older' WHERE file LIKE '030_%'")
        assert conn.execute("SELECT webmon_nonnull(ARRAY[NULL]::int[])").fetchone() == ([None],)
    assert migrate_database(empty_db) == []  # no numbered migration left to apply
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT webmon_nonnull(ARRAY[NULL]::int[])").fetchone() == (None,)
        recorded: dict[str, str] = dict(
            conn.execute("SELECT file, sha256 FROM webmon_functions").fetchall()
        )
    assert recorded == {f.file: f.sha256 for f in available_functions()}


def test_0021_gives_incidents_opened_on_a_regex_their_cause_again(empty_db: str) -> None:
    migrate_database(empty_db, upto=20, functions=False)  # (later ones read later tables)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, url) VALUES (1, 'http://127.0.0.1:9/a'),"
                     " (2, 'http://127.0.0.1:9/b'), (3, 'http://127.0.0.1:9/c')")  # fmt: skip
        slot = "2026-12-01 10:00:00+00"
        for site, status, matched in ((1, 200, False), (2, 503, True), (3, 503, None)):
            conn.execute(
                "INSERT INTO check_results (site_id, scheduled_at, checked_at, status_code, up,"
                " regex_matched) VALUES (%s, %s, %s, %s, false, %s)",
                (site, slot, slot, status, matched),
            )
            conn.execute(
                "INSERT INTO incidents (site_id, opened_at, opening_slot, opening_checked_at,"
                " status_code, cause) VALUES (%s, %s, %s, %s, %s, %s)",
                (site, slot, slot, slot, status, f"HTTP {status}"),
            )
    migrate_database(empty_db)
    with psycopg.connect(empty_db) as conn:
        causes = conn.execute("SELECT cause FROM incidents ORDER BY site_id").fetchall()
    assert causes == [("regex did not match · HTTP 200",), ("HTTP 503 · regex found",),
                      ("HTTP 503",)]  # fmt: skip
