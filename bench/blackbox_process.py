"""Prometheus' blackbox_exporter as a child process on a free loopback port: the reference
prober of bench/blackbox_compare.py (its speed) and bench/blackbox_verdicts.py (its
verdicts). Installed with `apt-get install prometheus-blackbox-exporter`."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

BLACKBOX = "prometheus-blackbox-exporter"


class BlackboxProcess:
    """blackbox_exporter with `config`, started and answering; `base` is its URL."""

    def __init__(
        self, binary: str, config: Path, log: Path, env: dict[str, str] | None = None
    ) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=out, stderr=out, env={**os.environ, **(env or {})},
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    why = log.read_text()
                    raise SystemExit(f"blackbox_exporter did not start: {why}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
