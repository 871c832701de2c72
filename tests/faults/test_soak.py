"""A long soak with hostile targets mixed in (issue 6, item 7). Not part of `make test`:

    .venv/bin/pytest -m soak -s tests/faults/test_soak.py    # 10 minutes
    WEBMON_SOAK_SECONDS=120 .venv/bin/pytest -m soak -s ...   # a shorter run

Bounds: each process's RSS grows by less than SOAK_RSS_GROWTH_MB after the first minute
and stays under RSS_BOUND_MB; the p99 lateness of healthy checks (checked_at minus the
slot) stays under SOAK_P99_LATENESS_S once the first 30 s (group joins) are past.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devstack.localstack import free_port
from tests.support.db import add_sites
from tests.support.fleet import RSS_BOUND_MB, Fleet
from tests.support.targets import Targets

pytestmark = [
    pytest.mark.integration,
    pytest.mark.soak,
    pytest.mark.timeout(float(os.environ.get("WEBMON_SOAK_SECONDS", "600")) + 600),
]

SOAK_RSS_GROWTH_MB = 40.0
SOAK_P99_LATENESS_S = 2.0
SAMPLE_EVERY_S = 10.0


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match[1]) / 1024 if match else 0.0


def test_soak_with_hostile_targets(
    fleet: Fleet, targets: Targets, db: psycopg.Connection[Any]
) -> None:
    seconds = float(os.environ.get("WEBMON_SOAK_SECONDS", "600"))
    add_sites(db, 1500, url=targets.url("/ok"), interval=15, timeout=5, spread=True)
    add_sites(db, 300, url=targets.url("/delay?ms=300"), interval=20, timeout=5, spread=True)
    for path, count in (
        ("/drip", 20),
        ("/gzip-bomb", 10),
        ("/big?mb=100&match=end", 10),
        ("/hang", 20),
        ("/garbage", 20),
        ("/slow-headers?seconds=8", 20),
        ("/redirect/3", 20),
    ):
        add_sites(db, count, url=targets.url(path), interval=30, timeout=5, spread=True)
    add_sites(
        db, 20, url=f"http://127.0.0.1:{free_port()}/refused", interval=30, timeout=5, spread=True
    )

    checkers = [fleet.checker(f"checker-{i}") for i in (1, 2)]
    fleet.wait_joined(*checkers)
    scheduler = fleet.scheduler()
    warm = db.execute("SELECT now() + interval '30 seconds'").fetchone()
    assert warm is not None
    processes = [scheduler, *checkers]
    samples: dict[str, list[float]] = {p.name: [] for p in processes}
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for p in processes:
            assert p.proc.poll() is None, f"{p.name} died:\n{p.output[-3000:]}"
            samples[p.name].append(rss_mb(p.proc.pid))
        time.sleep(SAMPLE_EVERY_S)  # sampling cadence, not synchronisation
    fleet.stop(scheduler)
    for c in checkers:
        fleet.stop(c)

    lateness = db.execute(
        """
        SELECT percentile_cont(0.99) WITHIN GROUP (
                   ORDER BY extract(epoch FROM checked_at - scheduled_at)),
               count(*)
          FROM check_results r JOIN sites s ON s.id = r.site_id
         WHERE s.url LIKE %s AND r.scheduled_at > %s
        """,
        (targets.url("/ok") + "%", warm[0]),
    ).fetchone()
    assert lateness is not None
    p99, healthy_checks = lateness
    print(f"SOAK {seconds:.0f}s: healthy checks={healthy_checks} p99 lateness={p99:.3f}s")
    for name, values in samples.items():
        settled = values[min(6, len(values) - 1)]
        print(f"  {name}: RSS after 1 min {settled:.0f} MB, max {max(values):.0f} MB")
        assert max(values) < RSS_BOUND_MB, (name, values)
        assert max(values) - settled < SOAK_RSS_GROWTH_MB, (name, values)
    assert p99 < SOAK_P99_LATENESS_S
    assert healthy_checks >= 1500 * ((seconds - 30) / 15) * 0.9
