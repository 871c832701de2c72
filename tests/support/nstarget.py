"""The HTTP target of the region tests, run inside the target's network namespace.

    python -m tests.support.nstarget HOST PORT

Answers every request with 200 "ok" (`/status/<code>`: that status), then closes the
connection (SIGTERM ends it). Plain asyncio, no framework: the region tests send it a few
hundred checks a second from three namespaces and it must not be what limits them.
It prints one line, `ready`, once it listens, and stops when its standard input closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys

from tests.support.relay import stdin_closed

HEAD_LIMIT = 65_536
REQUEST_TIMEOUT_S = 10.0
REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r?$")
STATUS_PATH = re.compile(r"^/status/([1-5][0-9][0-9])$")


def answer(request_line: bytes) -> bytes:
    match = REQUEST_LINE.match(request_line)
    if match is None:
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    method, target = match[1], match[2].decode("latin-1")
    status = STATUS_PATH.match(target.split("?")[0])
    code = int(status[1]) if status else 200
    body = b"" if method == b"HEAD" else b"ok\n"
    head = f"HTTP/1.1 {code} X\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"
    return head.encode() + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(
        ConnectionError,
        OSError,
        TimeoutError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
    ):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
        writer.write(answer(head.split(b"\n", 1)[0]))
        await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()
        await writer.wait_closed()


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(
        handle, host, port, limit=HEAD_LIMIT, reuse_address=True, backlog=1024
    )
    print("ready", flush=True)
    await stdin_closed()
    server.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
