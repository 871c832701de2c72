"""Running webmon's real processes in tests, and waiting for conditions with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail the test when the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what or condition}")
        time.sleep(0.05)


class Process:
    """`python -m <module>` with the test's variables, its output in a log file."""

    def __init__(self, module: str, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.name = name
        self._signalled_at: float | None = None
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged(self, text: str) -> bool:
        return text in self.output

    def signal_stop(self) -> None:
        """SIGTERM without waiting (`stop()` then waits and times from this moment)."""
        if self._signalled_at is None and self.proc.poll() is None:
            self._signalled_at = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)  # once: a second one could land mid-exit

    def stop(self, timeout_s: float = 20.0) -> tuple[int, float]:
        """SIGTERM; return (exit status, seconds since the signal)."""
        self.signal_stop()
        started = self._signalled_at or time.monotonic()
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout_s}s") from None
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.kill()


# Short loop cadences so that tests see results within a second or two.
FAST_LOOPS = {
    "WEBMON_TICK_SECONDS": "0.2",
    "WEBMON_WRITER_BATCH_AGE_S": "0.2",
    "WEBMON_LOG_LEVEL": "INFO",
}


def start(
    processes: list[Process], module: str, env: dict[str, str], name: str, log_dir: Path
) -> Process:
    """Start `python -m module` with fast loops; the `processes` fixture reaps it."""
    p = Process(module, {**env, **FAST_LOOPS}, log_dir, name)
    processes.append(p)
    return p
