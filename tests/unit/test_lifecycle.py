"""The bounds on a stop (shared.lifecycle): a consumer's close that hangs is given up on,
a stop that overruns prints every thread's stack and exits 1, and SIGUSR1 prints the
stacks of a process that goes on running."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shared.lifecycle import close_consumers
from tests.support.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]


class HangingConsumer:
    """A consumer whose close waits until the test lets it go (a rebalance that never
    ends, as far as the caller can tell)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()

    def close(self) -> None:
        self.release.wait()
        self.closed.set()


class QuickConsumer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def close(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


def test_a_close_that_hangs_is_given_up_on_and_the_others_still_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hanging, quick = HangingConsumer(), QuickConsumer()
    consumers: dict[str, Any] = {"tasks": hanging, "ondemand-tasks": quick}
    with caplog.at_level(logging.WARNING, logger="shared.lifecycle"):
        started = time.monotonic()
        done = close_consumers(consumers, timeout_s=0.3)
        took = time.monotonic() - started
    try:
        assert done is False
        assert quick.calls == 1
        assert took < 5.0, took  # given up on at its deadline, not when the close ends
        overdue = [r.getMessage() for r in caplog.records if "close_overdue" in r.getMessage()]
        assert overdue == [
            "kafka.close_overdue consumer=tasks waited_s=0.3 (the group hands its partitions"
            " on after the session timeout)"
        ]
    finally:
        hanging.release.set()
    wait_for(hanging.closed.is_set, timeout_s=5, what="the abandoned close to end")


def test_closes_that_end_or_fail_count_as_done(caplog: pytest.LogCaptureFixture) -> None:
    ok, failing = QuickConsumer(), QuickConsumer(RuntimeError("Consumer closed"))
    consumers: dict[str, Any] = {"results": ok, "ondemand-results": failing}
    with caplog.at_level(logging.WARNING, logger="shared.lifecycle"):
        assert close_consumers(consumers, timeout_s=5) is True
    assert (ok.calls, failing.calls) == (1, 1)
    assert any(
        "kafka.close_failed consumer=ondemand-results" in r.getMessage() for r in caplog.records
    )


# A process that installs the stop handlers and the watchdog, then hangs however it is
# asked to stop (the watchdog's subject).
HANGS = """
import threading, time
from shared.lifecycle import install_stop_handlers, stop_watchdog
stop = threading.Event()
install_stop_handlers(stop)
stop_watchdog(stop, {bound}, "webmon-test")
print("ready", flush=True)
def stuck_in_a_library():
    while True:
        time.sleep(0.05)
stuck_in_a_library()
"""


def start(code: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "out.log"
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_for(lambda: "ready" in out.read_text(), timeout_s=30, what="the process to start")
    return proc, out


def test_a_stop_past_its_bound_prints_the_threads_and_exits_1(tmp_path: Path) -> None:
    proc, out = start(HANGS.format(bound=0.5), tmp_path)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text()
    assert "lifecycle.stop_overdue program=webmon-test bound_s=0.5" in text
    assert "in stuck_in_a_library" in text  # the stack says where it waited


def test_sigusr1_prints_the_threads_and_the_process_goes_on(tmp_path: Path) -> None:
    proc, out = start(HANGS.format(bound=60), tmp_path)
    try:
        proc.send_signal(signal.SIGUSR1)
        wait_for(
            lambda: "in stuck_in_a_library" in out.read_text(), timeout_s=10, what="the stacks"
        )
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
