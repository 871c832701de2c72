"""Prometheus' blackbox_exporter as a child process on a free loopback port: the reference
prober of bench/blackbox_compare.py (its speed) and bench/blackbox_verdicts.py (its
verdicts). Installed with `apt-get install prometheus-blackbox-exporter`."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from devstack.localstack import free_port

BLACKBOX = "prometheus-blackbox-exporter"


class BlackboxProcess:
    """blackbox_exporter with `config`, answering; `base` is its URL. `start` runs it."""

    def __init__(self, proc: subprocess.Popen[bytes], base: str) -> None:
        self.proc, self.base = proc, base

    @classmethod
    def start(cls, binary: str, config: Path, log: Path, env: dict[str, str] | None = None) -> Self:
        port = free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=out, stderr=out, env={**os.environ, **(env or {})},
            )  # fmt: skip
        started = cls(proc, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return started
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    started.stop()
                    why = log.read_text()
                    raise SystemExit(f"blackbox_exporter did not start: {why}") from None
                time.sleep(0.05)  # polling the port until it answers, under a deadline

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
