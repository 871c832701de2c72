"""Migrations 0004, 0012 and 0013 against a real PostgreSQL: the sites options, their
constraints, the claim that carries them into tasks, and the writer that stores the new
result columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from checker.writer import write_results
from scheduler.service import QUERIES as SCHEDULER_QUERIES
from scheduler.tasks import claimed_task
from shared.db import Database
from shared.messages import CheckResult, CheckTask, decode
from tests.support.db import Conn

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXPIRY = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)

DETAIL_COLUMNS = {
    "dns_ms": "real",
    "connect_ms": "real",
    "tls_ms": "real",
    "ttfb_ms": "real",
    "redirects": "smallint",
    "tls_version": "text",
    "tls_expires_at": "timestamp with time zone",
}


def columns(db: Conn, table: str) -> dict[str, tuple[str, str, str | None]]:
    rows = db.execute(
        "SELECT column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_name = %s",
        (table,),
    ).fetchall()
    return {name: (data_type, nullable, default) for name, data_type, nullable, default in rows}


def test_the_new_columns(db: Conn) -> None:
    sites = columns(db, "sites")
    assert sites["method"] == ("text", "NO", "'GET'::text")
    assert sites["headers"] == ("jsonb", "YES", None)
    assert sites["expected_status"][:2] == ("int4multirange", "NO")
    for table in ("check_results", "check_results_default", "site_status"):
        actual = columns(db, table)
        for column, data_type in DETAIL_COLUMNS.items():
            # Nullable, no default: adding them to the partitioned table rewrote nothing.
            assert actual[column] == (data_type, "YES", None), (table, column)


def test_a_plain_insert_gets_the_defaults(db: Conn) -> None:
    row = db.execute(
        "INSERT INTO sites (url) VALUES ('https://example.com') "
        "RETURNING method, headers, expected_status::text, "
        "200 <@ expected_status, 399 <@ expected_status, 400 <@ expected_status"
    ).fetchone()
    assert row == ("GET", None, "{[200,400)}", True, True, False)


def insert_site(db: Conn, names: str, values: tuple[object, ...]) -> int:
    """INSERT INTO sites (url, <names>) VALUES ('https://a', <values>); the new id."""
    query = sql.SQL("INSERT INTO sites (url, {}) VALUES ('https://a', {}) RETURNING id").format(
        sql.SQL(", ").join(sql.Identifier(n.strip()) for n in names.split(",")),
        sql.SQL(", ").join(sql.Placeholder() for _ in values),
    )
    row = db.execute(query, values).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("names", "values", "constraint"),
    [
        ("method", ("DELETE",), "sites_method"),
        ("method", ("get",), "sites_method"),
        ("method, regex", ("HEAD", "ok"), "sites_head_without_regex"),
        ("headers", (Jsonb(["X-A"]),), "sites_headers_valid"),
        ("headers", (Jsonb("X-A: 1"),), "sites_headers_valid"),
        ("headers", (Jsonb({"X-A": 1}),), "sites_headers_valid"),
        ("headers", (Jsonb({"X-A": None}),), "sites_headers_valid"),
        ("headers", (Jsonb({"Bad Name": "x"}),), "sites_headers_valid"),
        ("headers", (Jsonb({"X-A": "a\r\nX-Injected: 1"}),), "sites_headers_valid"),
        ("headers", (Jsonb({"Content-Length": "5"}),), "sites_headers_valid"),
        ("headers", (Jsonb({"connection": "keep-alive"}),), "sites_headers_valid"),
        ("headers", (Jsonb({f"X-{i}": "v" for i in range(51)}),), "sites_headers_valid"),
        ("headers", (Jsonb({"X-Big": "v" * 9000}),), "sites_headers_valid"),
        ("expected_status", ("{}",), "sites_expected_status_range"),
        ("expected_status", ("{[99,200)}",), "sites_expected_status_range"),
        ("expected_status", ("{[200,601)}",), "sites_expected_status_range"),
        ("expected_status", ("{[500,)}",), "sites_expected_status_range"),
        ("max_redirects", (-1,), "sites_max_redirects_range"),
        ("max_redirects", (31,), "sites_max_redirects_range"),
        # migration 0013: the per-site HTTP options
        ("body", ("x",), "sites_body_needs_method"),
        ("method, body", ("HEAD", "x"), "sites_body_needs_method"),
        ("method, body", ("POST", ""), "sites_body_length"),
        ("method, body", ("POST", "x" * 65537), "sites_body_length"),
        ("method, body_content_type", ("POST", "application/json"), "sites_body_content_type"),
        ("method, body, body_content_type", ("POST", "x", "json"), "sites_body_content_type"),
        ("method, body, body_content_type", ("PUT", "x", "a/b\r\nX: 1"), "sites_body_content_type"),
        ("proxy", ("https://proxy:3128",), "sites_proxy_http"),
        ("proxy", ("socks5://proxy:1080",), "sites_proxy_http"),
        ("proxy", ("http://proxy:3128/path",), "sites_proxy_http"),
        ("proxy", ("http://user:pw@proxy:3128",), "sites_proxy_http"),
        ("tls_cert_file", ("/etc/c.pem",), "sites_tls_files"),
        ("tls_key_file", ("/etc/k.pem",), "sites_tls_files"),
        ("tls_ca_file", ("",), "sites_tls_files"),
        ("tls_ca_file", ("/a\nb",), "sites_tls_files"),
        ("tls_server_name", ("bad name",), "sites_tls_server_name"),
        ("tls_server_name", ("-a.example",), "sites_tls_server_name"),
        ("ip_version", (5,), "sites_ip_version"),
        ("header_name", ("X-A",), "sites_header_check"),
        ("header_regex", ("ok",), "sites_header_check"),
        ("header_name, header_regex", ("Bad Name", "ok"), "sites_header_check"),
        ("header_mode", ("matches",), "sites_header_mode"),
        ("regex_mode", ("absent",), "sites_regex_mode"),
        ("regex, regex_mode", ("x", "inverted"), "sites_regex_mode"),
        ("restricted, proxy", (True, "http://proxy:3128"), "sites_restricted_options"),
        ("restricted, tls_ca_file", (True, "/etc/ca.pem"), "sites_restricted_options"),
        (
            "restricted, tls_cert_file, tls_key_file",
            (True, "/c.pem", "/k.pem"),
            "sites_restricted_options",
        ),
    ],
)
def test_constraints_reject_nonsense(
    db: Conn, names: str, values: tuple[object, ...], constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        insert_site(db, names, values)


@pytest.mark.parametrize(
    ("names", "values"),
    [
        ("method", ("HEAD",)),
        ("headers", (Jsonb({}),)),
        ("headers", (Jsonb({"Authorization": "Bearer x", "User-Agent": "me/1", "Host": "a"}),)),
        ("expected_status", ("{[200,299],[404,404]}",)),
        ("expected_status", ("{[100,600)}",)),
        ("max_redirects", (0,)),
        ("max_redirects", (30,)),
        ("method, body", ("POST", '{"a": 1}')),
        ("method, body, body_content_type", ("PUT", "a=1", "application/x-www-form-urlencoded")),
        ("method, regex", ("POST", "ok")),  # a POST reads a body: it may have a regex
        ("proxy", ("http://proxy.internal:3128",)),
        ("tls_ca_file, tls_cert_file, tls_key_file", ("/ca.pem", "/c.pem", "/k.pem")),
        ("tls_verify, tls_server_name", (False, "internal.example")),
        ("ip_version", (6,)),
        ("require_tls", (True,)),
        ("header_name, header_regex, header_mode", ("X-State", "^ok$", "not_match")),
        ("regex, regex_mode", ("maintenance", "absent")),
        ("restricted, tls_verify, tls_server_name", (True, False, "a.example")),
    ],
)
def test_constraints_accept_sense(db: Conn, names: str, values: tuple[object, ...]) -> None:
    insert_site(db, names, values)


def test_claim_carries_the_options_into_tasks(db: Conn) -> None:
    """claim_due returns NULL for defaults and [low, high) pairs; claimed_task takes the row."""
    db.execute(
        "INSERT INTO sites (url, next_check_at, method, headers, expected_status, max_redirects)"
        " VALUES ('http://plain', now() - interval '1 s', 'GET', NULL, '{[200,400)}', NULL),"
        "('http://empty-headers', now() - interval '1 s', 'GET', '{}', '{[200,400)}', NULL),"
        "('http://head', now() - interval '1 s', 'HEAD', %s, '{[200,299],[404,404],[500,503)}',"
        " 20)",
        (Jsonb({"X-Token": "t", "User-Agent": "me/1"}),),
    )
    db.execute("BEGIN")
    rows = db.execute(SCHEDULER_QUERIES["claim_due"], {"batch_size": 10}).fetchall()
    db.execute("ROLLBACK")
    tasks = {t.url: t for t in (decode(CheckTask, claimed_task(*row).encode()) for row in rows)}
    assert set(tasks) == {"http://plain", "http://empty-headers", "http://head"}
    for url in ("http://plain", "http://empty-headers"):
        task = tasks[url]
        assert (task.method, task.headers, task.expected_status) == ("GET", None, None)
        assert task.max_redirects is None
    head = tasks["http://head"]
    assert head.method == "HEAD"
    assert head.headers == {"X-Token": "t", "User-Agent": "me/1"}
    assert head.expected_status == ((200, 300), (404, 405), (500, 503))
    assert head.max_redirects == 20
    plain_row = next(r for r in rows if r[1] == "http://plain")
    assert plain_row[6:] == (None, None, None, None, False, None, None, None)


def test_writer_stores_the_check_details(db_url: str, db: Conn) -> None:
    row = db.execute("INSERT INTO sites (url) VALUES ('https://a') RETURNING id").fetchone()
    assert row is not None
    site_id = row[0]
    detailed = CheckResult(
        site_id=site_id,
        url="https://a",
        scheduled_at=T0,
        checked_at=T0 + timedelta(milliseconds=2),
        response_time_ms=12.5,
        status_code=200,
        up=True,
        dns_ms=0.5,
        connect_ms=1.25,
        tls_ms=3.75,
        ttfb_ms=10.125,
        redirects=2,
        tls_version="TLSv1.3",
        tls_expires_at=EXPIRY,
    )
    bare = CheckResult(
        site_id=site_id,
        url="https://a",
        scheduled_at=T0 + timedelta(minutes=1),
        checked_at=T0 + timedelta(minutes=1),
        error="dns",
        error_detail="cannot resolve a",
        up=False,
    )
    with Database(db_url, max_size=1) as database:
        assert write_results(database, [detailed]) == 1
        expected = (0.5, 1.25, 3.75, 10.125, 2, "TLSv1.3", EXPIRY)  # exact in float4
        assert details(db, "check_results", site_id, T0) == expected
        assert details(db, "site_status", site_id, T0) == expected
        # A later result without any details clears them in site_status.
        assert write_results(database, [bare]) == 1
        assert details(db, "site_status", site_id, bare.scheduled_at) == (None,) * 7
        assert details(db, "check_results", site_id, bare.scheduled_at) == (None,) * 7


def details(db: Conn, table: str, site_id: int, slot: datetime) -> tuple[object, ...] | None:
    query = sql.SQL(
        "SELECT dns_ms, connect_ms, tls_ms, ttfb_ms, redirects, tls_version, tls_expires_at "
        "FROM {} WHERE site_id = %s AND scheduled_at = %s"
    ).format(sql.Identifier(table))
    return db.execute(query, (site_id, slot)).fetchone()
