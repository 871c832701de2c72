"""The CLI's text: durations, tables, doctor lines; and its SQL is the docs'."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migrations.runner import available_migrations
from shared.db import describe_url
from shared.kafka import ClusterInfo
from webmon.cli import QUERIES, build_parser
from webmon.cli_format import format_duration, format_table, parse_duration
from webmon.doctor import Check, Outcome, migrations_check, topic_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("2.5s", 2.5),
        ("250ms", 0.25),
        ("45", 45),
        (" 10s ", 10),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10x", "1 h", "-5s", "5s5", "m5"])
def test_parse_duration_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (60, "1m"), (90, "1m30s"), (3600, "1h"), (86400, "1d"), (2.5, "2.5s"), (0, "0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_every_must_be_whole_seconds_and_positive() -> None:
    parser = build_parser()
    assert parser.parse_args(["sites", "add", "http://x", "--every", "5m"]).every == 300
    for bad in ("1.5s", "0s", "soon"):
        with pytest.raises(SystemExit):
            parser.parse_args(["sites", "add", "http://x", "--every", bad])


def test_table_columns_are_as_wide_as_their_widest_cell() -> None:
    table = format_table(
        ["id", "state", "url"], [["1", "UP", "http://a"], ["10", "-", "http://b"]], "rll"
    )
    assert table == "id  state  url\n 1  UP     http://a\n10  -      http://b"


def test_doctor_lines() -> None:
    assert Check(Outcome.OK, "postgres", "connected").line() == "ok   postgres   connected"
    assert Check(Outcome.FAIL, "topic", "x missing").line() == "FAIL topic      x missing"


def test_migrations_check_names_the_missing_ones() -> None:
    shipped = available_migrations()
    versions = {m.version for m in shipped}
    assert migrations_check(versions) == Check(
        Outcome.OK, "migrations", f"{len(shipped)} of {len(shipped)} applied"
    )
    last = shipped[-1]
    check = migrations_check(versions - {last.version})
    assert check.outcome is Outcome.FAIL
    assert check.message == (
        f"{len(shipped) - 1} of {len(shipped)} applied "
        f"(missing: {last.version:04d}_{last.name}; run webmon-migrate)"
    )


def test_topic_check() -> None:
    cluster = ClusterInfo(brokers=1, partitions={"webmon.tasks": 12, "webmon.results": 4})
    assert topic_check(cluster, "webmon.tasks", 12).line() == (
        "ok   topic      webmon.tasks: 12 partitions"
    )
    assert topic_check(cluster, "webmon.results", 12).line() == (
        "WARN topic      webmon.results: 4 partitions (WEBMON_KAFKA_PARTITIONS is 12)"
    )
    assert topic_check(cluster, "webmon.dead-letter", 12).line() == (
        "FAIL topic      webmon.dead-letter missing (run webmon-migrate)"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://w:s3cret@db.example:6543/prod?sslmode=verify-full", "db.example:6543/prod"),
        ("postgresql://w:s3cret@db.example.com/prod", "db.example.com:5432/prod"),
        ("host=db.example.com password=s3cret dbname=prod user=w", "db.example.com:5432/prod"),
        ("not a url = =", "(unparsable database URL)"),
    ],
)  # fmt: skip
def test_database_url_is_described_without_its_password(url: str, shown: str) -> None:
    assert describe_url(url) == shown


@pytest.mark.parametrize("name", ["add_site", "status", "uptime"])
def test_the_docs_show_the_cli_queries_as_they_are(name: str) -> None:
    """The docs' "Command line" page quotes these queries; keep the two in step."""
    assert QUERIES[name] in (ROOT / "docs" / "cli.md").read_text()


def test_every_query_the_cli_asks_for_exists() -> None:
    asked = set(re.findall(r'QUERIES\["([a-z0-9_]+)"\]', (ROOT / "webmon" / "cli.py").read_text()))
    assert asked and asked <= set(QUERIES), asked - set(QUERIES)
