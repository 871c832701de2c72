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


async def _shutdown(runner: web.AppRunner | None) -> None:
    """Stop serving, and end the handlers still running (a slow answer's sleep)."""
    if runner is not None:
        await runner.cleanup()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True)
class Received:
    at: float  # time.time()
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    def __init__(self, host: str = "127.0.0.1", delay_s: float = 0.0) -> None:
        self.host = host
        self.port = 0
        self.delay_s = delay_s
        self._fail_until = 0.0
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(_shutdown(self._runner), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = 500 if time.monotonic() < self._fail_until else 200
        with self._lock:
            self._requests.append(
                Received(time.time(), request.path_qs, dict(request.headers), body, status)
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


class ScriptedTarget:
    """An HTTP target whose n-th request (from 1) is answered with `statuses[n - 1]`, and
    200 after the script ends; `answered` counts requests."""

    def __init__(self, statuses: list[int]) -> None:
        self._statuses = statuses
        self.answered = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> ScriptedTarget:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(_shutdown(self._runner), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _handle(self, request: web.Request) -> web.Response:
        self.answered += 1
        n = self.answered
        status = self._statuses[n - 1] if n <= len(self._statuses) else 200
        return web.Response(status=status, text=f"check {n}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"
