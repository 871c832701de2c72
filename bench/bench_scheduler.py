"""Scheduler throughput: claim -> Kafka acknowledgement -> commit, against the bare claim.

Fills 200,000 due sites and measures, in one run and on the same data: the bare claim
query (claim and commit, no Kafka: the ceiling), the scheduler's drain (claim, produce,
flush, commit), each with one process and with two at once. Between runs every site is
made due again and the table vacuumed, so each run starts from the same state.

    .venv/bin/python -m bench.bench_scheduler [--sites 200000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from multiprocessing.synchronize import Barrier

import psycopg

from bench.common import BenchEnv, bench_env, report, services
from scheduler.service import QUERIES, Scheduler, make_scheduler_producer
from scheduler.settings import SchedulerSettings
from shared.db import Database


def fill(db_url: str, sites: int) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (url, interval_seconds, next_check_at) "
            "SELECT 'https://site-' || g || '.example.com/health', 60, now() - interval '1 s' "
            "FROM generate_series(1, %s) g",
            (sites,),
        )
        conn.execute("VACUUM ANALYZE sites")


def make_due_again(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE sites SET next_check_at = now() - interval '1 s'")
        conn.execute("VACUUM ANALYZE sites")


def bare_claim(db_url: str, batch: int, barrier: Barrier | None = None) -> int:
    total = 0
    with psycopg.connect(db_url) as conn:
        if barrier is not None:
            barrier.wait()
        while True:
            rows = conn.execute(QUERIES["claim_due"], {"batch_size": batch}).fetchall()
            conn.commit()
            if not rows:
                return total
            total += len(rows)


def scheduler_drain(env: BenchEnv, batch: int, barrier: Barrier | None = None) -> int:
    settings = env.settings(SchedulerSettings, claim_batch_size=batch)
    assert isinstance(settings, SchedulerSettings)
    db = Database(settings.database_url.get_secret_value())
    db.open()
    producer = make_scheduler_producer(settings)
    producer.client.list_topics(timeout=10)  # connect before the clock starts
    try:
        scheduler = Scheduler(settings, db, producer)
        if barrier is not None:
            barrier.wait()
        total = 0
        while count := scheduler.drain():
            total += count
        scheduler.close()
        return total
    finally:
        producer.close()
        db.close()


def _worker(kind: str, env: BenchEnv, batch: int, barrier: Barrier, out: mp.Queue[int]) -> None:
    if kind == "bare":
        out.put(bare_claim(env.database_url, batch, barrier))
    else:
        out.put(scheduler_drain(env, batch, barrier))


def timed(kind: str, env: BenchEnv, batch: int, processes: int) -> tuple[int, float]:
    make_due_again(env.database_url)
    if processes == 1:
        started = time.perf_counter()
        if kind == "bare":
            total = bare_claim(env.database_url, batch)
        else:
            total = scheduler_drain(env, batch)
        return total, time.perf_counter() - started
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    out: mp.Queue[int] = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(kind, env, batch, barrier, out)) for _ in range(processes)
    ]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    total = sum(out.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - started
    for w in workers:
        w.join()
    return total, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    with services() as (url, bootstrap), bench_env(url, bootstrap) as env:
        fill(env.database_url, args.sites)
        rates: dict[str, float] = {}
        rows = []
        for kind, processes in (("bare", 1), ("scheduler", 1), ("bare", 2), ("scheduler", 2)):
            total, elapsed = timed(kind, env, args.batch, processes)
            if total != args.sites:
                raise SystemExit(f"{kind} x{processes} claimed {total}, expected {args.sites}")
            rate = total / elapsed
            rates[f"{kind}{processes}"] = rate
            rows.append((f"{kind} claim, {processes} process(es)", f"{rate:,.0f} rows/s"))
        rows += [
            ("scheduler / bare, 1 process", f"{rates['scheduler1'] / rates['bare1']:.2f}"),
            ("scheduler / bare, 2 processes", f"{rates['scheduler2'] / rates['bare2']:.2f}"),
            ("2 schedulers / 1 scheduler", f"{rates['scheduler2'] / rates['scheduler1']:.2f}"),
        ]
        report(f"scheduler: {args.sites:,} due sites, batch {args.batch:,}", rows)


if __name__ == "__main__":
    main()
