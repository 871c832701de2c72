"""Which HTTP engine can do >= 1,000 fresh-connection checks/s per process (>= 500 over TLS)?

Run:  .venv/bin/python bench/http_engines.py [--seconds 2.5] [--rounds 2] [--concurrency 256]

What it does, in well under two minutes:

* Starts the target in SEPARATE processes: two workers of a minimal HTTP/1.1 responder
  (an asyncio Protocol on uvloop, one listening socket per worker shared through
  SO_REUSEPORT) that reads the request head, writes a fixed 2 KB page with
  `Connection: close` and closes. Plain and TLS listeners (a throwaway CA and a certificate
  for 127.0.0.1 made with `trustme` at run time). It is far cheaper per connection than
  the clients measured (it has no routing, no header parsing, no framework), and the
  script prints its CPU use next to every figure so one can see it is not the limit.
* Measures each engine x plain/TLS for N seconds with C concurrent workers, every request
  on a fresh connection, one shared SSL context per client, in 2 rounds of opposite order
  (the machine's speed drifts; the best round counts):
    1. httpx.AsyncClient shared, Limits(max_keepalive_connections=0, max_connections=None)
    2. aiohttp ClientSession, TCPConnector(force_close=True, limit=0)
    3. both again on uvloop
    4. the project's own `checker.probe.Prober.check` (whatever engine it uses), with a
       regex, on the default loop and on uvloop: the figure that matters in the end.
* Kills its servers and exits.

Needs (bench only, not runtime deps of webmon unless the probe uses them):
aiohttp, uvloop, trustme.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.messages import CheckTask

BODY = (b"<html><body>" + b"webmon benchmark page " * 92 + b"</body></html>\n")[:2048]
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BODY
)

# ----------------------------------------------------------------------------------------
# Target server (runs in child processes: `http_engines.py --serve ...`)


class _Responder(asyncio.Protocol):
    __slots__ = ("buf", "transport")

    def __init__(self) -> None:
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's SSL transport is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" in self.buf and self.transport is not None:
            self.transport.write(RESPONSE)
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def serve(port: int, tls_port: int, certfile: str) -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(certfile)
        plain_sock, tls_sock = _listen(port), _listen(tls_port)
        s1 = await loop.create_server(_Responder, sock=plain_sock, backlog=4096)
        s2 = await loop.create_server(_Responder, sock=tls_sock, ssl=sctx, backlog=4096)
        print(plain_sock.getsockname()[1], tls_sock.getsockname()[1], flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        s1.close()
        s2.close()

    uvloop.run(main())


class CpuMeter(Protocol):
    """Anything whose CPU seconds so far can be read: the target's processes."""

    def cpu_seconds(self) -> float: ...


class Servers:
    """Two server worker processes sharing the plain and TLS ports through SO_REUSEPORT."""

    def __init__(self, certfile: str, workers: int = 2) -> None:
        self.certfile = certfile
        self.workers = workers
        self.procs: list[subprocess.Popen[str]] = []
        self.port = 0
        self.tls_port = 0

    def _spawn(self, port: int, tls_port: int) -> tuple[int, int]:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), str(tls_port), self.certfile],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError("target server did not start")
        return int(line[0]), int(line[1])

    def __enter__(self) -> Servers:
        try:
            self.port, self.tls_port = self._spawn(0, 0)
            for _ in range(self.workers - 1):
                self._spawn(self.port, self.tls_port)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def cpu_seconds(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self.procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        return total


# ----------------------------------------------------------------------------------------
# Clients

Request = Callable[[str], Awaitable[bool]]


async def run_load(request: Request, url: str, seconds: float, concurrency: int) -> tuple[int, int]:
    ok = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal ok, errors
        while time.perf_counter() < deadline:
            try:
                if await request(url):
                    ok += 1
                else:
                    errors += 1
            except Exception:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, errors


class Engine:
    name = ""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def request(self, url: str) -> bool:
        raise NotImplementedError


class HttpxEngine(Engine):
    name = "httpx 0.28 AsyncClient, max_keepalive=0"

    async def open(self) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            verify=self.ctx,
            limits=httpx.Limits(max_keepalive_connections=0, max_connections=None),
            timeout=10,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def request(self, url: str) -> bool:
        async with self.client.stream("GET", url) as resp:
            body = await resp.aread()
        return resp.status_code == 200 and len(body) == len(BODY)


class AiohttpEngine(Engine):
    name = "aiohttp ClientSession, force_close"

    async def open(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                force_close=True, limit=0, ssl=self.ctx, use_dns_cache=False
            ),
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def close(self) -> None:
        await self.session.close()

    async def request(self, url: str) -> bool:
        async with self.session.get(url) as resp:
            body = await resp.read()
        return resp.status == 200 and len(body) == len(BODY)


class ProberEngine(Engine):
    name = "checker.probe.Prober.check, with regex"

    async def open(self) -> None:
        from checker.probe import Prober

        self.prober = Prober(ssl_context=self.ctx)
        await self.prober.open()
        self.tasks: dict[str, CheckTask] = {}
        self.now = datetime.now(UTC)

    def _make(self, url: str) -> Any:
        from shared.messages import CheckTask

        return CheckTask(
            site_id=1,
            url=url,
            timeout_s=10,
            scheduled_at=self.now,
            expires_at=self.now + timedelta(minutes=1),
            regex="benchmark page",
        )

    async def close(self) -> None:
        await self.prober.close()

    async def request(self, url: str) -> bool:
        task = self.tasks.get(url)
        if task is None:
            task = self.tasks[url] = self._make(url)
        result = await self.prober.check(task)
        return bool(result.up)


def _new_loop(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop]:
    if use_uvloop:
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def measure(
    engine_cls: type[Engine],
    ctx: ssl.SSLContext,
    url: str,
    seconds: float,
    concurrency: int,
    use_uvloop: bool,
    servers: CpuMeter,
) -> tuple[float, int, float, float]:
    """checks/s, errors, client CPU and server CPU (in cores) of one engine on one URL."""

    async def main() -> tuple[int, int, float, float, float]:
        engine = engine_cls(ctx)
        await engine.open()
        try:
            # Warm-up: imports, first handshakes, lazy initialisation.
            await run_load(engine.request, url, 0.5, concurrency)
            s0, c0, t0 = servers.cpu_seconds(), time.process_time(), time.perf_counter()
            ok, errors = await run_load(engine.request, url, seconds, concurrency)
            elapsed = time.perf_counter() - t0
            return ok, errors, elapsed, time.process_time() - c0, servers.cpu_seconds() - s0
        finally:
            await engine.close()

    # As the checker does after its startup: the bench's own heap (trustme, Kafka and
    # database clients) stays out of the collector's passes, so the loop is a fair ceiling.
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=_new_loop(use_uvloop)) as runner:
            ok, errors, elapsed, client_cpu, server_cpu = runner.run(main())
    finally:
        gc.unfreeze()
    return ok / elapsed, errors, client_cpu / elapsed, server_cpu / elapsed


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.5, help="per case and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, in alternating order")
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--no-prober", action="store_true", help="skip checker.probe rows")
    args = parser.parse_args()

    import trustme

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    engines: list[tuple[type[Engine], bool]] = [
        (HttpxEngine, False),
        (AiohttpEngine, False),
        (HttpxEngine, True),
        (AiohttpEngine, True),
    ]
    if not args.no_prober:
        engines += [(ProberEngine, False), (ProberEngine, True)]
    cases = [(e, u, scheme) for e, u in engines for scheme in ("http", "https")]

    with tempfile.TemporaryDirectory() as tmp:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        certfile = os.path.join(tmp, "server.pem")
        cert.private_key_and_cert_chain_pem.write_to_path(certfile)
        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)

        started = time.perf_counter()
        # The machine's speed drifts: every case runs once per round, rounds in opposite
        # orders, and the best round counts (slowdowns are the noise, not speedups).
        rates: dict[int, list[float]] = {i: [] for i in range(len(cases))}
        cpu: dict[int, tuple[float, float]] = {}
        errors: dict[int, int] = dict.fromkeys(range(len(cases)), 0)
        with Servers(certfile) as servers:
            ports = {"http": servers.port, "https": servers.tls_port}
            for rnd in range(args.rounds):
                order = range(len(cases)) if rnd % 2 == 0 else reversed(range(len(cases)))
                for i in order:
                    engine_cls, use_uvloop, scheme = cases[i]
                    url = f"{scheme}://127.0.0.1:{ports[scheme]}/"
                    rate, errs, ccpu, scpu = measure(
                        engine_cls, ctx, url, args.seconds, args.concurrency, use_uvloop, servers
                    )
                    rates[i].append(rate)
                    errors[i] += errs
                    if rate >= max(rates[i]):
                        cpu[i] = (ccpu, scpu)
                    print(".", end="", flush=True, file=sys.stderr)
        print(file=sys.stderr)
        print(
            f"# target: 2 x uvloop asyncio.Protocol responder (SO_REUSEPORT), 2 KB page, "
            f"Connection: close. {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
            f"{ssl.OPENSSL_VERSION}; concurrency {args.concurrency}, fresh connection per "
            f"request; {args.rounds} rounds x {args.seconds:g} s per case, best round counts"
        )
        print(
            f"{'engine':<45} {'loop':<8} {'scheme':<6} {'best/s':>7} {'rounds':>12} "
            f"{'err':>4} {'cli CPU':>7} {'srv CPU':>7}"
        )
        for i, (engine_cls, use_uvloop, scheme) in enumerate(cases):
            loop_name = "uvloop" if use_uvloop else "asyncio"
            each = "/".join(f"{r:.0f}" for r in rates[i])
            print(
                f"{engine_cls.name:<45} {loop_name:<8} {scheme:<6} {max(rates[i]):>7.0f} "
                f"{each:>12} {errors[i]:>4} {cpu[i][0]:>7.0%} {cpu[i][1]:>7.0%}"
            )
        print(f"# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
