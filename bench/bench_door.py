"""What the API's two security middlewares cost a request, without a database or a network.

The door (`webmon.api.door`: the key looked up before the body, the body's cap) and the
security headers (`webmon.api.headers`) wrap every request of the API process. This runs
one ASGI request at a time through each of: a bare answering app, the app behind the
headers, and behind the door and the headers (the key found in the core's key cache, as
on a busy API), and prints the time each takes, and the cost the two add per request.
The figures are this machine's CPU time per request: the API's own figures, with
PostgreSQL, are bench/bench_api.py's.

    .venv/bin/python -m bench.bench_door [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.common import report
from webmon.api.door import Door
from webmon.api.headers import SecurityHeaders
from webmon.core.actors import Scope as KeyScope
from webmon.core.actors import api_key
from webmon.core.keys import Keys, key_hash

KEY = "wm_bench-key"
BODY = b'[{"id": 1}]'


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    """A route's answer: its body read, a small JSON body sent."""
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": BODY})


class CachedKeys(Keys):
    """The core's keys with the bench's key in their cache, listening (no database)."""

    def __init__(self) -> None:
        super().__init__(db=None)  # type: ignore[arg-type]
        self._listening = True
        self._cache[key_hash(KEY)] = (api_key(1, KeyScope.READ, "bench"), time.monotonic())


class Core:
    keys = CachedKeys()


def request_scope() -> Scope:
    return {
        "type": "http", "method": "GET", "path": "/api/v1/sites", "scheme": "http",
        "headers": [(b"authorization", f"Bearer {KEY}".encode()), (b"host", b"127.0.0.1")],
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
    }  # fmt: skip


async def per_request_s(app: ASGIApp, requests: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    started = time.perf_counter()
    for _ in range(requests):
        await app(request_scope(), receive, send)
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    door: Any = {
        "core": Core(), "max_body": 1 << 20, "max_bulk_body": 1 << 24,
        "bulk_paths": ("/api/v1/sites/bulk",), "open_paths": ("/api/v1/openapi.json",),
    }  # fmt: skip
    apps: dict[str, ASGIApp] = {
        "a bare app": answer,
        "behind the headers": SecurityHeaders(answer, static_prefix="/static"),
        "behind the door and the headers": Door(
            SecurityHeaders(answer, static_prefix="/static"), **door
        ),
    }
    times: dict[str, float] = {}
    for _ in range(2):  # the first round warms up; the second is reported
        for name, app in apps.items():
            times[name] = asyncio.run(per_request_s(app, args.requests))
    rows = [(name, f"{seconds * 1e6:.2f} µs a request") for name, seconds in times.items()]
    added = times["behind the door and the headers"] - times["a bare app"]
    rows.append(("the two add", f"{added * 1e6:.2f} µs a request"))
    report(f"The API's security middlewares, {args.requests:,} requests each", rows)


if __name__ == "__main__":
    main()
