"""Regions in the schema (migrations/0020_regions.sql): history kept as it was, in the
default region and without a rewrite; one row per (site, slot, region) raw, packed and
rolled up; the sites table refusing a nonsense region list or quorum."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from migrations.runner import migrate_database
from tests.support.services import Services, database

pytestmark = pytest.mark.integration

REGIONS_MIGRATION = 20
DAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def migrated(services: Services) -> Iterator[str]:
    with database(services.database_url, "webmon_regions") as url:
        migrate_database(url)
        yield url


def _insert_check(
    conn: psycopg.Connection[Any], site: int, slot: datetime, region: str = "default",
    up: bool = True,
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO check_results (site_id, scheduled_at, checked_at, status_code, up, region)"
        " VALUES (%s, %s, %s, 200, %s, %s)",
        (site, slot, slot + timedelta(milliseconds=5), up, region),
    )


def test_history_from_before_regions_is_the_default_regions_without_a_rewrite(
    services: Services,
) -> None:
    with database(services.database_url, "webmon_pre_regions") as url:
        migrate_database(url, upto=REGIONS_MIGRATION - 1, functions=False)
        with psycopg.connect(url, autocommit=True) as conn:
            site = conn.execute(
                "INSERT INTO sites (url) VALUES ('https://example.com') RETURNING id"
            ).fetchone()
            assert site is not None
            conn.execute("SELECT webmon_create_partition(%s::date)", (DAY.date(),))
            for minute in range(3):  # as a release before regions wrote them
                slot = DAY + timedelta(minutes=minute)
                conn.execute(
                    "INSERT INTO check_results (site_id, scheduled_at, checked_at, up)"
                    " VALUES (%s, %s, %s, true)",
                    (site[0], slot, slot),
                )
            part = f"check_results_{DAY:%Y%m%d}"
            before = conn.execute("SELECT pg_relation_filenode(%s)", (part,)).fetchone()
        migrate_database(url)
        with psycopg.connect(url, autocommit=True) as conn:
            after = conn.execute("SELECT pg_relation_filenode(%s)", (part,)).fetchone()
            assert after == before  # the table was not rewritten
            regions = conn.execute(
                "SELECT region, count(*) FROM check_results GROUP BY region"
            ).fetchall()
            assert regions == [("default", 3)]
            assert conn.execute("SELECT regions, quorum FROM sites").fetchall() == [
                (["default"], None)
            ]
            # The same slot from a second region is a second check; from the same region a
            # duplicate.
            _insert_check(conn, site[0], DAY, region="eu-west")
            with pytest.raises(psycopg.errors.UniqueViolation):
                _insert_check(conn, site[0], DAY, region="eu-west")


def test_packing_and_rollups_keep_one_row_per_region(migrated: str) -> None:
    with psycopg.connect(migrated, autocommit=True) as conn:
        site = conn.execute(
            "INSERT INTO sites (url, regions) VALUES ('https://example.com', '{a,b,c}')"
            " RETURNING id"
        ).fetchone()
        assert site is not None
        conn.execute("SELECT webmon_create_partition(%s::date)", (DAY.date(),))
        for minute in range(4):
            slot = DAY + timedelta(minutes=minute)
            for region in ("a", "b", "c"):
                _insert_check(conn, site[0], slot, region=region, up=region != "c")
        conn.execute("SELECT webmon_rollup_hour(%s)", (DAY,))
        hourly = conn.execute(
            "SELECT region, checks, up_checks FROM check_rollups_hourly ORDER BY region"
        ).fetchall()
        assert hourly == [("a", 4, 4), ("b", 4, 4), ("c", 4, 0)]
        raw = conn.execute(
            "SELECT region, scheduled_at, up FROM check_results_all ORDER BY 1, 2"
        ).fetchall()
        assert conn.execute("SELECT webmon_pack_day(%s::date)", (DAY.date(),)).fetchone() == (12,)
        packed = conn.execute(
            "SELECT region, checks FROM check_results_packed ORDER BY region"
        ).fetchall()
        assert packed == [("a", 4), ("b", 4), ("c", 4)]
        unpacked = conn.execute(
            "SELECT region, scheduled_at, up FROM check_results_all ORDER BY 1, 2"
        ).fetchall()
        assert unpacked == raw and len(raw) == 12
        conn.execute("SELECT webmon_rollup_day(%s::date)", (DAY.date(),))
        daily = conn.execute(
            "SELECT region, checks, up_checks FROM check_rollups_daily ORDER BY region"
        ).fetchall()
        assert daily == [("a", 4, 4), ("b", 4, 4), ("c", 4, 0)]


@pytest.mark.parametrize(
    ("regions", "quorum", "constraint"),
    [
        ("{}", None, "sites_regions_valid"),
        ("{a,a}", None, "sites_regions_valid"),
        ("{Eu-West}", None, "sites_regions_valid"),
        ("{-a}", None, "sites_regions_valid"),
        ("{a,b}", 3, "sites_quorum_range"),
        ("{a,b}", 0, "sites_quorum_range"),
    ],
)
def test_sites_refuse_nonsense_regions_and_quorums(
    migrated: str, regions: str, quorum: int | None, constraint: str
) -> None:
    with (
        psycopg.connect(migrated, autocommit=True) as conn,
        pytest.raises(psycopg.errors.CheckViolation) as raised,
    ):
        conn.execute(
            "INSERT INTO sites (url, regions, quorum) VALUES ('https://example.com', %s, %s)",
            (regions, quorum),
        )
    assert raised.value.diag.constraint_name == constraint
