"""Notifier throughput and latency: incidents -> outbox -> webhook, beside a bare HTTP loop.

In one run, against a local webhook receiver (aiohttp, in this process, on 127.0.0.1):
  - baseline: a plain aiohttp client loop POSTing the same number of JSON bodies at the
    notifier's concurrency (the receiver's and the loopback's ceiling);
  - 10,000 incidents opened at once (one writer transaction, failure threshold 1: a shared
    dependency going down), sent by one notifier process, then their 10,000 RESOLVED by
    two: notifications/s from the commit to the last one received, and the latency of
    each, from the commit of its result to its arrival, p50 / p99;
  - a paced load: 1,000 incidents/s for 10 s (a batch of 100 every 0.1 s), one notifier:
    latency p50 / p99 (the issue's target: p99 < 2 s at 1,000 notifications/s).

    .venv/bin/python -m bench.bench_notifier [--incidents 10000] [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import psycopg
from aiohttp import web

from bench.common import BenchEnv, bench_env, report, services
from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.support.aioserver import LoopServer

CONCURRENCY = 64
NOTIFIER_ENV = {
    "WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32",
    "WEBMON_NOTIFIER_CONCURRENCY": str(CONCURRENCY),
    "WEBMON_NOTIFIER_CHANNEL_CONCURRENCY": str(CONCURRENCY),
    "WEBMON_NOTIFIER_POLL_S": "0.1",
    "WEBMON_METRICS_PORT": "0",
}


class Receiver(LoopServer):
    """Records when each idempotency key first arrived (time.time())."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, float] = {}
        self.count = 0

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        key = request.headers.get("Idempotency-Key", "")
        self.count += 1
        self.first.setdefault(key, time.time())
        return web.Response(text="ok")

    def reset(self) -> None:
        self.first, self.count = {}, 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def baseline(url: str, count: int) -> float:
    """POSTs/s of a bare aiohttp loop at the notifier's concurrency."""
    body = orjson.dumps({"version": 1, "event": "down", "idempotency_key": "x" * 24})

    async def run() -> float:
        queue = list(range(count))
        async with aiohttp.ClientSession() as session:

            async def worker() -> None:
                while queue:
                    n = queue.pop()
                    headers = {"Idempotency-Key": f"base-{n}", "Content-Type": "application/json"}
                    async with session.post(url, data=body, headers=headers) as r:
                        await r.read()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return count / (time.perf_counter() - started)

    return asyncio.run(run())


def prepare(env: BenchEnv, sites: int, hook: str) -> None:
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, url, failure_threshold, success_threshold)"
            " OVERRIDING SYSTEM VALUE"
            " SELECT g, 'https://site-' || g || '.example.com/', 1, 1"
            "   FROM generate_series(1, %s) g",
            (sites,),
        )
        conn.execute(
            "INSERT INTO channels (name, kind, config, is_default)"
            " VALUES ('hook', 'webhook', %s, true)",
            (orjson.dumps({"url": hook}).decode(),),
        )


def rows(site_ids: range, slot: datetime, up: bool) -> list[CheckResult]:
    return [
        CheckResult(
            site_id=s, url=f"https://site-{s}.example.com/", scheduled_at=slot,
            checked_at=slot, response_time_ms=1.0, status_code=200 if up else 503, up=up,
        )
        for s in site_ids
    ]  # fmt: skip


@contextmanager
def notifiers(env: BenchEnv, count: int) -> Iterator[None]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "notifier"],
            env={**os.environ, **env.variables(), **NOTIFIER_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        time.sleep(1.5)  # started and polling (a bench, not a test: the run is timed after)
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def wait_received(receiver: Receiver, keys: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while len(receiver.first) < keys:
        if time.monotonic() > deadline:
            raise SystemExit(f"received {len(receiver.first)} of {keys}")
        time.sleep(0.01)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def burst(
    db: Database, receiver: Receiver, site_ids: range, slot: datetime, up: bool
) -> tuple[float, float, float, float]:
    """(write seconds, notifications/s, p50 s, p99 s) of one transaction's incidents."""
    receiver.reset()
    batch = rows(site_ids, slot, up)
    started = time.time()
    write_results(db, batch)
    committed = time.time()
    wait_received(receiver, len(site_ids))
    arrivals = list(receiver.first.values())
    latencies = [a - committed for a in arrivals]
    rate = len(arrivals) / (max(arrivals) - committed)
    return committed - started, rate, percentile(latencies, 0.5), percentile(latencies, 0.99)


def paced(
    db: Database,
    db_url: str,
    receiver: Receiver,
    first_site: int,
    rate: int,
    seconds: int,
    slot: datetime,
) -> tuple[float, float, float]:
    """(achieved rate, p50 s, p99 s) with `rate` incidents/s in batches every 0.1 s."""
    receiver.reset()
    per_batch = max(1, rate // 10)
    committed: dict[str, float] = {}
    site = first_site
    start = time.monotonic()
    for n in range(seconds * 10):
        ids = range(site, site + per_batch)
        site += per_batch
        write_results(db, rows(ids, slot, False))
        at = time.time()
        for s in ids:
            committed[f"site-{s}"] = at
        pause = start + (n + 1) * 0.1 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    total = len(committed)
    wait_received(receiver, total)
    with psycopg.connect(db_url, autocommit=True) as conn:
        keys: dict[str, int] = dict(
            conn.execute(
                "SELECT n.idempotency_key, n.site_id FROM notifications n WHERE n.site_id >= %s",
                (first_site,),
            ).fetchall()
        )
    latencies = [receiver.first[k] - committed[f"site-{s}"] for k, s in keys.items()]
    elapsed = max(receiver.first.values()) - min(committed.values())
    return total / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    paced_sites = args.rate * args.seconds
    with services() as (url, bootstrap), bench_env(url, bootstrap) as env, Receiver() as receiver:
        base = baseline(receiver.url, args.incidents)
        prepare(env, args.incidents + paced_sites, receiver.url)
        db = Database(env.database_url, max_size=1)
        db.open()
        slot = datetime.now(UTC).replace(microsecond=0)
        burst_sites = range(1, args.incidents + 1)
        try:
            with notifiers(env, 1):
                down = burst(db, receiver, burst_sites, slot, up=False)
                pace = paced(
                    db,
                    env.database_url,
                    receiver,
                    args.incidents + 1,
                    args.rate,
                    args.seconds,
                    slot,
                )
            with notifiers(env, 2):
                resolved = burst(db, receiver, burst_sites, slot + timedelta(minutes=1), up=True)
        finally:
            db.close()
    n = f"{args.incidents:,}"
    report(
        f"notifier: {n} incidents at once, webhook on loopback, concurrency {CONCURRENCY}",
        [
            ("bare aiohttp POST loop (baseline)", f"{base:,.0f} requests/s"),
            (f"writer: {n} results opening {n} incidents", f"{down[0]:.2f} s (one transaction)"),
            ("1 notifier: DOWN", f"{down[1]:,.0f} notifications/s"),
            ("  latency from commit p50 / p99", f"{down[2]:.2f} s / {down[3]:.2f} s"),
            (f"writer: {n} results resolving them", f"{resolved[0]:.2f} s"),
            ("2 notifiers: RESOLVED", f"{resolved[1]:,.0f} notifications/s"),
            ("  latency from commit p50 / p99", f"{resolved[2]:.2f} s / {resolved[3]:.2f} s"),
            ("notifiers / baseline (1, 2)", f"{down[1] / base:.2f}, {resolved[1] / base:.2f}"),
            (f"paced {args.rate:,}/s for {args.seconds} s, 1 notifier", f"{pace[0]:,.0f}/s"),
            ("  latency from commit p50 / p99", f"{pace[1]:.2f} s / {pace[2]:.2f} s"),
        ],
    )


if __name__ == "__main__":
    main()
