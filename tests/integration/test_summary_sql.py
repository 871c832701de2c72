"""The overview's counts of every site (status_summary_all, two scans without a join) say
what the counts of a search that picks every site (status_summary, the join) say, in every
state an enabled or a disabled site can be in."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from webmon.core.sites import QUERIES as SITES

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]


def _state(db: Conn, ids: range, *, enabled: bool, up: bool | None) -> None:
    """Sites `ids`, enabled or not, up, down, or never checked (None)."""
    db.execute(
        "INSERT INTO sites (id, url, enabled) SELECT g, 'https://site-' || g || '.example.com/',"
        " %s FROM generate_series(%s::bigint, %s::bigint) g",
        (enabled, ids.start, ids.stop - 1),
    )
    if up is not None:
        db.execute(
            "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, up)"
            " SELECT id, url, now(), now(), %s FROM sites WHERE id >= %s AND id < %s",
            (up, ids.start, ids.stop),
        )


def _counts(db: Conn, query: str, params: dict[str, Any] | None = None) -> dict[str, int]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(query, params).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def test_the_counts_of_every_site_match_the_joined_counts(db: Conn) -> None:
    _state(db, range(1, 8), enabled=True, up=True)
    _state(db, range(8, 11), enabled=True, up=False)
    _state(db, range(11, 13), enabled=True, up=None)
    _state(db, range(13, 17), enabled=False, up=True)
    _state(db, range(17, 22), enabled=False, up=False)
    _state(db, range(22, 28), enabled=False, up=None)
    expected = {"up": 7, "down": 3, "unchecked": 2, "disabled": 4 + 5 + 6}
    assert _counts(db, SITES["status_summary_all"]) == expected
    assert _counts(db, SITES["status_summary"], {"q": None, "tag": None}) == expected


def test_no_sites_count_zero(db: Conn) -> None:
    zero = {"up": 0, "down": 0, "unchecked": 0, "disabled": 0}
    assert _counts(db, SITES["status_summary_all"]) == zero
