"""A public status page at 100,000 sites: `/status/{slug}` of 1,000 sites in 10 groups.

Loads the same history as bench_api (100,000 sites, a day of rollups, ten minutes of raw
checks, one site in 97 down), makes pages of 10, 100 and 1,000 sites (10 groups each, the
sites chosen at random), and requests each page's HTML and JSON through the real
application (in process, Starlette's TestClient) with the view cache off, so that every
request reads the database and draws the page; one request at a time. For each page:
p50 / p99, and the statements one read sends (counted at psycopg's cursor): the same
whatever the number of sites; and the CPU a request cost, this process's (the application
and the test client: an upper bound of the application's) and PostgreSQL's backends',
which a busy machine moves far less than the latencies. The page of 10 sites is the
baseline, in the same run. Then
the big page as it is served: the view cache on (fresh 15 s, then refreshed behind the
readers), each view drawn once.

    .venv/bin/python -m bench.bench_status_page [--requests 200] [--sites 100000]
"""

from __future__ import annotations

import argparse
import random
import time
from functools import partial

from fastapi.testclient import TestClient

from bench.bench_api import load_history, make_key
from bench.bench_dashboard import figures, latencies, with_cpu
from bench.common import bench_env, report, services
from tests.support.statements import CountedStatements
from webmon.api.app import create_app
from webmon.api.settings import ApiSettings
from webmon.core.status_pages import QUERIES as STATUS_QUERIES

SIZES = (10, 100, 1000)
GROUPS = 10


# The statements a page's read may send: webmon.core.status_pages's.
OURS = frozenset(STATUS_QUERIES.values())


def make_pages(client: TestClient, key: str, sites: int) -> None:
    rng = random.Random(26)
    for size in SIZES:
        chosen = rng.sample(range(1, sites + 1), size)
        per = size // GROUPS
        groups = [{"name": f"Group {g}", "site_ids": chosen[g * per:(g + 1) * per]}
                  for g in range(GROUPS)]  # fmt: skip
        page = {"slug": f"p{size}", "title": f"{size} sites", "groups": groups}
        headers = {"Authorization": f"Bearer {key}"}
        made = client.post("/api/v1/status-pages", headers=headers, json=page)
        if made.status_code != 201:
            raise SystemExit(f"the page of {size} sites was refused: {made.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sites", type=int, default=100_000)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with services() as (server, bootstrap), bench_env(server, bootstrap) as env:
        load_history(env.database_url, args.sites)
        key = make_key(env.database_url)
        settings = ApiSettings(_env_file=None, database_url=env.database_url)  # type: ignore[call-arg,arg-type]
        with TestClient(create_app(settings)) as client:
            make_pages(client, key, args.sites)
            views = client.app.state.core.status_views  # type: ignore[attr-defined]
            views.ttl = 0.0
            for size in SIZES:
                client.get(f"/status/p{size}")  # (the pool's first connections checked)
                with CountedStatements(OURS) as counted:
                    client.get(f"/status/p{size}")
                rows.append((f"statements per read, {size} sites", str(counted.count)))
            for size in SIZES:
                label = "baseline: " if size == SIZES[0] else ""
                for path in (f"/status/p{size}", f"/status/p{size}.json"):
                    took, cpu = with_cpu(
                        env.database_url, time.process_time,
                        partial(latencies, client, [path], args.requests),  # type: ignore[arg-type]
                    )  # fmt: skip
                    rows.append((f"{label}GET {path} ({size} sites, {GROUPS} groups)",
                                 f"{figures(took)}; {cpu}"))  # fmt: skip
            views.ttl = 15.0  # as served: fresh 15 s, then refreshed behind the readers
            for path in (f"/status/p{SIZES[-1]}", f"/status/p{SIZES[-1]}.json"):
                client.get(path)
                served = latencies(client, [path], args.requests)  # type: ignore[arg-type]
                rows.append((f"GET {path}, as served (view cache on)", figures(served)))
    report(f"Status pages: {args.sites:,} sites, one request at a time, view cache off", rows)


if __name__ == "__main__":
    main()
