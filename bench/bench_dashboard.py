"""The dashboard at 100,000 sites: its pages on the server, and in headless Chromium.

Loads the same history as bench_api (100,000 sites, a day of rollups, ten minutes of raw
checks, one site in 97 down), starts `webmon-api` with the dashboard, logs in, and
measures, one request at a time from this process:

  - the overview `/` (first page, 50 sites), the sites down now (`/?state=down`), a search
    (`/?q=...`), a deep page (`/?after=90000`), its live part (`/ui/overview`) and a site's
    page (`/sites/{id}`): p50 / p99;
  - the baseline, in the same run: `GET /api/v1/sites?limit=50`, the same page of sites as
    JSON, which the overview's HTML adds counts, uptimes and strips to;
  - for each, the CPU a request cost the server: the API process's and PostgreSQL's
    backends' (user + system, from /proc), which a busy machine moves far less than the
    latencies;
  - in Chromium, five fresh loads each: DOMContentLoaded of `/tasks` (the baseline: the
    same page shell without a site's history), of `/` (with its bars of ticks), and of a
    site's page with the time until its chart is drawn (uPlot's canvas,
    `window.webmonChart`), the page fully drawn.

    .venv/bin/python -m bench.bench_dashboard [--requests 200] [--sites 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.bench_api import load_history, make_key
from bench.common import bench_env, report, services
from bench.system import Runner, cpu_seconds, stop, wait_until
from devstack.localstack import free_port
from shared.netpolicy import TargetPolicy
from shared.sealing import new_key
from tests.support.browser import CHROMIUM_ARGS, system_chromium
from webmon.core import OPERATOR, Core, opened

LOADS = 5


def latencies(client: httpx.Client, paths: list[str], requests: int) -> list[float]:
    """Seconds per request, `requests` of them, cycling through `paths`; every answer 200."""
    out = []
    for i in range(requests):
        started = time.perf_counter()
        answer = client.get(paths[i % len(paths)])
        out.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"{paths[i % len(paths)]} answered {answer.status_code}")
    return out


def backend_pids(db_url: str) -> list[int]:
    """The PostgreSQL backends connected to the bench's database (the API's pools), this
    query's own connection left out."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def pids_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of these processes so far (those gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def with_cpu(
    db_url: str, app_cpu: Callable[[], float], measure: Callable[[], list[float]]
) -> tuple[list[float], str]:
    """`measure()`'s latencies, and the CPU its requests cost the server per request: the
    application's process and PostgreSQL's backends, which a busy machine moves much less
    than the wall-clock figures (CPU is counted only while the process runs)."""
    pids = backend_pids(db_url)
    app0, pg0 = app_cpu(), pids_cpu_seconds(pids)
    took = measure()
    app, pg = app_cpu() - app0, pids_cpu_seconds(pids) - pg0
    n = len(took)
    return took, f"CPU per request: app {app / n * 1000:.1f} ms, PostgreSQL {pg / n * 1000:.1f} ms"


def figures(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


def in_chromium(base: str, link: str, site_id: int) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    baseline, overview, site, drawn = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=system_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(link)
        for _ in range(LOADS):
            baseline.append(_dom_ready(page, base + "/tasks"))
            overview.append(_dom_ready(page, base + "/"))
            site.append(_dom_ready(page, f"{base}/sites/{site_id}"))
            page.wait_for_function("window.webmonChart !== undefined", timeout=30_000)
            drawn.append(float(page.evaluate("performance.now()")))
        browser.close()
    return [
        (
            "Chromium baseline: /tasks DOMContentLoaded (the same page shell, no history)",
            f"median {statistics.median(baseline):.0f} ms",
        ),
        ("Chromium: / DOMContentLoaded", f"median {statistics.median(overview):.0f} ms"),
        ("Chromium: /sites/{id} DOMContentLoaded", f"median {statistics.median(site):.0f} ms"),
        ("Chromium: /sites/{id} chart drawn", f"median {statistics.median(drawn):.0f} ms"),
    ]


def _dom_ready(page: Any, url: str) -> float:
    page.goto(url, wait_until="domcontentloaded")
    entry = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    return float(entry)


async def login_links(database_url: str, count: int) -> list[str]:
    """A user for the bench, and `count` one-time login links for it."""
    core = Core.for_url(database_url, policy=TargetPolicy.default(), pool_size=1)
    async with opened(core):
        await core.users.add(OPERATOR, "bench", "a password for the bench")
        return [await core.users.login_link(OPERATOR, "bench") for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sites", type=int, default=100_000)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="webmon-bench-dashboard-"))
    rows: list[tuple[str, str]] = []
    with services() as (server, bootstrap), bench_env(server, bootstrap) as env:
        load_history(env.database_url, args.sites)
        key = make_key(env.database_url)
        links = asyncio.run(login_links(env.database_url, 2))
        port = free_port()
        runner = Runner(env, logs)
        # The dashboard seals its session key with WEBMON_SECRET_KEY; without one its pages
        # answer 503.
        api = runner.start(
            "webmon.api", "api", WEBMON_API_PORT=str(port), WEBMON_SECRET_KEY=new_key()
        )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: runner.logged("api", "api.started"), 60, "the API")
        sites = [random.randint(1, args.sites) for _ in range(args.requests)]
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get(str(links[0]), follow_redirects=True)
            api_headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=api_headers, timeout=30) as api_client:
                baseline, baseline_cpu = with_cpu(
                    env.database_url, lambda: cpu_seconds(api),
                    lambda: latencies(api_client, ["/api/v1/sites?limit=50"], args.requests),
                )  # fmt: skip
            pages = [
                ("/ (overview, first page)", ["/"]),
                ("/?state=down (sites down now)", ["/?state=down"]),
                ("/?q=site-4242 (search)", ["/?q=site-4242"]),
                ("/?after=90000 (a deep page)", ["/?after=90000"]),
                ("/ui/overview (the live part)", ["/ui/overview"]),
                ("/sites/{id} (random sites)", [f"/sites/{i}" for i in sites]),
            ]
            rows.append(("baseline: GET /api/v1/sites?limit=50 (JSON)",
                         f"{figures(baseline)}; {baseline_cpu}"))  # fmt: skip
            for name, paths in pages:
                took, cpu = with_cpu(
                    env.database_url, lambda: cpu_seconds(api),
                    partial(latencies, client, paths, args.requests),
                )  # fmt: skip
                rows.append((f"GET {name}", f"{figures(took)}; {cpu}"))
        rows += in_chromium(base, base + str(links[1]), sites[0])
        stop(api)
    report(f"Dashboard: {args.sites:,} sites, one API process, one request at a time", rows)


if __name__ == "__main__":
    main()
