"""Local receivers for the notifier's tests: an HTTP server that records what it is sent
(webhook, Slack, Discord, Telegram and ntfy alike) and can fail or answer slowly, a TCP
listener that only counts connections, and a scripted HTTP target for checks. All bind
loopback addresses only.

    with Receiver() as r:                 # http://127.0.0.1:PORT
        r.url("/hook")
        r.fail_until(time.monotonic() + 60)  # 500 until then
        r.requests                        # list of Received, in arrival order
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.support.aioserver import LoopServer


@dataclass(frozen=True)
class Received:
    at: float  # time.time()
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    method: str = "GET"

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver(LoopServer):
    def __init__(self, host: str = "127.0.0.1", delay_s: float = 0.0) -> None:
        super().__init__(host)
        self.delay_s = delay_s
        self._fail_until = 0.0
        self._lock = threading.Lock()
        self._requests: list[Received] = []

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = 500 if time.monotonic() < self._fail_until else 200
        with self._lock:
            self._requests.append(
                Received(
                    time.time(),
                    request.path_qs,
                    dict(request.headers),
                    body,
                    status,
                    request.method,
                )
            )
        return web.Response(status=status, text="ok" if status == 200 else "failing")

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def fail_until(self, monotonic_deadline: float) -> None:
        self._fail_until = monotonic_deadline

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def accepted(self, path: str | None = None) -> list[Received]:
        """The requests answered 200 (on `path`, if given)."""
        return [r for r in self.requests if r.answered == 200 and (path is None or r.path == path)]


class ConnectionCounter:
    """A TCP listener that accepts, counts and closes: whether anything connected at all."""

    def __init__(self, host: str) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()


class ScriptedTarget(LoopServer):
    """An HTTP target whose n-th request (from 1) is answered with `statuses[n - 1]`, and
    200 after the script ends; `answered` counts requests."""

    def __init__(self, statuses: list[int]) -> None:
        super().__init__()
        self._statuses = statuses
        self.answered = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.answered += 1
        n = self.answered
        status = self._statuses[n - 1] if n <= len(self._statuses) else 200
        return web.Response(status=status, text=f"check {n}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"
