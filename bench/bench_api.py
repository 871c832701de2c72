"""The HTTP API under load, beside a bare psycopg loop running the same SQL, in one run.

Loads 100,000 sites with a day of history (site_status, a day of hourly rollups, the last
ten minutes of raw checks), starts `webmon-api` (one process), and measures at
concurrency 64 from a load process of its own:

  - GET /api/v1/sites?limit=50 and GET /api/v1/sites/{id}/uptime?since=30d: req/s, p50/p99,
    and the API's CPU per request, against the route's statement run by a bare asyncio
    psycopg loop (64 at once);
  - POST /api/v1/tasks: accepted tasks/s;
  - submit -> COMPLETED for a fast local target while 10,000 scheduled checks wait on the
    task topic, with a scheduler and one checker running: p50/p95 (from the tasks' own
    created_at and finished_at).

    .venv/bin/python -m bench.bench_api [--seconds 10] [--sites 100000] [--reads-only]

The GET load is wrk where it is installed (`apt-get install wrk`), else an aiohttp client
(bench/http_load.py), which itself takes a share of the two cores; the title says which.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool

from bench.common import BenchEnv, bench_env, report, services
from bench.system import Runner, stop, wait_until
from devstack.localstack import free_port
from webmon.core.history import QUERIES as SITE_HISTORY
from webmon.core.keys import QUERIES as KEYS
from webmon.core.keys import key_hash, new_key, shown_part
from webmon.core.sites import QUERIES as SITES

CONCURRENCY = 64
READ_POOL = 4  # WEBMON_API_READ_POOL_SIZE's default
# Before each measured GET load: prepared statements, caches and the allocator warm up.
WARM_UP_S = 2.0


def load_history(db_url: str, sites: int) -> None:
    """`sites` sites, each with a latest status, 24 hourly rollups, a daily one, and raw
    checks every minute for the last ten minutes."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (url, next_check_at, enabled) "
            "SELECT 'https://site-' || g || '.example.com/', now() + interval '1 day', true "
            "FROM generate_series(1, %s) g",
            (sites,),
        )
        conn.execute(
            "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, response_time_ms,"
            " status_code, up) SELECT id, url, now() - interval '30 s', now() - interval '29 s',"
            " 20 + id % 80, CASE WHEN id % 97 = 0 THEN 503 ELSE 200 END, id % 97 <> 0"
            " FROM sites"
        )
        conn.execute(
            "INSERT INTO check_rollups_hourly (site_id, hour, checks, up_checks, rt_min_ms,"
            " rt_avg_ms, rt_max_ms, rt_p50_ms, rt_p95_ms) SELECT s.id, h, 60, 59, 10, 30, 90,"
            " 28, 70 FROM sites s, generate_series(date_trunc('hour', now()) - interval '24 h',"
            " date_trunc('hour', now()) - interval '1 h', interval '1 hour') h"
        )
        conn.execute(
            "INSERT INTO check_rollups_daily (site_id, day, checks, up_checks, rt_min_ms,"
            " rt_avg_ms, rt_max_ms, rt_p50_ms, rt_p95_ms) SELECT id,"
            " (now() AT TIME ZONE 'UTC')::date - 1, 1440, 1430, 10, 30, 90, 28, 70 FROM sites"
        )
        conn.execute(
            "INSERT INTO check_results (site_id, scheduled_at, checked_at, response_time_ms,"
            " status_code, up) SELECT s.id, m, m + interval '20 ms', 20 + s.id % 80, 200, true"
            " FROM sites s, generate_series(now() - interval '10 min', now(), interval '1 min') m"
        )
        conn.execute(
            "UPDATE webmon_rollup_state SET counted_to = date_trunc('hour', now()),"
            " rolled_up_to = date_trunc('hour', now()),"
            " days_rolled_to = (now() AT TIME ZONE 'UTC')::date"
        )
        conn.execute("VACUUM ANALYZE")


def make_key(db_url: str) -> str:
    key = new_key()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            KEYS["create_key"],
            {"name": f"bench-{key[-6:]}", "scope": "admin", "prefix": shown_part(key),
             "sha256": key_hash(key)},
        )  # fmt: skip
    return key


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def bare_loop(
    db_url: str, query: str, params: Callable[[], dict[str, object]], seconds: float
) -> tuple[float, list[float]]:
    """The route's one statement from 64 coroutines on an async pool like the API's read
    pool (4 connections, generic plans): the ceiling of what the API adds (HTTP, the key,
    the parameters, the answer)."""

    async def generic_plans(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.set_autocommit(True)
        await conn.execute("SET plan_cache_mode = force_generic_plan")

    pool = psycopg_pool.AsyncConnectionPool(
        db_url, min_size=READ_POOL, max_size=READ_POOL, open=False, configure=generic_plans
    )
    await pool.open(wait=True)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with pool.connection() as conn:
                await (await conn.execute(query, params())).fetchall()
            latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    await pool.close()
    return len(latencies) / elapsed, latencies


def http_load(
    url: str,
    paths: list[str],
    key: str,
    seconds: float,
    method: str = "GET",
    api_pid: int | None = None,
) -> dict[str, Any]:
    """The load in a process of its own (its CPU is not the API's): wrk where it is
    installed, for GETs, else bench/http_load.py (aiohttp), which costs the shared two cores
    ~0.25 ms per request, a quarter of the budget at 1,500/s."""
    if method == "GET" and shutil.which("wrk"):
        wrk_load(url, paths, key, WARM_UP_S)  # the API's first requests, not measured
        before = cpu_seconds(api_pid)
        measured = wrk_load(url, paths, key, seconds)
        if api_pid is not None:
            spent = cpu_seconds(api_pid) - before
            measured["cpu_us"] = spent * 1e6 / max(1, measured["requests"])
        return measured
    done = subprocess.run(
        [sys.executable, "-m", "bench.http_load", url, key, str(seconds), str(CONCURRENCY), method],
        input=json.dumps(paths),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def cpu_seconds(pid: int | None) -> float:
    """The process's user and system CPU time: per request, a figure that a busy machine
    moves far less than a rate (it counts the API's own work, not its waits)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WRK_SCRIPT = """
paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
counter = 0
request = function()
    counter = counter + 1
    return wrk.format("GET", paths[(counter % #paths) + 1])
end
done = function(summary, latency, requests)
    io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests,
        summary.duration, latency:percentile(50), latency:percentile(99),
        summary.errors.status, summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout))
end
"""


def wrk_load(url: str, paths: list[str], key: str, seconds: float) -> dict[str, Any]:
    """wrk, one thread, CONCURRENCY connections, cycling through `paths`."""
    with tempfile.TemporaryDirectory() as scratch:
        script, listed = Path(scratch, "paths.lua"), Path(scratch, "paths.txt")
        script.write_text(WRK_SCRIPT)
        listed.write_text("\n".join(paths) + "\n")
        done = subprocess.run(
            ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{max(1, round(seconds))}s", "-s", str(script),
             "-H", f"Authorization: Bearer {key}", url],
            env={**os.environ, "WRK_PATHS": str(listed)},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    line = next(row for row in done.stdout.splitlines() if row.startswith("RESULT "))
    requests, duration_us, p50_us, p99_us, status_errors, io_errors = map(int, line.split()[1:])
    return {
        "requests": requests,
        "rate": requests / (duration_us / 1e6),
        "p50_ms": p50_us / 1000,
        "p99_ms": p99_us / 1000,
        "errors": status_errors + io_errors,
        "client": "wrk",
    }


def task_latency(env: BenchEnv, api_url: str, key: str, logs: Path) -> tuple[list[float], int]:
    """Submit -> COMPLETED of tasks sent one a second for 30 s to a fast target, while
    10,000 scheduled checks of a slow one (500 ms each) wait on the task topic; returns the
    latencies and how many scheduled checks were still waiting at the end."""
    from tests.support.targets import Targets

    runner = Runner(env, logs)
    with Targets() as targets, psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM sites")
        before = _scalar(conn, "SELECT count(*) FROM check_results")  # the loaded history
        conn.execute(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
            "SELECT %s || '&n=' || g, 3600, 10, now() FROM generate_series(1, 10000) g",
            (targets.url("/delay?ms=500"),),
        )
        checker = runner.start(
            "checker", "checker", WEBMON_ALLOWED_NETWORKS="127.0.0.1/32", WEBMON_CONCURRENCY="64"
        )
        wait_until(lambda: runner.logged("checker", "probe.ondemand_assigned"), 120, "a checker")
        scheduler = runner.start("scheduler", "scheduler")
        wait_until(
            lambda: (
                _scalar(conn, "SELECT count(*) FROM sites WHERE next_check_at > now()") == 10000
            ),
            60,
            "the backlog to be emitted",
        )
        body = json.dumps({"name": "latency", "url": targets.url("/ok")}).encode()
        for _ in range(30):
            request = urllib.request.Request(
                f"{api_url}/api/v1/tasks", data=body, method="POST",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )  # fmt: skip
            urllib.request.urlopen(request, timeout=10).read()
            time.sleep(1)  # the load's own cadence: a task a second
        wait_until(
            lambda: _scalar(conn, "SELECT count(*) FROM tasks WHERE status < 3") == 0,
            120,
            "the tasks to end",
        )
        waiting = 10000 - (_scalar(conn, "SELECT count(*) FROM check_results") - before)
        rows = conn.execute(
            "SELECT extract(epoch FROM finished_at - created_at)::float8 FROM tasks"
            " WHERE status = 3"
        ).fetchall()
        stop(scheduler)
        stop(checker)
    return [r[0] for r in rows], waiting


def _scalar(conn: psycopg.Connection[tuple[int]], query: str) -> int:
    row = conn.execute(query).fetchone()
    return 0 if row is None else int(row[0])


def reads_rows(
    name: str, http: dict[str, float], bare_name: str, bare_rate: float, bare: list[float]
) -> list[tuple[str, str]]:
    p50, p99 = percentiles(bare)
    return [
        (name, figures(http["rate"], http["p50_ms"], http["p99_ms"])),
        (f"  bare psycopg loop, {bare_name}", figures(bare_rate, p50 * 1000, p99 * 1000)),
        ("  API / bare", f"{http['rate'] / bare_rate:.2f}"),
    ] + ([("  API CPU per request", f"{http['cpu_us']:,.0f} µs")] if "cpu_us" in http else [])


def figures(rate: float, p50_ms: float, p99_ms: float) -> str:
    return f"{rate:,.0f}/s, p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--reads-only", action="store_true", help="skip the task figures")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="webmon-bench-api-"))
    rows: list[tuple[str, str]] = []
    with services() as (server, bootstrap), bench_env(server, bootstrap) as env:
        load_history(env.database_url, args.sites)
        key = make_key(env.database_url)
        port = free_port()
        runner = Runner(env, logs)
        api = runner.start(
            "webmon.api", "api", WEBMON_API_PORT=str(port), WEBMON_ALLOWED_NETWORKS="127.0.0.1/32",
            WEBMON_TASKS_PER_MINUTE="1000000", WEBMON_TASKS_IN_FLIGHT="1000000",
        )  # fmt: skip
        api_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: runner.logged("api", "api.started"), 60, "the API")
        site_ids = [random.randint(1, args.sites) for _ in range(5000)]

        page: dict[str, object] = {
            "after": 0,
            "site_id": None,
            "enabled": None,
            "state": None,
            "tag": None,
        }

        def first_page() -> dict[str, object]:
            return {**page, "q": None, "limit": 51}

        bare_rate, bare = asyncio.run(
            bare_loop(env.database_url, SITES["sites_json"], first_page, args.seconds)
        )
        http = http_load(api_url, ["/api/v1/sites?limit=50"], key, args.seconds, api_pid=api.pid)
        rows += reads_rows("GET /sites?limit=50", http, "the same query", bare_rate, bare)

        def uptime_params() -> dict[str, object]:
            return {"site_id": random.choice(site_ids), "since": timedelta(days=30), "region": None}

        # The route sends the site's check, the documented uptime query and the latency one
        # as one statement.
        bare_rate, bare = asyncio.run(
            bare_loop(env.database_url, SITE_HISTORY["site_uptime"], uptime_params, args.seconds)
        )
        paths = [f"/api/v1/sites/{i}/uptime?since=30d" for i in site_ids]
        http = http_load(api_url, paths, key, args.seconds, api_pid=api.pid)
        name = "GET /sites/{id}/uptime?since=30d"
        rows += reads_rows(name, http, "the same statement", bare_rate, bare)
        if args.reads_only:
            stop(api)
            report(title(args, http, logs), rows)
            return

        posted = http_load(api_url, ["/api/v1/tasks"], key, args.seconds, "POST")
        accepted = figures(posted["rate"], posted["p50_ms"], posted["p99_ms"])
        rows.append(("POST /tasks (accepted)", accepted))
        with psycopg.connect(env.database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM tasks")

        latencies, waiting = task_latency(env, api_url, key, logs)
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95)]
        rows.append((
            "submit -> COMPLETED, 10,000 scheduled checks queued",
            f"p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s ({len(latencies)} tasks;"
            f" {waiting:,} scheduled checks still waiting when the last ended)",
        ))  # fmt: skip
        stop(api)
    report(title(args, http, logs), rows)


def title(args: argparse.Namespace, http: dict[str, Any], logs: Path) -> str:
    client = http.get("client", "aiohttp")
    return (
        f"API: {args.sites:,} sites, concurrency {CONCURRENCY} ({client}), one API process ({logs})"
    )


if __name__ == "__main__":
    main()
