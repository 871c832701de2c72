"""Volume: 10 M stored checks through the writer, then maintenance, sizes, query times.

In one run, on scratch databases created for it and dropped at the end:
  - registers 10,000 sites and stores 1,000 checks of each (a grid of its own per site,
    ~43 min apart, spanning the 30 UTC days that end yesterday) through
    `checker.writer.write_results`, in batches of 5,000;
  - measures the bytes per stored check of the raw days (table, indexes and TOAST);
  - measures the writer's rows/s for fresh rows of today with those 30 days attached,
    beside a second scratch database that holds no history (twice each, alternating);
  - runs the scheduler's maintenance once (rollups of every closed hour and day, packing
    of the days before yesterday), timed, and measures the packed days and the rollups;
    and, since this grid gives only ~33 checks per packed row, the same checks packed
    ~1,000 to a row (a site's 30 days in one row, in a scratch table of the same shape);
  - adds daily rollups for the year before the raw data (synthetic, so that a 1 y
    uptime reads a year of rollups), and times every query of webmon/core/history.sql
    for a few random sites: the median of 7 runs after a warm-up, planned on each run and
    prepared; then one more maintenance run, an hour later.

The database server is WEBMON_BENCH_DATABASE_URL if set (any database on it: the scratch
databases are created beside it), else a private embedded stack.

    .venv/bin/python -m bench.bench_volume [--sites 10000] [--checks 1000] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from bench.common import report, scratch_database, services
from checker.writer import write_results
from scheduler.maintenance import Maintenance, MaintenanceReport
from scheduler.settings import SchedulerSettings
from shared.db import Connection, Database, connect
from shared.messages import CheckResult
from webmon.core.history import DOCUMENTED as HISTORY

DAYS = 30
BATCH = 5_000
DOWN_SHARE = 0.01
SEED = 7
QUERY_SITES = 5
QUERY_RUNS = 7
YEAR_DAYS = 365


# -- the database ---------------------------------------------------------------------------


@contextmanager
def database_server() -> Iterator[str]:
    url = os.environ.get("WEBMON_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    with services() as (url, _bootstrap):
        yield url


def sql_one(url: str, query: str, params: Any = None) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        row = cur.fetchone() if cur.description else None
        return row[0] if row else None


# -- the sites and their checks ---------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    id: int
    url: str
    https: bool
    host: str
    regex: bool
    latency_ms: float  # the site's typical round trip
    server_ms: float  # its typical time to the first byte, after the connection
    phase_us: int  # where its grid starts within the first interval
    tls_expires_at: datetime | None


def make_sites(count: int, interval_us: int, rng: random.Random) -> list[Site]:
    now = datetime.now(UTC).replace(microsecond=0)
    sites = []
    for i in range(1, count + 1):
        https = i % 2 == 0
        host = f"site-{i}.example.com"
        sites.append(
            Site(
                id=i,
                url=f"{'https' if https else 'http'}://{host}/health",
                https=https,
                host=host,
                regex=i % 5 == 0,
                latency_ms=rng.lognormvariate(3.0, 0.8),  # median ~20 ms, a long tail
                server_ms=rng.lognormvariate(4.0, 1.0),  # median ~55 ms
                phase_us=rng.randrange(interval_us),
                tls_expires_at=now + timedelta(days=rng.randrange(5, 365)) if https else None,
            )
        )
    return sites


def register(url: str, sites: list[Site], interval_s: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy("COPY sites (id, url, interval_seconds, regex) FROM STDIN") as copy:
            for s in sites:
                copy.write_row((s.id, s.url, interval_s, '"status":\\s*"ok"' if s.regex else None))
        cur.execute("SELECT setval(pg_get_serial_sequence('sites', 'id'), %s)", (len(sites),))


DOWN = [
    # (error, detail with {host}, status, share of down checks)
    ("timeout", "no response within 10 s", None, 0.35),
    ("connect", "cannot connect to {host}:{port}: Connection refused", None, 0.25),
    ("dns", "cannot resolve {host}: Name or service not known", None, 0.1),
    ("tls", "TLS failure with {host}:443: certificate verify failed: certificate has expired",
     None, 0.05),
    (None, None, 503, 0.25),
]  # fmt: skip
DOWN_WEIGHTS = [share for *_, share in DOWN]


def check_row(site: Site, slot: datetime, rng: random.Random) -> CheckResult:
    """One realistic result: up with every phase measured, or one of the failure modes."""
    r = rng.random
    checked = slot + timedelta(microseconds=rng.randrange(1_000, 300_000))
    port = 443 if site.https else 80
    dns = 0.3 + r() * 4.0
    connect_ms = site.latency_ms * (0.8 + 0.6 * r())
    tls = site.latency_ms * (2.0 + r()) + 1.5 if site.https else None
    tls_version = "TLSv1.3" if site.https else None
    check = functools.partial(
        CheckResult, site_id=site.id, url=site.url, scheduled_at=slot, checked_at=checked
    )
    if r() < DOWN_SHARE:
        error, detail, status, _ = rng.choices(DOWN, DOWN_WEIGHTS)[0]
        if error is None:  # a 5xx: a response, but down
            ttfb = dns + connect_ms + (tls or 0.0) + site.server_ms * (0.5 + r())
            return check(
                response_time_ms=ttfb + 0.5 + r(), status_code=status, up=False,
                regex_matched=False if site.regex else None, dns_ms=dns, connect_ms=connect_ms,
                tls_ms=tls, ttfb_ms=ttfb, redirects=0, tls_version=tls_version,
                tls_expires_at=site.tls_expires_at,
            )  # fmt: skip
        assert detail is not None
        failed = functools.partial(
            check, up=False, error=error, error_detail=detail.format(host=site.host, port=port)
        )
        if error == "dns":
            return failed()
        if error == "connect":
            return failed(dns_ms=dns)
        if error == "tls":
            return failed(dns_ms=dns, connect_ms=connect_ms)
        return failed(  # timeout: the phases that completed are kept
            dns_ms=dns, connect_ms=connect_ms, tls_ms=tls, tls_version=tls_version,
            tls_expires_at=site.tls_expires_at,
        )  # fmt: skip
    ttfb = dns + connect_ms + (tls or 0.0) + site.server_ms * (0.7 + 0.6 * r())
    return check(
        response_time_ms=ttfb + r() * 5.0, status_code=200, up=True,
        regex_matched=True if site.regex else None, dns_ms=dns, connect_ms=connect_ms, tls_ms=tls,
        ttfb_ms=ttfb, redirects=1 if site.id % 10 == 0 else 0, tls_version=tls_version,
        tls_expires_at=site.tls_expires_at,
    )  # fmt: skip


def batches(rows: Iterator[CheckResult], size: int = BATCH) -> Iterator[list[CheckResult]]:
    batch: list[CheckResult] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def history_rows(
    sites: list[Site], first: datetime, checks: int, interval_us: int, rng: random.Random
) -> Iterator[CheckResult]:
    """Round after round: the k-th check of every site, on each site's own grid."""
    for k in range(checks):
        for site in sites:
            slot = first + timedelta(microseconds=site.phase_us + k * interval_us)
            yield check_row(site, slot, rng)


def today_rows(
    sites: list[Site], start: datetime, step_us: int, rounds: range, rng: random.Random
) -> list[CheckResult]:
    """Fresh rows for today: rounds `step_us` apart, each site at its own offset in one."""
    return [
        check_row(
            site, start + timedelta(microseconds=(r * step_us) + site.phase_us % step_us), rng
        )
        for r in rounds
        for site in sites
    ]


# -- steps ------------------------------------------------------------------------------------


def write_all(db: Database, rows: Iterator[CheckResult], total: int) -> tuple[int, float]:
    """Through the writer's own transaction, batch by batch; returns (rows, seconds in it)."""
    done, spent, started = 0, 0.0, time.perf_counter()
    next_report = total // 10
    for batch in batches(rows):
        t = time.perf_counter()
        write_results(db, batch)
        spent += time.perf_counter() - t
        done += len(batch)
        if total >= 1_000_000 and done >= next_report:
            elapsed = time.perf_counter() - started
            print(f"  {done:>12,} of {total:,} rows, {done / elapsed:,.0f} rows/s", flush=True)
            next_report += total // 10
    return done, spent


def write_timed(db: Database, rows: list[CheckResult]) -> float:
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        write_results(db, rows[i : i + BATCH])
    return len(rows) / (time.perf_counter() - started)


PARTITION_BYTES = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint, count(*)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = %(parent)s::regclass AND c.relname ~ '_[0-9]{6,8}$'
   AND (%(lo)s::text IS NULL OR right(c.relname, 8) >= %(lo)s)
   AND (%(hi)s::text IS NULL OR right(c.relname, 8) < %(hi)s)
"""


def partition_bytes(
    url: str, parent: str, lo: date | None = None, hi: date | None = None
) -> tuple[int, int]:
    params = {
        "parent": parent,
        "lo": lo.strftime("%Y%m%d") if lo else None,
        "hi": hi.strftime("%Y%m%d") if hi else None,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(PARTITION_BYTES, params).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def synthetic_year(url: str, sites: int, first_loaded: date, today: date) -> int:
    """Daily rollups for every day of the year before the loaded ones, and hourly ones for
    the days around the start of a 1 y window; inserted a day at a time, like maintenance."""
    year_start = today - timedelta(days=YEAR_DAYS + 1)
    with psycopg.connect(url, autocommit=True) as conn:
        month = year_start.replace(day=1)
        while month <= first_loaded:
            for parent in ("check_rollups_daily", "check_rollups_hourly"):
                conn.execute("SELECT webmon_month_partition(%s, %s)", (parent, month))
            month = (month + timedelta(days=32)).replace(day=1)
        conn.execute(
            """
            INSERT INTO check_rollups_daily
            SELECT s, d::date, 33, 33 - (random() < 0.3)::int,
                   5 + random() * 20, 80 + random() * 40, 300 + random() * 400,
                   70 + random() * 40, 150 + random() * 100
              FROM generate_series(%(lo)s::date, %(hi)s::date - 1, interval '1 day') AS d,
                   generate_series(1, %(sites)s) AS s
             ORDER BY d, s
            """,
            {"lo": year_start, "hi": first_loaded, "sites": sites},
        )
        conn.execute(
            """
            INSERT INTO check_rollups_hourly
            SELECT s, h, 1 + (random() < 0.4)::int, 1,
                   5 + random() * 20, 80 + random() * 40, 300 + random() * 400,
                   70 + random() * 40, 150 + random() * 100
              FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 hour',
                                   interval '1 hour') AS h,
                   generate_series(1, %(sites)s) AS s
             ORDER BY h, s
            """,
            {
                "lo": datetime(year_start.year, year_start.month, year_start.day, tzinfo=UTC),
                "hi": datetime(year_start.year, year_start.month, year_start.day, tzinfo=UTC)
                + timedelta(days=3),
                "sites": sites,
            },
        )
        conn.execute("ANALYZE check_rollups_daily")
        conn.execute("ANALYZE check_rollups_hourly")
    return (first_loaded - year_start).days


@dataclass(frozen=True)
class Timed:
    label: str
    query: str
    params: Callable[[int], dict[str, Any]]
    per_site: bool = True


def query_plan(url: str, query: str, params: dict[str, Any]) -> str:
    with connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + query, params
        ).fetchall()
    return "\n".join(r[0] for r in rows)


_ACTUAL_ROWS = re.compile(r"actual time=\S+ rows=(\d+)")
_REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")


def seq_scans_of_data(plan: str) -> list[str]:
    """Seq scans of a result or rollup table that read rows (not empty or pruned ones)."""
    found = []
    lines = plan.splitlines()
    for n, line in enumerate(lines):
        if "Seq Scan on check_r" not in line or "never executed" in line:
            continue
        read = int(m[1]) if (m := _ACTUAL_ROWS.search(line)) else 0
        for detail in lines[n + 1 :]:
            if "->" in detail:
                break
            if m := _REMOVED.search(detail):
                read += int(m[1])
        if read:
            found.append(line.strip().removeprefix("->").strip())
    return found


def median_ms(conn: Connection, query: str, params: dict[str, Any], warm_up: int) -> float:
    for _ in range(warm_up):
        conn.execute(query, params).fetchall()
    runs = []
    for _ in range(QUERY_RUNS):
        started = time.perf_counter()
        conn.execute(query, params).fetchall()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def time_queries(
    url: str, timed: list[Timed], sites: list[int], explain: bool
) -> tuple[list[tuple[str, str]], list[str]]:
    """Per site, the median of QUERY_RUNS runs after a warm-up: planned for each run (as a
    one-off query from psql is), and prepared (as an application that repeats it; past the
    five custom plans after which PostgreSQL may switch to a generic one). Shows the median
    over the sites and the worst site's. Also lists the plans' seq scans of big tables."""
    rows: list[tuple[str, str]] = []
    seq_scans: list[str] = []
    with connect(url, autocommit=True) as planned, connect(url, autocommit=True) as prepared:
        planned.prepare_threshold = None
        prepared.prepare_threshold = 0
        for t in timed:
            once, again = [], []
            for site in sites if t.per_site else sites[:1]:
                params = t.params(site)
                once.append(median_ms(planned, t.query, params, 1))
                again.append(median_ms(prepared, t.query, params, 6))
            plan = query_plan(url, t.query, t.params(sites[0]))
            seq_scans += [f"{t.label}: {line}" for line in seq_scans_of_data(plan)]
            if explain:
                print(f"\n-- {t.label}\n{plan}")
            shown = (
                f"{statistics.median(once):6.2f} ms, prepared {statistics.median(again):5.2f} ms"
            )
            if t.per_site:
                shown += f"  (worst site {max(once):.2f} / {max(again):.2f})"
            rows.append((t.label, shown))
    return rows, seq_scans


DENSE = """
INSERT INTO dense_packed
SELECT site_id, DATE '2000-01-01', count(*),
       array_agg(scheduled_at ORDER BY scheduled_at),
       array_agg((extract(epoch FROM checked_at - scheduled_at) * 1000)::real
                 ORDER BY scheduled_at),
       webmon_nonnull(array_agg(response_time_ms::real ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(status_code ORDER BY scheduled_at)),
       array_agg(up ORDER BY scheduled_at),
       webmon_nonnull(array_agg(regex_matched ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(error ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(error_detail ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(dns_ms ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(connect_ms ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(tls_ms ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(ttfb_ms ORDER BY scheduled_at)),
       webmon_nonnull(array_agg(redirects ORDER BY scheduled_at)),
       CASE WHEN count(tls_version) < count(*) OR min(tls_version) <> max(tls_version)
            THEN webmon_nonnull(array_agg(tls_version ORDER BY scheduled_at)) END,
       CASE WHEN count(tls_expires_at) < count(*) OR min(tls_expires_at) <> max(tls_expires_at)
            THEN webmon_nonnull(array_agg(tls_expires_at ORDER BY scheduled_at)) END,
       CASE WHEN count(tls_version) = count(*) AND min(tls_version) = max(tls_version)
            THEN min(tls_version) END,
       CASE WHEN count(tls_expires_at) = count(*) AND min(tls_expires_at) = max(tls_expires_at)
            THEN min(tls_expires_at) END
  FROM check_results_all
 WHERE site_id <= %(sites)s
 GROUP BY site_id
"""


def dense_packed_bytes(url: str, sites: int) -> tuple[float, float]:
    """Bytes per check when a packed row holds ~1,000 checks (what a day of a site checked
    every ~90 s gives), not the ~33 of the grid above: each of the first `sites` sites'
    checks packed into one row, in a scratch table of the same shape (the same encoding as
    webmon_pack_day in migrations/0006). And checks per row."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE dense_packed (LIKE check_results_packed INCLUDING ALL)")
        conn.execute(DENSE, {"sites": sites})
        conn.execute("VACUUM dense_packed")
        row = conn.execute(
            "SELECT pg_total_relation_size('dense_packed'), sum(checks), avg(checks)"
            "  FROM dense_packed"
        ).fetchone()
        assert row is not None
    return int(row[0]) / int(row[1]), float(row[2])


def run_maintenance(url: str, now: datetime) -> tuple[MaintenanceReport, float]:
    values: dict[str, Any] = {
        "database_url": url,
        "kafka_bootstrap_servers": "unused.invalid:9092",  # maintenance needs no Kafka
        "pack_after_days": 1,
        "retention_days": 30,
        "rollup_retention_days": 400,
    }
    settings = SchedulerSettings(_env_file=None, **values)  # type: ignore[call-arg]
    db = Database(url, max_size=1)
    db.open()
    try:
        started = time.perf_counter()
        done = Maintenance(db, settings, clock=lambda: now).run()
        seconds = time.perf_counter() - started
    finally:
        db.close()
    assert done is not None and done.finished, done
    return done, seconds


def describe(done: MaintenanceReport, seconds: float) -> str:
    return (
        f"{seconds:.1f} s: {done.hours_rolled} hours and {done.days_rolled} days rolled up, "
        f"{len(done.days_packed)} days packed"
    )


def mb(n: float) -> str:
    return f"{n / 1_048_576:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=1_000, help="per site, over 30 days")
    parser.add_argument("--fresh", type=int, default=500_000, help="rows per writer run")
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
    rng = random.Random(SEED)
    total = args.sites * args.checks
    interval_us = DAYS * 86_400_000_000 // args.checks
    interval_s = min(86_400, max(1, interval_us // 1_000_000))
    sites = make_sites(args.sites, interval_us, rng)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=DAYS)
    first = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    out: list[tuple[str, str]] = []

    with (
        database_server() as server,
        scratch_database(server, "webmon_volume", args.keep) as url,
        scratch_database(server, "webmon_volume", args.keep) as bare_url,
    ):
        # 1. Thirty days of history through the writer.
        register(url, sites, interval_s)
        sql_one(url, "SELECT webmon_ensure_partitions(%s, %s)", (first_day, DAYS + 1))
        print(f"loading {total:,} results ({args.sites:,} sites x {args.checks:,})", flush=True)
        db = Database(url, max_size=1)
        db.open()
        try:
            started = time.perf_counter()
            loaded, in_writer = write_all(
                db, history_rows(sites, first, args.checks, interval_us, rng), total
            )
            elapsed = time.perf_counter() - started
        finally:
            db.close()
        print("vacuum and sizes", flush=True)
        sql_one(url, "VACUUM (ANALYZE) check_results")  # what autovacuum would do anyway
        raw_bytes, raw_parts = partition_bytes(url, "check_results", first_day, today)
        out += [
            (
                "load through write_results",
                f"{loaded:,} rows in {elapsed:.0f} s: {loaded / in_writer:,.0f} rows/s in the "
                f"writer ({loaded / elapsed:,.0f} with row generation)",
            ),
            (
                "raw days (table+indexes+TOAST)",
                f"{raw_bytes / loaded:.1f} B per check ({mb(raw_bytes)}, {raw_parts} partitions)",
            ),
        ]

        # 2. Writer throughput for today's fresh rows: with the history, and without.
        today = datetime.now(UTC).date()
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
        span_us = max(60_000_000, int((datetime.now(UTC) - midnight).total_seconds() * 1e6))
        span_us -= 30_000_000
        rounds = max(1, args.fresh // args.sites)
        step_us = span_us // (2 * rounds + 1)
        print(f"writer: {rounds * args.sites:,} fresh rows, twice per database", flush=True)
        register(bare_url, sites, interval_s)
        attached = {}
        for name, target in (("history", url), ("bare", bare_url)):
            sql_one(target, "SELECT webmon_ensure_partitions(%s, 2)", (today,))
            attached[name] = sql_one(
                target,
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'check_results'::regclass",
            )
        warm = today_rows(sites, midnight, step_us, range(0, 1), rng)
        fresh = [
            today_rows(sites, midnight, step_us, range(1 + n * rounds, 1 + (n + 1) * rounds), rng)
            for n in range(2)
        ]
        rates: dict[str, list[float]] = {"history": [], "bare": []}
        dbs = {"history": Database(url, max_size=1), "bare": Database(bare_url, max_size=1)}
        for d in dbs.values():
            d.open()
        try:
            for name in dbs:
                write_timed(dbs[name], warm)
            for n in range(2):
                for name in ("history", "bare") if n == 0 else ("bare", "history"):
                    rates[name].append(write_timed(dbs[name], fresh[n]))
        finally:
            for d in dbs.values():
                d.close()
        with_history = statistics.median(rates["history"])
        bare = statistics.median(rates["bare"])
        out += [
            (
                f"writer, {attached['history']} partitions attached",
                f"{with_history:,.0f} rows/s (runs: "
                + ", ".join(f"{x:,.0f}" for x in rates["history"])
                + ")",
            ),
            (
                f"writer, {attached['bare']} partitions (no history)",
                f"{bare:,.0f} rows/s (runs: " + ", ".join(f"{x:,.0f}" for x in rates["bare"]) + ")",
            ),
            ("writer with history / without", f"{with_history / bare:.2f} (target >= 0.90)"),
        ]

        # 3. Maintenance: roll up every closed hour and day, pack the days before yesterday.
        print("maintenance: rollups and packing", flush=True)
        now = datetime.now(UTC)
        done, maintenance_s = run_maintenance(url, now)
        sql_one(url, "ANALYZE")
        packed_bytes, packed_parts = partition_bytes(url, "check_results_packed")
        packed_checks = sql_one(url, "SELECT coalesce(sum(checks), 0) FROM check_results_packed")
        hourly_bytes, _ = partition_bytes(url, "check_rollups_hourly")
        daily_bytes, _ = partition_bytes(url, "check_rollups_daily")
        hourly_rows = sql_one(url, "SELECT count(*) FROM check_rollups_hourly")
        daily_rows = sql_one(url, "SELECT count(*) FROM check_rollups_daily")
        events = sql_one(url, "SELECT count(*) FROM site_events")
        rollup_bytes = hourly_bytes + daily_bytes
        dense_sites = max(1, args.sites // 10)
        dense, per_row = dense_packed_bytes(url, dense_sites)
        out += [
            ("maintenance, first run", describe(done, maintenance_s)),
            (
                "packed days (table+indexes+TOAST)",
                f"{packed_bytes / max(1, packed_checks):.1f} B per check ({mb(packed_bytes)}, "
                f"{packed_parts} partitions, {packed_checks:,} checks; target <= 60)",
            ),
            (
                "rollups, hourly + daily",
                f"{mb(rollup_bytes)}: {hourly_rows:,} + {daily_rows:,} rows, "
                f"{rollup_bytes / max(1, hourly_rows + daily_rows):.0f} B per row",
            ),
            (
                "packed, a site's 30 days in one row",
                f"{dense:.1f} B per check ({per_row:,.0f} checks per row, {dense_sites:,} "
                "sites: the density of a day checked every ~80 s)",
            ),
            ("site_events", f"{events:,} state changes"),
        ]

        # 4. The documented queries.
        print("queries", flush=True)
        first_loaded = sql_one(url, "SELECT min(day) FROM check_rollups_daily")
        synthetic = synthetic_year(url, args.sites, first_loaded, datetime.now(UTC).date())
        picked = random.Random(SEED + 1).sample(range(1, args.sites + 1), QUERY_SITES)
        timed = [
            Timed("uptime 24 h", HISTORY["uptime"], lambda s: _since(s, hours=24)),
            Timed("uptime 30 d", HISTORY["uptime"], lambda s: _since(s, days=30)),
            Timed("uptime 1 y", HISTORY["uptime"], lambda s: _since(s, days=365)),
            Timed("p95_per_day, 30 days", HISTORY["p95_per_day"],
                  lambda s: {"site_id": s, "days": 30}),
            Timed("site_events_of_site, 50", HISTORY["site_events_of_site"],
                  lambda s: {"site_id": s, "limit": 50}),
            Timed("down_now", HISTORY["down_now"], lambda s: {}, per_site=False),
            Timed("recent_events, 50", HISTORY["recent_events"], lambda s: {"limit": 50},
                  per_site=False),
            Timed("slowest_now, 20", HISTORY["slowest_now"], lambda s: {"limit": 20},
                  per_site=False),
        ]  # fmt: skip
        query_rows, seq_scans = time_queries(url, timed, picked, args.explain)
        down = sql_one(url, "SELECT count(*) FROM site_status WHERE NOT up")
        out += [
            ("queries", f"median of {QUERY_RUNS} runs, {QUERY_SITES} random sites"),
            *[(f"  {label}", shown) for label, shown in query_rows],
            ("  (down sites now)", f"{down:,}"),
            (
                "  (rollups read by uptime 1 y)",
                f"{synthetic} synthetic days before the {DAYS} loaded ones",
            ),
            ("  seq scans of results or rollups", "; ".join(seq_scans) or "none"),
        ]

        # 5. Maintenance an hour later: what a steady-state run does.
        later, later_s = run_maintenance(url, now + timedelta(hours=1))
        out.append(("maintenance, an hour later", describe(later, later_s)))

    report(f"volume: {args.sites:,} sites x {args.checks:,} checks over {DAYS} days", out)


def _since(site: int, **period: float) -> dict[str, Any]:
    return {"site_id": site, "since": timedelta(**period), "region": None}


if __name__ == "__main__":
    main()
