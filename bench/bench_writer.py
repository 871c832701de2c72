"""Writer throughput: results topic -> PostgreSQL, beside a bare COPY of the same rows.

Produces N results (10,000 sites x N/10,000 slots) and measures in one run:
  - bare binary COPY straight into check_results (the ceiling),
  - the writer's transaction alone (staging COPY, insert ignoring duplicates, site_status),
  - the whole writer: consume, decode, write, commit offsets, in its steady state (timed
    from its first stored batch until 90 % are stored, so neither the consumer group join
    nor the last batches, which close by age, are counted).

    .venv/bin/python -m bench.bench_writer [--results 200000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import operator
import threading
import time
from datetime import UTC, datetime, timedelta

import confluent_kafka
import msgspec
import psycopg
from psycopg import sql

from bench.common import BenchEnv, bench_env, report, services
from checker.settings import DEFAULT_WRITER_LANES, CheckerSettings
from checker.writer import COPY_TYPES, ResultWriter, write_results
from shared.db import Database
from shared.kafka import make_producer
from shared.messages import RESULT_COLUMNS, CheckResult, copy_row
from shared.messages.bounds import DEFAULT_REGION

SITES = 10_000
# The writer's rate is taken from its first stored batch until this share of the results
# is stored: the last batches of a finite input close by age (0.5 s), not by size, and
# the group join before the first batch is no part of writing either.
STEADY_SHARE = 0.9


def make_results(count: int, regions: int = 1) -> list[CheckResult]:
    """`count` results of SITES sites a minute apart; with `regions` > 1 each (site, slot)
    comes from that many regions (the same count of results, fewer slots)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    names = [DEFAULT_REGION] if regions == 1 else [f"region-{n}" for n in range(regions)]
    results = []
    for i in range(count):
        check, region = divmod(i, regions)
        site, slot = 1 + check % SITES, check // SITES
        result = CheckResult(
            site_id=site,
            url=f"https://site-{site}.example.com/health",
            scheduled_at=start + timedelta(seconds=slot * 60),
            checked_at=start + timedelta(seconds=slot * 60, milliseconds=3),
            response_time_ms=20.0 + i % 300,
            status_code=200 if i % 50 else 503,
            up=bool(i % 50),
        )
        if regions > 1:
            result = msgspec.structs.replace(result, region=names[region], region_count=regions)
        results.append(result)
    return results


def prepare(env: BenchEnv) -> None:
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, url) OVERRIDING SYSTEM VALUE "
            "SELECT g, 'https://site-' || g || '.example.com/health' "
            "FROM generate_series(1, %s) g",
            (SITES,),
        )


def reset(env: BenchEnv, regions: list[str] | None = None) -> None:
    """Empty the results; with `regions`, every site is checked from those (its quorum a
    majority of them), as the results of `make_results(..., len(regions))` say."""
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE check_results, site_status, site_events, site_alert_state, incidents, "
            "notifications CASCADE"
        )
        conn.execute("UPDATE sites SET regions = %s", (regions or [DEFAULT_REGION],))


# The stored fields that check_results has (all but the URL, which site_status keeps).
BARE_COLUMNS = [n for n, name in enumerate(RESULT_COLUMNS) if name != "url"]


def bare_copy(env: BenchEnv, results: list[CheckResult], batch: int) -> float:
    reset(env)
    pick = operator.itemgetter(*BARE_COLUMNS)
    rows = [copy_row(r) for r in results]  # made before the clock starts, the URL dropped after
    columns = sql.SQL(", ").join(sql.Identifier(RESULT_COLUMNS[n]) for n in BARE_COLUMNS)
    statement = sql.SQL("COPY check_results ({}) FROM STDIN (FORMAT BINARY)").format(columns)
    started = time.perf_counter()
    with psycopg.connect(env.database_url) as conn:
        for i in range(0, len(rows), batch):
            with conn.cursor() as cur, cur.copy(statement) as copy:
                copy.set_types([COPY_TYPES[n] for n in BARE_COLUMNS])
                for row in rows[i : i + batch]:
                    copy.write_row(pick(row))
            conn.commit()
    return len(rows) / (time.perf_counter() - started)


def writer_sql(env: BenchEnv, rows: list[CheckResult], batch: int) -> float:
    reset(env, sorted({row.region for row in rows}))
    db = Database(env.database_url, max_size=1)
    db.open()
    try:
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            write_results(db, rows[i : i + batch])
        return len(rows) / (time.perf_counter() - started)
    finally:
        db.close()


def full_writer(env: BenchEnv, results: list[CheckResult], batch: int, lanes: int) -> float:
    reset(env)
    settings = env.settings(CheckerSettings, writer_batch_size=batch, writer_lanes=lanes)
    assert isinstance(settings, CheckerSettings)
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": env.kafka_bootstrap, "linger.ms": 20, "compression.type": "zstd"}
    )
    for r in results:
        producer.produce(settings.results_topic, r.encode(), str(r.site_id).encode())
        producer.poll(0)
    producer.flush(60)
    db = Database(env.database_url, max_size=settings.writer_lanes)
    db.open()
    stop = threading.Event()
    writer = ResultWriter(settings, db, make_producer(settings), stop)
    thread = threading.Thread(target=writer.run)
    thread.start()
    try:
        deadline = time.monotonic() + 300
        while writer.totals.rows == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        first_rows, started = writer.totals.rows, time.perf_counter()
        while writer.totals.rows < STEADY_SHARE * len(results) and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed, stored = time.perf_counter() - started, writer.totals.rows
        while writer.totals.rows < len(results) and time.monotonic() < deadline:
            time.sleep(0.01)
        if writer.totals.rows != len(results):
            raise SystemExit(f"writer stored {writer.totals.rows} of {len(results)}")
        return (stored - first_rows) / elapsed
    finally:
        stop.set()
        thread.join()
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--lanes", type=int, default=DEFAULT_WRITER_LANES)
    parser.add_argument("--regions", type=int, default=1, help="also time N regions' results")
    parser.add_argument("--pairs", type=int, default=3, help="alternations with --regions")
    parser.add_argument(
        "--spread",
        action="store_true",
        help="with --regions: each region's results of a slot in other batches, as the "
        "regions' checkers deliver them, rather than side by side in one batch",
    )
    args = parser.parse_args()
    results = make_results(args.results)
    with services() as (url, bootstrap), bench_env(url, bootstrap) as env:
        prepare(env)
        if args.regions > 1:
            regional = make_results(args.results, args.regions)
            if args.spread:  # each region's rows of a slot in batches of their own
                regional.sort(key=lambda r: (r.scheduled_at, r.region, r.site_id))
            compare_regions(env, results, regional, args)
            return
        copy_rate = bare_copy(env, results, args.batch)
        sql_rate = writer_sql(env, results, args.batch)
        one_lane = full_writer(env, results, args.batch, 1)
        writer_rate = full_writer(env, results, args.batch, args.lanes)
        report(
            f"writer: {args.results:,} results, batch {args.batch:,}",
            [
                ("bare binary COPY into check_results", f"{copy_rate:,.0f} rows/s"),
                ("writer transaction alone (no Kafka)", f"{sql_rate:,.0f} rows/s"),
                ("writer, Kafka -> PostgreSQL, 1 lane", f"{one_lane:,.0f} results/s"),
                (
                    f"writer, Kafka -> PostgreSQL, {args.lanes} lanes",
                    f"{writer_rate:,.0f} results/s",
                ),
                ("writer / bare COPY", f"{writer_rate / copy_rate:.2f}"),
            ],
        )


def compare_regions(
    env: BenchEnv, plain: list[CheckResult], regional: list[CheckResult], args: argparse.Namespace
) -> None:
    """The writer's transaction over single-region and N-region inputs, A B A B …"""
    rates: dict[str, list[float]] = {"one": [], "many": []}
    for _ in range(args.pairs):
        rates["one"].append(writer_sql(env, plain, args.batch))
        rates["many"].append(writer_sql(env, regional, args.batch))
    ratios = sorted(b / a for a, b in zip(rates["one"], rates["many"], strict=True))
    one, many = sorted(rates["one"]), sorted(rates["many"])
    report(
        f"writer transaction: {args.results:,} results, batch {args.batch:,}, "
        f"{args.pairs} pairs",
        [
            ("one region, rows/s (min median max)", " ".join(f"{r:,.0f}" for r in
                                                            (one[0], one[len(one) // 2], one[-1]))),
            (f"{args.regions} regions, rows/s", " ".join(f"{r:,.0f}" for r in
                                                      (many[0], many[len(many) // 2], many[-1]))),
            (f"{args.regions} regions / one, per pair (median)", f"{ratios[len(ratios) // 2]:.3f}"
             f" (min {ratios[0]:.3f}, max {ratios[-1]:.3f})"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
