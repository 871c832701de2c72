"""A byte relay between TCP and UNIX sockets, so that a process in a network namespace
reaches a service on the root namespace's loopback without any address outside loopback.

    python -m tests.support.relay LISTEN=CONNECT [LISTEN=CONNECT ...]

Each side is `tcp:HOST:PORT` or `unix:PATH`. For every connection accepted on LISTEN, a
connection is opened to CONNECT and bytes are copied both ways until either side closes,
then both are closed. `tests.support.netns` runs one in the root namespace
(`unix:/…/pg.sock=tcp:127.0.0.1:5432`) and one in each region's namespace
(`tcp:127.0.0.1:5432=unix:/…/pg.sock`): a socket path is reachable from every network
namespace, so the namespace's 127.0.0.1:5432 leads to the root's, and the addresses a
client is told (the broker's advertised listener, the database URL) work unchanged.

It prints one line, `ready`, once every listener is up; it stops on SIGTERM or SIGINT, or
when its standard input closes (the test process that started it is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from typing import Literal

CHUNK = 65_536
# A connection to CONNECT that is not up by then is given up (the client sees a close).
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Endpoint:
    kind: Literal["tcp", "unix"]
    address: str  # host, or the socket's path
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        kind, _, rest = text.partition(":")
        if kind == "unix" and rest:
            return cls("unix", rest)
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            if host and port.isdigit():
                return cls("tcp", host.strip("[]"), int(port))
        raise ValueError(f"not tcp:HOST:PORT or unix:PATH: {text!r}")

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.kind == "unix":
            opening = asyncio.open_unix_connection(self.address, limit=CHUNK)
        else:
            opening = asyncio.open_connection(self.address, self.port, limit=CHUNK)
        return await asyncio.wait_for(opening, CONNECT_TIMEOUT_S)

    async def serve(self, target: Endpoint) -> asyncio.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await relay(reader, writer, target)

        if self.kind == "unix":
            return await asyncio.start_unix_server(handle, self.address, limit=CHUNK)
        return await asyncio.start_server(
            handle, self.address, self.port, limit=CHUNK, reuse_address=True
        )


async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()


async def relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: Endpoint
) -> None:
    """One accepted connection: copy both ways until either side is done, then close both
    (neither PostgreSQL's protocol nor Kafka's half-closes a connection)."""
    try:
        up_reader, up_writer = await target.connect()
    except (OSError, TimeoutError):
        writer.close()
        return
    directions = [
        asyncio.create_task(copy(reader, up_writer)),
        asyncio.create_task(copy(up_reader, writer)),
    ]
    try:
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in directions:
            task.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
        for w in (writer, up_writer):
            w.close()
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()


async def stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(CHUNK):
        pass


async def main(pairs: list[tuple[Endpoint, Endpoint]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = [await listen.serve(target) for listen, target in pairs]
    print("ready", flush=True)
    watchers = [asyncio.create_task(stop.wait()), asyncio.create_task(stdin_closed())]
    await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
    for task in watchers:
        task.cancel()
    for server in servers:
        server.close()


def parse_pairs(args: list[str]) -> list[tuple[Endpoint, Endpoint]]:
    pairs = []
    for arg in args:
        listen, sep, target = arg.partition("=")
        if not sep:
            raise ValueError(f"not LISTEN=CONNECT: {arg!r}")
        pairs.append((Endpoint.parse(listen), Endpoint.parse(target)))
    return pairs


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    asyncio.run(main(parse_pairs(sys.argv[1:])))
