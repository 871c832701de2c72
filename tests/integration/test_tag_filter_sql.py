"""The tag filter in SQL (webmon_tags_match, migrations/functions/010_sites.sql): what it
matches, and that the planner inlines it, so a page of sites costs its size whether or not
a tag is asked for, and its generic plan starts no parallel worker."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from webmon.core.sites import QUERIES as SITES

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]

TAGS = ["env:prod", "team:web-ops", "critical", "region:eu:west"]


@pytest.mark.parametrize(
    ("wanted", "matches"),
    [
        ("env:prod", True),
        ("env", True),  # a bare key: every value of it
        ("critical", True),  # the bare tag itself
        ("team", True),
        ("region", True),  # the first ':' ends the key
        ("region:eu:west", True),
        ("region:eu", False),  # a value is matched whole
        ("env:prod2", False),
        ("en", False),  # a key is matched whole
        ("prod", False),  # a value is not a key
        ("web-ops", False),
        ("crit", False),
    ],
)
def test_a_tag_filter_matches_a_tag_or_every_value_of_a_key(
    db: Conn, wanted: str, matches: bool
) -> None:
    row = db.execute("SELECT webmon_tags_match(%s::text[], %s)", (TAGS, wanted)).fetchone()
    assert row == (matches,)


def test_no_tags_match_no_filter(db: Conn) -> None:
    row = db.execute("SELECT webmon_tags_match('{}'::text[], 'env')").fetchone()
    assert row == (False,)


def _plan(db: Conn, tag: str | None) -> str:
    """The generic plan of a page of sites, as the API's read pool runs it."""
    db.execute("SET plan_cache_mode = force_generic_plan")
    params = {"after": 0, "site_id": None, "enabled": None, "state": None, "q": None,
              "tag": tag, "limit": 51}  # fmt: skip
    with psycopg.ClientCursor(db) as cur:
        # A server-side PREPARE of the page, then EXPLAIN of its EXECUTE: the plan
        # PostgreSQL keeps for the statement, not one made for these values.
        cur.execute(
            "PREPARE page (bigint, bigint, boolean, text, text, text, int) AS "
            + _numbered(SITES["sites_json"])
        )
        rows = cur.execute(
            "EXPLAIN EXECUTE page(%s, %s, %s, %s, %s, %s, %s)", list(params.values())
        ).fetchall()
        cur.execute("DEALLOCATE page")
    return "\n".join(row[0] for row in rows)


def _numbered(query: str) -> str:
    for n, name in enumerate(("after", "site_id", "enabled", "state", "q", "tag", "limit"), 1):
        query = query.replace(f"%({name})s", f"${n}")
    return query


@pytest.mark.parametrize("tag", [None, "env", "env:prod"])
def test_the_page_plan_inlines_the_tag_filter_and_starts_no_worker(
    db: Conn, tag: str | None
) -> None:
    db.execute(
        "INSERT INTO sites (url, tags) SELECT 'https://site-' || g || '.example.com/',"
        " CASE WHEN g % 2 = 0 THEN ARRAY['env:prod'] ELSE '{}' END"
        " FROM generate_series(1, 20000) g"
    )
    db.execute("ANALYZE sites")
    plan = _plan(db, tag)
    assert "webmon_tags_match" not in plan
    assert "Gather" not in plan
