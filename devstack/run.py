"""`make run`: the whole system on one machine, watching a demo server, with a live table.

Starts the embedded stack unless WEBMON_DATABASE_URL and WEBMON_KAFKA_BOOTSTRAP_SERVERS
are configured, migrates, registers the demo sites when `sites` is empty, starts one
scheduler, two checker replicas, a notifier and the API with its dashboard, prints a
one-time login link for the dashboard, and prints `site_status` every few seconds.

The demo server's address is added to WEBMON_ALLOWED_NETWORKS for the processes it starts,
so that the demo's own URLs can be checked from the dashboard's "Test a URL" page and the
API; every other internal address stays blocked. While the embedded stack runs, `webmon …`
from this folder finds it through `.state/local.env` (see shared/settings.py).

Ctrl-C (or SIGTERM) stops everything it started, and it exits 0 (under `make run`, make
itself then reports the interrupt: exit status 130).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich import box
from rich.live import Live
from rich.table import Table
from rich.text import Text

from checker.settings import DEFAULT_CHECKER_METRICS_PORT
from devstack.demo import DEFAULT_DEMO_PORT, DemoServer, demo_sites
from devstack.localstack import LocalStack, LocalStackError, configured_services
from migrations.runner import main as migrate_main
from notifier.settings import DEFAULT_NOTIFIER_METRICS_PORT
from scheduler.settings import DEFAULT_SCHEDULER_METRICS_PORT
from shared.db import Connection, connect
from shared.lifecycle import install_stop_handlers
from shared.netpolicy import TargetPolicy
from shared.sealing import KEY_VARIABLE
from shared.settings import TargetPolicySettings, load_settings
from webmon.api.settings import ApiSettings
from webmon.core import OPERATOR, Core, opened

PROGRAM = "webmon-run"
DASHBOARD_USER = "admin"
REFRESH_S = 3.0
CHILD_STOP_TIMEOUT_S = 15.0
API_READY_TIMEOUT_S = 30.0

DEMO_HOST = "127.0.0.1"
ALLOWED_VARIABLE = "WEBMON_ALLOWED_NETWORKS"

STATUS_SQL = """
SELECT s.id, s.url, st.up, st.status_code, st.response_time_ms, st.regex_matched, st.error,
       st.checked_at
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
 WHERE s.enabled
 ORDER BY s.id
 LIMIT 40
"""


def _say(message: str) -> None:
    print(f"{PROGRAM}: {message}", flush=True)


COLUMNS = ("id", "state", "code", "ms", "regex", "error", "age", "url")
RIGHT_ALIGNED = {"id", "code", "ms", "age"}


def status_cells(rows: list[tuple[object, ...]], now: datetime) -> list[list[str]]:
    """The table's cells, one list per site, in COLUMNS' order."""
    cells = []
    for site_id, url, up, code, ms, matched, error, checked_at in rows:
        state = "-" if up is None else ("UP" if up else "DOWN")
        age = "-"
        if isinstance(checked_at, datetime):
            age = f"{(now - checked_at).total_seconds():.0f}s"
        millis = f"{ms:.1f}" if isinstance(ms, float) else "-"
        regex = "-" if matched is None else ("match" if matched else "no match")
        cells.append(
            [str(site_id), state, str(code or "-"), millis, regex, str(error or ""), age, str(url)]
        )
    return cells


def status_table(rows: list[tuple[object, ...]], now: datetime) -> str:
    """Plain text, for a log or a pipe: a header, a rule and a line per site."""
    cells = status_cells(rows, now)
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(COLUMNS)]

    def line(values: list[str] | tuple[str, ...]) -> str:
        out = [
            v.rjust(w) if c in RIGHT_ALIGNED else v.ljust(w)
            for c, v, w in zip(COLUMNS, values, widths, strict=True)
        ]
        return "  ".join(out).rstrip()

    header = line(COLUMNS)
    return "\n".join([header, "-" * len(header), *(line(r) for r in cells)])


def rich_table(rows: list[tuple[object, ...]], now: datetime, title: str) -> Table:
    """The same table for a terminal, redrawn in place: state in words and colour."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in COLUMNS:
        # A narrow terminal folds a long URL onto the next line rather than cutting it.
        if column == "url":
            table.add_column(column, overflow="fold")
        else:
            table.add_column(column, justify="right" if column in RIGHT_ALIGNED else "left")
    styles = {"UP": "bold green", "DOWN": "bold red"}
    for cells in status_cells(rows, now):
        state = cells[1]
        table.add_row(*cells[:1], Text(state, style=styles.get(state, "")), *cells[2:])
    return table


def register_demo_sites(conn: Connection, port: int) -> int:
    row = conn.execute("SELECT count(*) FROM sites").fetchone()
    if row and int(str(row[0])) > 0:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, regex, next_check_at) "
            "VALUES (%s, %s, %s, %s, now())",
            demo_sites(port),
        )
    return len(demo_sites(port))


def start_children(env: dict[str, str], log_dir: Path) -> list[tuple[str, subprocess.Popen[bytes]]]:
    children = []
    # Each process its own metrics port (unless WEBMON_METRICS_PORT says otherwise).
    # (The API serves its metrics on its own port, at /metrics.)
    for name, module, metrics_port in (
        ("scheduler", "scheduler", DEFAULT_SCHEDULER_METRICS_PORT),
        ("checker-1", "checker", DEFAULT_CHECKER_METRICS_PORT),
        ("checker-2", "checker", DEFAULT_CHECKER_METRICS_PORT + 1),
        ("notifier", "notifier", DEFAULT_NOTIFIER_METRICS_PORT),  # idle until a channel exists
        ("api", "webmon.api", 0),
    ):
        log = open(log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env={"WEBMON_METRICS_PORT": str(metrics_port), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
        )
        log.close()
        children.append((name, proc))
    return children


async def first_login_link(database_url: str) -> str:
    """A one-time login path for the first user, whom it makes when there is none."""
    core = Core.for_url(database_url, policy=TargetPolicy.default(), pool_size=1, name=PROGRAM)
    async with opened(core):
        await core.users.ensure_one(OPERATOR, DASHBOARD_USER)
        return await core.users.login_link(OPERATOR, DASHBOARD_USER)


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it lies under it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def allow_demo_address(env: dict[str, str]) -> str:
    """Add the demo server's address to the allowed networks of the processes we start
    (keeping what is configured); returns the value they get."""
    configured = load_settings(TargetPolicySettings, PROGRAM).allowed_networks
    demo = f"{DEMO_HOST}/32"
    value = ",".join(configured if demo in configured else (*configured, demo))
    env[ALLOWED_VARIABLE] = value
    return value


def wait_until_answering(api: subprocess.Popen[bytes], stop: threading.Event) -> bool:
    """Wait until the API answers /healthz (so the login link works when it is printed),
    it exited, a stop was asked for, or the deadline passed; whether it answers."""
    settings = load_settings(ApiSettings, PROGRAM)
    url = f"http://{settings.api_host}:{settings.api_port}/healthz"
    deadline = time.monotonic() + API_READY_TIMEOUT_S
    while time.monotonic() < deadline and api.poll() is None and not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (503: PostgreSQL not reachable, said on its page)
        except OSError:
            stop.wait(0.1)
    return False


def dashboard_line(database_url: str) -> str:
    """Where the dashboard is, with a one-time login link for its first user."""
    api = load_settings(ApiSettings, PROGRAM)
    base = f"http://{api.api_host}:{api.api_port}"
    if not api.dashboard:
        return f"the API listens on {base} (WEBMON_DASHBOARD=false: no dashboard)"
    path = asyncio.run(first_login_link(database_url))
    return (
        f"the dashboard: {base}{path} (a login link for {DASHBOARD_USER!r}, once, within "
        f"an hour; `webmon users add {DASHBOARD_USER}` sets a password)"
    )


def stop_children(children: list[tuple[str, subprocess.Popen[bytes]]]) -> bool:
    for _, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    clean = True
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT_S
    for name, proc in children:
        try:
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if code != 0:
            clean = False
            _say(f"{name} exited with status {code}")
    return clean


@dataclass
class Started:
    """What `make run` started after the stack: stopped whatever happens."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    demo: DemoServer | None = None


def run_system(
    args: argparse.Namespace,
    stop: threading.Event,
    env: dict[str, str],
    local_stack: bool,
    started: Started,
) -> int:
    """Migrate, start the demo server and the processes, and show the live table until a
    stop; the exit status. What it starts goes into `started`."""
    if not env.get(KEY_VARIABLE):  # the API seals sites' auth with it, the checkers open it
        try:
            env[KEY_VARIABLE] = LocalStack.from_env().secret_key
        except (LocalStackError, OSError) as exc:
            _say(f"cannot keep a {KEY_VARIABLE} in the state dir: {exc}")
            return 1
    os.environ.update(env)
    if migrate_main([]) != 0:
        return 1

    demo = None
    if not args.no_demo:
        demo = DemoServer(args.demo_port)
        try:
            demo.start()
        except OSError as exc:
            _say(f"demo server cannot listen on 127.0.0.1:{args.demo_port}: {exc.strerror}")
            return 1
        started.demo = demo
    url = env["WEBMON_DATABASE_URL"]
    with connect(url, autocommit=True, application_name=PROGRAM) as conn:
        added = register_demo_sites(conn, args.demo_port) if demo else 0
    if added:
        _say(f"registered {added} demo sites on http://{DEMO_HOST}:{args.demo_port}")
    if demo is not None:
        allowed = allow_demo_address(env)
        _say(
            f"the dashboard's and the API's checks may reach the demo server's address, "
            f"{DEMO_HOST} ({ALLOWED_VARIABLE}={allowed}); every other internal address "
            "stays blocked"
        )

    log_dir = Path(os.environ.get("WEBMON_LOCAL_STATE_DIR", ".state")) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = started.children = start_children(env, log_dir)
    _say(f"started 1 scheduler, 2 checkers, a notifier and the API (logs in {log_dir}/)")
    api = dict(children)["api"]
    if not wait_until_answering(api, stop):
        _say(f"the API did not answer within {API_READY_TIMEOUT_S:g} s; see {log_dir}/api.log")
    _say(dashboard_line(url))
    if local_stack:
        _say(
            "in another terminal, from this folder: .venv/bin/webmon status (it reads the "
            f"local stack's settings from {_shown(LocalStack.from_env().env_file)})"
        )
    clean = True
    live = Live(auto_refresh=False, transient=False) if sys.stdout.isatty() else None
    try:
        with connect(url, autocommit=True, application_name=PROGRAM) as conn:
            if live is not None:
                live.start()
            while not stop.is_set():
                rows = conn.execute(STATUS_SQL).fetchall()
                now = datetime.now(UTC)
                title = f"webmon  {now:%H:%M:%S} UTC  (Ctrl-C stops everything)"
                if live is not None:
                    live.update(rich_table(rows, now, title), refresh=True)
                else:
                    print(f"{title}\n{status_table(rows, now)}\n", flush=True)
                for name, proc in children:
                    if proc.poll() is not None:
                        _say(
                            f"{name} exited with status {proc.returncode}; see {log_dir}/{name}.log"
                        )
                        stop.set()
                        clean = False
                stop.wait(REFRESH_S)
    finally:
        if live is not None:
            live.stop()
    return 0 if clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.add_argument(
        "--demo-port", type=int, default=int(os.environ.get("WEBMON_DEMO_PORT", DEFAULT_DEMO_PORT))
    )
    parser.add_argument("--no-demo", action="store_true", help="do not start the demo server")
    args = parser.parse_args(argv)

    stop = threading.Event()
    install_stop_handlers(stop)
    env = dict(os.environ)
    stack: LocalStack | None = None
    was_local = False  # the embedded stack, already running (`make up`): not ours to stop
    try:
        if not configured_services():
            stack = LocalStack.from_env()
            was_running = stack.status()["postgres"].running and stack.status()["kafka"].running
            stack.up()
            if was_running:
                stack, was_local = None, True
            local = LocalStack.from_env()
            env["WEBMON_DATABASE_URL"] = local.database_url
            env["WEBMON_KAFKA_BOOTSTRAP_SERVERS"] = local.kafka_bootstrap
    except LocalStackError as exc:
        _say(str(exc))
        return 1
    started = Started()
    code = 1
    try:  # a failure on the way (or a crash) still stops what was started
        code = run_system(args, stop, env, stack is not None or was_local, started)
    finally:
        _say("stopping")
        clean = stop_children(started.children)
        if started.demo is not None:
            started.demo.stop()
        if stack is not None:
            stack.down()
        _say("stopped")
    return code if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
