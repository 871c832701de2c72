"""History that arrives late or from elsewhere is kept like any other (real PostgreSQL).

Past days whose rows sit in the default partition (written while maintenance could not
run, or imported with `webmon import-results`) get their partition, exact rollups and
packing from the next maintenance pass; `check_results_all` then has every check once.
The maintenance job runs with a fixed clock, as in test_long_haul.py.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.integration.test_long_haul import (
    assert_rollups_equal,
    day_name,
    expected_rollup,
    maintain,
    partitions,
    stored_rollups,
)
from tests.support.cli import webmon
from tests.support.db import Conn, add_sites

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 20, tzinfo=UTC)
# Three past days without a partition (the template database has today's, in real time).
DAYS = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
PER_DAY = 144  # a check every 10 minutes


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    with Database(db_url, max_size=2) as db:
        yield db


def history(site_id: int, seed: int = 5) -> list[CheckResult]:
    """Three days of checks every 10 minutes: some down, some without a response."""
    rng = random.Random(seed)
    rows = []
    for day in DAYS:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=17)
        for k in range(PER_DAY):
            slot = start + timedelta(minutes=10 * k)
            roll = rng.random()
            up = roll >= 0.1
            rt = None if roll < 0.03 else round(rng.lognormvariate(3, 0.6), 3)
            status = None if rt is None else (200 if up else 503)
            rows.append(
                CheckResult(
                    site_id=site_id, url="https://old.example/health", scheduled_at=slot,
                    checked_at=slot + timedelta(milliseconds=rng.randrange(1, 900)),
                    response_time_ms=rt, status_code=status, up=up,
                    error=None if rt is not None else "timeout",
                    error_detail=None if rt is not None else "no response within 10 s",
                )
            )  # fmt: skip
    return rows


def by_hour(rows: list[CheckResult]) -> dict[tuple[int, Any], Any]:
    groups: dict[tuple[int, Any], list[CheckResult]] = {}
    for r in rows:
        groups.setdefault((r.site_id, r.scheduled_at.replace(minute=0, second=0, microsecond=0)),
                          []).append(r)  # fmt: skip
    return {key: expected_rollup(group) for key, group in groups.items()}


def by_day(rows: list[CheckResult]) -> dict[tuple[int, Any], Any]:
    groups: dict[tuple[int, Any], list[CheckResult]] = {}
    for r in rows:
        groups.setdefault((r.site_id, r.scheduled_at.date()), []).append(r)
    return {key: expected_rollup(group) for key, group in groups.items()}


def assert_kept_like_any_other(db: Conn, rows: list[CheckResult]) -> None:
    """The days are packed, their rollups exact, and every check is there once."""
    assert db.execute("SELECT count(*) FROM check_results_default").fetchone() == (0,)
    raw = partitions(db, "check_results")
    assert not {day_name("check_results", day) for day in DAYS} & raw
    packed = db.execute(
        "SELECT day, sum(checks) FROM check_results_packed GROUP BY day ORDER BY day"
    ).fetchall()
    assert packed == [(day, PER_DAY) for day in DAYS]
    assert_rollups_equal(stored_rollups(db, "check_rollups_hourly", "hour"), by_hour(rows))
    assert_rollups_equal(stored_rollups(db, "check_rollups_daily", "day"), by_day(rows))
    stored = db.execute(
        "SELECT site_id, scheduled_at, checked_at, status_code, up, error"
        "  FROM check_results_all ORDER BY 1, 2"
    ).fetchall()
    assert stored == [
        (r.site_id, r.scheduled_at, r.checked_at, r.status_code, r.up, r.error) for r in rows
    ]


def test_results_of_past_days_without_a_partition_are_packed(
    db: Conn, database: Database, db_url: str
) -> None:
    # Maintenance has run before (the rollup mark is set); then results of three past days
    # arrive (a writer catching up after a long outage) and land in the default partition.
    (site,) = add_sites(db, 1)
    maintain(database, db_url, NOW)
    rows = history(site)
    for i in range(0, len(rows), 100):
        write_results(database, rows[i : i + 100])
    assert db.execute("SELECT count(*) FROM check_results_default").fetchone() == (len(rows),)

    report = maintain(database, db_url, NOW + timedelta(minutes=5))
    assert report.late_days_adopted == DAYS
    assert report.days_packed == DAYS
    assert_kept_like_any_other(db, rows)
    # The next pass has nothing left to do for them.
    again = maintain(database, db_url, NOW + timedelta(minutes=10))
    assert (again.late_days_adopted, again.days_packed, again.late_days_folded) == ([], [], [])


def write_csv(path: Path, rows: list[CheckResult], url: str | None = None) -> None:
    """`rows` as `webmon import-results` reads them: by URL, or by site id."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        site = "url" if url else "site_id"
        out.writerow([site, "scheduled_at", "checked_at", "response_time_ms", "status_code",
                      "up", "error", "error_detail"])  # fmt: skip
        for r in rows:
            out.writerow([url or r.site_id, r.scheduled_at.isoformat(), r.checked_at.isoformat(),
                          "" if r.response_time_ms is None else r.response_time_ms,
                          "" if r.status_code is None else r.status_code,
                          "true" if r.up else "false", r.error or "",
                          r.error_detail or ""])  # fmt: skip


def test_imported_results_are_kept_like_any_other(
    cli_env: dict[str, str], db: Conn, database: Database, db_url: str, tmp_path: Path
) -> None:
    (site,) = add_sites(db, 1)
    url = db.execute("SELECT url FROM sites WHERE id = %s", (site,)).fetchone()[0]  # type: ignore[index]
    maintain(database, db_url, NOW)
    rows = history(site)
    path = tmp_path / "history.csv"
    write_csv(path, rows, url=url)

    code, out = webmon("import-results", str(path))
    assert code == 0, out
    assert out == (
        f"stored 432 of 432 checks from {path}, 2026-11-18 00:00:17 to 2026-11-20 23:50:17 UTC"
        " (0 stored before); maintenance rolls them up and packs them\n"
    )
    report = maintain(database, db_url, NOW + timedelta(minutes=5))
    assert report.late_days_adopted == DAYS and report.days_packed == DAYS
    assert_kept_like_any_other(db, rows)

    # Imported again (by site id this time), after packing: nothing is added.
    write_csv(path, rows)
    code, out = webmon("import-results", str(path))
    assert (code, out.split(" from ")[0]) == (0, "stored 0 of 432 checks")
    maintain(database, db_url, NOW + timedelta(minutes=10))
    assert_kept_like_any_other(db, rows)


def test_an_import_into_a_packed_day_is_folded_in(
    cli_env: dict[str, str], db: Conn, database: Database, db_url: str, tmp_path: Path
) -> None:
    (site,) = add_sites(db, 1)
    maintain(database, db_url, NOW)
    rows = history(site)
    path = tmp_path / "history.csv"
    gap = rows[200]  # one check missing from the first import, then imported alone
    write_csv(path, [r for r in rows if r is not gap])
    assert webmon("import-results", str(path))[0] == 0
    maintain(database, db_url, NOW + timedelta(minutes=5))
    write_csv(path, [gap, rows[201]])  # the missing one, and one stored already
    code, out = webmon("import-results", str(path))
    assert (code, out.split(" from ")[0]) == (0, "stored 1 of 2 checks")
    report = maintain(database, db_url, NOW + timedelta(minutes=10))
    assert report.late_days_folded == [gap.scheduled_at.date()]
    assert_kept_like_any_other(db, rows)


def test_an_import_is_all_or_none_and_names_the_bad_line(
    cli_env: dict[str, str],
    db: Conn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (site,) = add_sites(db, 1)
    path = tmp_path / "history.csv"
    lines = [
        "site_id,scheduled_at,up,status_code",
        f"{site},2026-11-18T00:00:00Z,true,200",
        f"{site},2026-11-18T00:10:00,true,200",  # no offset: which time is it?
    ]
    path.write_text("\n".join(lines) + "\n")
    assert webmon("import-results", str(path)) == (2, "")
    assert "line 3: scheduled_at: " in capsys.readouterr().err
    for bad, words in (
        (f"{site},2026-11-18T00:10:00Z,maybe,200", "line 3: up: "),
        (f"{site + 1},2026-11-18T00:10:00Z,true,200", "line 3: site_id: no such site"),
        (f"{site},2026-11-18T00:10:00Z,true,999", "line 3: status_code: "),
    ):
        path.write_text("\n".join([*lines[:2], bad]) + "\n")
        assert webmon("import-results", str(path)) == (2, "")
        assert words in capsys.readouterr().err
    path.write_text("site_id,scheduled_at,status\n")
    assert webmon("import-results", str(path)) == (2, "")
    assert "line 1: status: not a known field" in capsys.readouterr().err
    assert db.execute("SELECT count(*) FROM check_results").fetchone() == (0,)
