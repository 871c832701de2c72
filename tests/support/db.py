"""Arranging rows and counting them in a test's database."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.Connection[Any]
# A loopback port where nothing listens: sites that are registered but never reached.
CLOSED_URL = "http://127.0.0.1:9/"


def scalar(db: Conn, query: str | sql.Composed, *params: object) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def count(db: Conn, query: str | sql.Composed, *params: object) -> int:
    return int(scalar(db, query, *params))


def count_at(url: str, query: str, *params: object) -> int:
    """`count` on a fresh connection: PostgreSQL may have been restarted meanwhile."""
    with psycopg.connect(url, autocommit=True) as conn:
        return count(conn, query, *params)


def add_sites(
    db: Conn,
    count: int,
    *,
    url: str = CLOSED_URL,
    interval: int = 60,
    timeout: float | None = None,
    spread: bool | None = None,
) -> list[int]:
    """`count` enabled sites on `url` (distinct query strings); their ids. Their first
    checks: spread over an interval (`spread=True`), all due now (False), or at the
    database's default, a random moment in the first interval (None)."""
    rows = db.execute(
        "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
        "SELECT %(url)s || %(sep)s || 'n=' || g, %(interval)s, %(timeout)s, "
        "       CASE WHEN %(spread)s THEN now() + (g %% %(interval)s) * interval '1 second' "
        "            WHEN NOT %(spread)s THEN now() END "
        "  FROM generate_series(1, %(count)s) g "
        "RETURNING id",
        {
            "url": url,
            "sep": "&" if "?" in url else "?",
            "interval": interval,
            "timeout": timeout,
            "count": count,
            "spread": spread,
        },
    ).fetchall()
    return [r[0] for r in rows]
