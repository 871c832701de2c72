"""`make run` stops what it started whatever ends it: a crash after the processes started
(once, the first login link failed) must not leave a scheduler, checkers, the API or the
embedded stack running behind it."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from devstack import run


def test_a_crash_after_the_processes_started_stops_them(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeper: list[subprocess.Popen[bytes]] = []

    def crashing(
        args: Any, stop: threading.Event, env: dict[str, str], local: bool, started: run.Started
    ) -> int:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        sleeper.append(proc)
        started.children.append(("checker", proc))
        raise RuntimeError("the first login link failed")

    monkeypatch.setattr(run, "configured_services", lambda: True)  # no embedded stack here
    monkeypatch.setattr(run, "install_stop_handlers", lambda stop: None)
    monkeypatch.setattr(run, "run_system", crashing)
    with pytest.raises(RuntimeError, match="login link"):
        run.main(["--no-demo"])
    [proc] = sleeper
    assert proc.poll() is not None  # stopped (SIGTERM), not left running


def test_a_failure_on_the_way_stops_the_stack_it_started(monkeypatch: pytest.MonkeyPatch) -> None:
    downs: list[str] = []

    class Stack:
        def status(self) -> dict[str, Any]:
            class Down:
                running = False

            return {"postgres": Down(), "kafka": Down()}

        def up(self) -> None:
            pass

        def down(self) -> None:
            downs.append("down")

        database_url = "postgresql://nowhere/x"
        kafka_bootstrap = "127.0.0.1:1"

    monkeypatch.setattr(run, "configured_services", lambda: False)
    monkeypatch.setattr(run.LocalStack, "from_env", classmethod(lambda cls: Stack()))
    monkeypatch.setattr(run, "install_stop_handlers", lambda stop: None)
    monkeypatch.setattr(run, "run_system", lambda *a: 1)  # say, the migrations failed
    assert run.main(["--no-demo"]) == 1
    assert downs == ["down"]
