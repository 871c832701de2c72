"""The whole pipeline as a user runs it: real scheduler and checker processes against a
local target, and what reached check_results, slot by slot.

Shared by `bench_system` (short intervals, 100,000 sites) and `bench_failover` (kill -9 of
a checker). `--code DIR` runs the processes from another checkout (its own `.venv`), so
that an older version can be measured beside this one in the same session.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from bench.common import BenchEnv
from bench.http_engines import Servers


@dataclass
class Runner:
    """Starts `python -m <module>` from `code` (this checkout by default)."""

    env: BenchEnv
    log_dir: Path
    code: Path = Path(__file__).resolve().parents[1]
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, module: str, name: str, **extra: str) -> subprocess.Popen[bytes]:
        variables = {
            **os.environ,
            **self.env.variables(),
            "WEBMON_METRICS_PORT": "0",
            **extra,
        }
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [str(self.code / ".venv" / "bin" / "python"), "-m", module],
                cwd=self.code,
                env=variables,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        """Kill what is still running (a benchmark interrupted), before its services go."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def logged(self, name: str, text: str) -> bool:
        path = self.log_dir / f"{name}.log"
        return path.exists() and text in path.read_text(errors="replace")


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_until(condition: object, timeout_s: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Target:
    url: str
    name: str
    pids: tuple[int, ...]  # the roots of its processes, for the cost model


@contextmanager
def target() -> Iterator[Target]:
    """The local target: nginx where installed (`bench/nginx_target.py`), else a plain-HTTP
    Python server in processes of its own; a 2 KB page, a fresh connection per request."""
    from bench.nginx_target import nginx_target

    with nginx_target() as nginx:
        if nginx is not None:
            yield Target(nginx.url, "nginx (Debian's package)", (nginx.pid,))
            return
    import trustme

    workdir = Path(tempfile.mkdtemp(prefix="webmon-bench-target-"))
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(workdir / "server.pem"))
    with Servers(str(workdir / "server.pem")) as servers:
        yield Target(
            f"http://127.0.0.1:{servers.port}/",
            "bench/http_engines.py's Python server (nginx is not installed)",
            tuple(p.pid for p in servers.procs),
        )


def add_sites(db_url: str, url: str, count: int, interval: int) -> None:
    """`count` sites on `url`, their first slots spread evenly over one interval from now."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
            "SELECT %(url)s || '?n=' || g, %(interval)s, least(5, %(interval)s), "
            "       now() + interval '2 s' + (g %% %(count)s) * %(interval)s * interval '1 s' "
            "       / %(count)s "
            "  FROM generate_series(1, %(count)s) g",
            {"url": url, "count": count, "interval": interval},
        )
        conn.execute("VACUUM ANALYZE sites")


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds spent by anything on the machine (all cores, not idle or waiting)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def db_now(db_url: str) -> datetime:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Window:
    """What check_results holds for the slots of [start, end)."""

    due: int  # slots on the sites' grids in the window
    rows: int
    checked: int
    missed: int
    lateness_p50_s: float
    lateness_p99_s: float

    @property
    def performed_share(self) -> float:
        return self.checked / self.due if self.due else 0.0


# Slots due per site in [start, end): its grid is anchored at its first stored slot.
_DUE = """
WITH anchors AS (
    SELECT s.id, s.interval_seconds AS i,
           (SELECT min(scheduled_at) FROM check_results c WHERE c.site_id = s.id) AS a
      FROM sites s)
SELECT coalesce(sum(greatest(0,
           ceil(extract(epoch FROM %(end)s - a) / i)
         - ceil(greatest(0, extract(epoch FROM %(start)s - a)) / i))), 0)::bigint
  FROM anchors WHERE a IS NOT NULL
"""
_STORED = """
SELECT count(*), count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up IS NULL),
       count(DISTINCT (site_id, scheduled_at))
  FROM check_results WHERE scheduled_at >= %(start)s AND scheduled_at < %(end)s
"""
_LATENESS = """
SELECT extract(epoch FROM checked_at - scheduled_at)::float8 FROM check_results
 WHERE scheduled_at >= %(start)s AND scheduled_at < %(end)s AND up IS NOT NULL
"""


def window(db_url: str, start: datetime, end: datetime) -> Window:
    params = {"start": start, "end": end}
    with psycopg.connect(db_url, autocommit=True) as conn:
        due_row = conn.execute(_DUE, params).fetchone()
        stored = conn.execute(_STORED, params).fetchone()
        late = sorted(r[0] for r in conn.execute(_LATENESS, params).fetchall())
    assert due_row is not None and stored is not None
    rows, checked, missed, distinct = stored
    if distinct != rows:
        raise SystemExit(f"{rows - distinct} slots stored twice")
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else float("nan")
    return Window(
        due=int(due_row[0]),
        rows=rows,
        checked=checked,
        missed=missed,
        lateness_p50_s=statistics.median(late) if late else float("nan"),
        lateness_p99_s=p99,
    )
