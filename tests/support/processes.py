"""Running webmon's real processes in tests, and waiting for conditions with a deadline.

Processes log JSON (`WEBMON_LOG_FORMAT=json`): a test asks whether an event was logged
(`logged`) and reads a loop's totals from its stop summary (`summary`), never a line's text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Every process a test starts logs JSON, so that its events and summaries can be read.
JSON_LOGS = {"WEBMON_LOG_FORMAT": "json"}


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail the test when the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what or condition}")
        time.sleep(0.05)


class Process:
    """`python -m <module>` with the test's variables, its output in a log file. `prefix`
    goes before the command (`ip netns exec NS`, tests.support.netns); it must exec python
    itself, so that the pid is python's and a signal reaches it."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log_dir: Path,
        name: str,
        prefix: Sequence[str] = (),
    ) -> None:
        self.name = name
        self._signalled_at: float | None = None
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", module],
                env={**os.environ, **JSON_LOGS, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """The JSON lines logged so far (those of one event, if given)."""
        lines = []
        for text in self.output.splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue  # a traceback from a crash, say
            if isinstance(line, dict) and (event is None or line.get("event") == event):
                lines.append(line)
        return lines

    def logged(self, event: str) -> bool:
        return bool(self.events(event))

    def summary(self, event: str) -> dict[str, Any]:
        """The fields of the last stop summary `event` (e.g. "probe.stopped")."""
        lines = self.events(event)
        assert lines, f"{self.name} logged no {event}:\n{self.output[-3000:]}"
        fields = lines[-1].get("fields")
        assert isinstance(fields, dict), lines[-1]
        return fields

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
            stacks = self.dump_stacks()
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"{self.name} did not stop within {timeout_s}s; its threads:\n{stacks}"
            ) from None
        return code, time.monotonic() - started

    def dump_stacks(self, timeout_s: float = 5.0) -> str:
        """SIGUSR1 (shared.lifecycle: every thread's stack on stderr); return the dump, or
        the output's tail when none came within the timeout."""
        start = len(self.output)
        self.proc.send_signal(signal.SIGUSR1)
        seen = [-1]

        def dumped() -> bool:
            # The handler writes every thread in one go: done once the dump stops growing.
            text = self.output[start:]
            done = "most recent call first" in text and len(text) == seen[0]
            seen[0] = len(text)
            return done

        try:
            wait_for(dumped, timeout_s=timeout_s, what="a stack dump")
        except AssertionError:
            pass
        return self.output[start:][-12000:] or self.output[-3000:]

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
