"""What a region's outage costs the writer when it opens: the recount of the region's sites,
beside the writing of one slot of the same sites, in the same run.

When a region's outage opens from slot S (its canary failed, or most of its sites failed
at once), the writer counts the region's sites again from S on, in the transaction that
opened it (checker/writer/outage_recount.py): it takes their status rows, then their
flips, status and incidents. This measures that step for every site of the region:

  - N sites checked from three regions, `--slots` slots of all three stored through the
    writer's own transaction (`write_results`, batches of 5,000), the third region failing
    every site for the last `--down` slots while the quorum says up;
  - baseline: the time to write one slot (N sites x 3 regions), from the same writes;
  - the slot whose batches opened the outage (the writer opens it itself, most of the
    region's sites failing at one slot), recount included;
  - the recount alone, again from the outage's start: the region's sites locked and counted
    again (`lock_region_sites`, `recount_region`), rolled back, in `--rounds` rounds.

    .venv/bin/python -m bench.bench_outage_recount [--sites 30000] [--slots 10] [--down 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg

from bench.common import BenchEnv, bench_env, report, services
from checker.writer import write_results
from checker.writer.outage_recount import QUERIES, recount_region
from shared.db import Database
from shared.messages import CheckResult

REGIONS = ["region-0", "region-1", "region-2"]
FAILING = REGIONS[-1]
BATCH = 5_000


def prepare(env: BenchEnv, sites: int) -> None:
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, url, regions) OVERRIDING SYSTEM VALUE "
            "SELECT g, 'https://site-' || g || '.example.com/health', %s "
            "FROM generate_series(1, %s) g",
            (REGIONS, sites),
        )


def slot_results(sites: int, slot: datetime, failing: bool) -> list[CheckResult]:
    results = []
    for site in range(1, sites + 1):
        base = CheckResult(
            site_id=site,
            url=f"https://site-{site}.example.com/health",
            scheduled_at=slot,
            checked_at=slot + timedelta(milliseconds=3),
            response_time_ms=20.0 + site % 300,
            status_code=200,
            up=True,
            region_count=len(REGIONS),
        )
        for region in REGIONS:
            down = failing and region == FAILING
            results.append(
                msgspec.structs.replace(
                    base,
                    region=region,
                    up=not down,
                    status_code=None if down else 200,
                    error="connect" if down else None,
                )
            )
    return results


def store(env: BenchEnv, sites: int, slots: list[datetime], down: int) -> tuple[float, float]:
    """Write every slot through the writer's transaction, which opens the region's outage
    itself (most of its sites failing at one slot) and counts its sites again. Returns
    (the median seconds of the slots that opened nothing, those of the one that opened it)."""
    db = Database(env.database_url, max_size=1)
    db.open()
    usual: list[float] = []
    opening: list[float] = []
    try:
        for n, slot in enumerate(slots):
            rows = slot_results(sites, slot, failing=n >= len(slots) - down)
            before = outages(env)
            started = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                write_results(db, rows[i : i + BATCH])
            took = time.perf_counter() - started
            (opening if outages(env) > before else usual).append(took)
    finally:
        db.close()
    if len(opening) != 1:
        raise SystemExit(f"expected the writer to open one outage, it opened {len(opening)}")
    return statistics.median(usual), opening[0]


def outages(env: BenchEnv) -> int:
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM region_outages").fetchone()
    return int(row[0]) if row else 0


def recount_once(env: BenchEnv) -> tuple[float, int]:
    """The open outage's recount alone: the region's sites locked and counted again from
    its start, rolled back."""
    with psycopg.connect(env.database_url) as conn, conn.cursor() as cur:
        row = cur.execute(
            "SELECT started_at FROM region_outages WHERE region = %s AND ended_at IS NULL",
            (FAILING,),
        ).fetchone()
        assert row is not None
        started = time.perf_counter()
        cur.execute(QUERIES["lock_region_sites"], {"region": FAILING})
        counted = recount_region(cur, conn, FAILING, row[0])
        took = time.perf_counter() - started
        conn.rollback()
    return took, counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=30_000)
    parser.add_argument("--slots", type=int, default=10, help="slots stored before the outage")
    parser.add_argument("--down", type=int, default=3, help="last slots the region failed")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=args.slots)
    slots = [start + timedelta(minutes=n) for n in range(args.slots)]
    with services() as (url, bootstrap), bench_env(url, bootstrap) as env:
        prepare(env, args.sites)
        one_slot, opened = store(env, args.sites, slots, args.down)
        rounds = [recount_once(env) for _ in range(args.rounds)]
    recount = statistics.median(took for took, _ in rounds)
    counted = rounds[0][1]
    results = args.sites * len(REGIONS)
    report(
        f"A region's outage opening: {args.sites:,} sites x {len(REGIONS)} regions,"
        f" {args.slots} slots stored, the region down for the last {args.down}",
        [
            ("writing one slot (baseline)", f"{one_slot * 1000:,.0f} ms ({results:,} results,"
             " median of the slots that open nothing)"),
            ("the slot that opened the outage", f"{opened * 1000:,.0f} ms"
             f" ({opened / one_slot:.2f} x the baseline)"),
            ("the recount alone", f"{recount * 1000:,.0f} ms, median of {args.rounds}"
             f" ({', '.join(f'{t * 1000:,.0f}' for t, _ in rounds)})"),
            ("sites counted again", f"{counted:,}"),
            ("recount / one slot", f"{recount / one_slot:.2f}"),
            ("recount per site", f"{recount / max(counted, 1) * 1e6:,.1f} µs"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
