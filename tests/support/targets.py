"""A local target for checks: real HTTP(S) servers on loopback, in a child process.

    with Targets() as t:
        t.url("/ok")                     # http://127.0.0.1:PORT/ok
        t.url("/ok", tls="valid")        # https, certificate from t's throwaway CA
        t.url("/ok", ipv6=True)          # http://[::1]:PORT/ok (t.ipv6 is False if none)
        ctx = t.client_ssl_context()     # ssl.create_default_context() trusting that CA

The servers run in a child process (aiohttp's web server plus a raw TCP responder) so
that they neither share the GIL with the client under test nor count in its memory.
The child exits when the `Targets` exits, and on its own when its parent dies (its
stdin closes). Everything binds 127.0.0.1 / ::1 on ports the kernel picks.

Endpoints (every TLS flavour serves the same ones as plain HTTP):

    /ok                      200 "hello webmon"
    /status/<code>           that status
    /slow-headers?seconds=3  headers after that long
    /delay?ms=200            200 after that long
    /slow-body?ms=200        headers and 6 bytes at once, the rest of the body after that long
    /drip                    200, then 1 byte per 100 ms, forever
    /big?mb=100&match=start|end|none  streamed (never held in memory), "MATCHME" there;
                             &length=0: chunked, no Content-Length
    /gzip-bomb               ~1 MB of gzip that inflates to 1 GiB of zeros
    /encoded?coding=br       ENCODED_TEXT in that content coding (gzip, deflate, br, zstd)
    /bad-encoding?coding=br  a body that claims that coding but is not in it
    /redirect/<n>            n hops (302), then 200 "redirected"
    /loop                    302 to itself
    /to?url=<absolute URL>   302 to that URL (e.g. from https to http)
    /head-only               200 to HEAD; a GET gets 405
    /latin1, /utf16          text in that charset, declared in Content-Type
    /charset/<name>          "hello charset" in UTF-8, declared as <name>
    /binary                  16 KiB of every byte value, application/octet-stream
    /aaab?n=1048576          n times "a", then "b"
    /big-header              200 with a 20 KB header line (a long CSP)
    /headers                 the request's headers, one "Name: value" a line
    /cookies/set?k=v         Set-Cookie k=v (each parameter), 302 to /cookies
    /cookies                 the cookies received, as JSON {"cookies": {"k": "v"}}
    /large-head?kb=100&fields=1   200 with that many KB of headers over that many fields
    /raw-accepted            how many connections the raw responder has accepted
    /close-mid-body          Content-Length 1000, 10 bytes, close      (raw responder)
    /garbage                 bytes that are not HTTP, close             (raw responder)
    /no-response             close without a byte                       (raw responder)
    /hang                    accept, read, never answer                 (raw responder)
    /bad-chunk               200 chunked, then a malformed chunk size   (raw responder)
    /bad-chunk?later=1       the same, the bad chunk 50 ms after the head (raw responder)

TLS flavours: "valid" (127.0.0.1, localhost and ::1, signed by the CA, expiring at
`Targets.valid_not_after`), "self_signed" (a certificate that signs itself), "expired" (by
the CA, expired yesterday), "wrong_host" (by the CA, for wrong.invalid only).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import json
import os
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zlib
from pathlib import Path
from types import TracebackType
from typing import Any

RAW_PATHS = frozenset({"/close-mid-body", "/garbage", "/no-response", "/hang", "/bad-chunk"})
TLS_FLAVOURS = ("valid", "self_signed", "expired", "wrong_host")
LATIN1_TEXT = "café naïve déjà vu"
UTF16_TEXT = "hello wörld ✓ 日本語"
BINARY_BODY = bytes(range(256)) * 64
GARBAGE = b"\x00\x01SSH-2.0-OpenSSH_9.6\r\n\xff\xfe\xfd not HTTP at all\r\n\r\n"
BOMB_INFLATED = 1 << 30
ENCODED_TEXT = "hello webmon, encoded " * 50
BAD_CHUNK_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
)
BAD_CHUNK_BODY = b"zz\r\nhello\r\n0\r\n\r\n"  # "zz" is no chunk size
# Connections the raw responder accepted (in the child process; /raw-accepted tells).
_raw_accepted = 0


def encode(coding: str, data: bytes) -> bytes:
    """`data` in a content coding: gzip, deflate, br or zstd."""
    if coding == "br":
        import brotli

        return bytes(brotli.compress(data))
    if coding == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]
        except ImportError:  # Python < 3.14
            from backports import zstd  # type: ignore[no-redef,unused-ignore]
        return bytes(zstd.compress(data))
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    raise ValueError(f"no such coding: {coding}")


def gzip_bomb(inflated: int = BOMB_INFLATED) -> bytes:
    """A gzip member that inflates to `inflated` zero bytes (a multiple of 1 MiB).

    Deflate output after a full flush does not depend on what came before, so one MiB is
    compressed once and its compressed form repeated: ~0.3 s instead of ~6 s for 1 GiB.
    """
    mib = bytes(1 << 20)
    count, rest = divmod(inflated, 1 << 20)
    if rest:
        raise ValueError("inflated must be a multiple of 1 MiB")
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, inflated & 0xFFFFFFFF)
    return header + segment * count + tail + trailer


# ----------------------------------------------------------------------------------------
# The child process


def _bind(family: socket.AddressFamily, host: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _app() -> Any:
    from aiohttp import web

    bomb = gzip_bomb()
    text = "text/plain; charset=utf-8"
    routes = web.RouteTableDef()

    @routes.get("/ok")
    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"hello webmon", headers={"Content-Type": text})

    @routes.get("/status/{code:\\d{3}}")
    async def status(request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["code"])
        if code < 200 or code in (204, 304):
            return web.Response(status=code)
        return web.Response(
            status=code, body=f"status {code}".encode(), headers={"Content-Type": text}
        )

    @routes.get("/slow-headers")
    async def slow_headers(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("seconds", "3")))
        return web.Response(body=b"finally", headers={"Content-Type": text})

    @routes.get("/delay")
    async def delay(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("ms", "200")) / 1000)
        return web.Response(body=b"delayed", headers={"Content-Type": text})

    @routes.get("/slow-body")
    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": text})
        await resp.prepare(request)
        await resp.write(b"start ")
        await asyncio.sleep(float(request.query.get("ms", "200")) / 1000)
        await resp.write(b"end")
        await resp.write_eof()
        return resp

    @routes.get("/drip")
    async def drip(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": text})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            while True:
                await resp.write(b"x")
                await asyncio.sleep(0.1)
        return resp

    @routes.get("/big")
    async def big(request: web.Request) -> web.StreamResponse:
        size = int(float(request.query.get("mb", "100")) * (1 << 20))
        where = request.query.get("match", "none")
        resp = web.StreamResponse(headers={"Content-Type": text})
        if request.query.get("length") != "0":
            resp.content_length = size
        await resp.prepare(request)
        if request.method == "HEAD":
            await resp.write_eof()
            return resp
        filler = b"x" * 65536
        marker = b"MATCHME"
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < size:
                chunk = filler[: size - sent]
                if sent == 0 and where == "start":
                    chunk = marker + chunk[len(marker) :]
                if sent + len(chunk) == size and where == "end":
                    chunk = chunk[: -len(marker)] + marker
                await resp.write(chunk)
                sent += len(chunk)
            await resp.write_eof()
        return resp

    @routes.get("/gzip-bomb")
    async def gzip_bomb_(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Type": text, "Content-Encoding": "gzip"})

    @routes.get("/encoded")
    async def encoded(request: web.Request) -> web.StreamResponse:
        coding = request.query["coding"]
        body = encode(coding, ENCODED_TEXT.encode())
        return web.Response(body=body, headers={"Content-Type": text, "Content-Encoding": coding})

    @routes.get("/bad-encoding")
    async def bad_encoding(request: web.Request) -> web.StreamResponse:
        coding = request.query["coding"]
        body = b"\x00\x01 this is not " + coding.encode() + b" at all " * 20
        return web.Response(body=body, headers={"Content-Type": text, "Content-Encoding": coding})

    @routes.get("/redirect/{n:\\d+}")
    async def redirect(request: web.Request) -> web.StreamResponse:
        n = int(request.match_info["n"])
        if n > 0:
            raise web.HTTPFound(f"/redirect/{n - 1}")
        return web.Response(body=b"redirected", headers={"Content-Type": text})

    @routes.get("/loop")
    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/loop")

    @routes.get("/to")
    async def to(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["url"])

    @routes.head("/head-only")
    async def head_only(request: web.Request) -> web.StreamResponse:
        return web.Response(headers={"Content-Type": text})

    @routes.get("/latin1")
    async def latin1(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=LATIN1_TEXT.encode("latin-1"),
            headers={"Content-Type": "text/plain; charset=iso-8859-1"},
        )

    @routes.get("/utf16")
    async def utf16(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=UTF16_TEXT.encode("utf-16"), headers={"Content-Type": "text/plain; charset=utf-16"}
        )

    @routes.get("/charset/{name}")
    async def charset(request: web.Request) -> web.StreamResponse:
        ctype = f"text/plain; charset={request.match_info['name']}"
        return web.Response(body=b"hello charset", headers={"Content-Type": ctype})

    @routes.get("/binary")
    async def binary(request: web.Request) -> web.StreamResponse:
        return web.Response(body=BINARY_BODY, headers={"Content-Type": "application/octet-stream"})

    @routes.get("/aaab")
    async def aaab(request: web.Request) -> web.StreamResponse:
        n = int(request.query.get("n", str(1 << 20)))
        return web.Response(body=b"a" * n + b"b", headers={"Content-Type": text})

    @routes.get("/headers")
    async def headers(request: web.Request) -> web.StreamResponse:
        lines = "".join(f"{k}: {v}\n" for k, v in request.headers.items())
        return web.Response(body=lines.encode(), headers={"Content-Type": text})

    @routes.get("/big-header")
    async def big_header(request: web.Request) -> web.StreamResponse:
        csp = "default-src 'self'; " + "script-src https://cdn.example " * 600
        return web.Response(
            body=b"hello webmon", headers={"Content-Type": text, "Content-Security-Policy": csp}
        )

    @routes.get("/cookies/set")
    async def cookies_set(request: web.Request) -> web.StreamResponse:
        resp = web.HTTPFound("/cookies")
        for name, value in request.query.items():
            resp.set_cookie(name, value, path="/")
        raise resp

    @routes.get("/cookies")
    async def cookies(request: web.Request) -> web.StreamResponse:
        return web.json_response({"cookies": dict(request.cookies)})

    @routes.get("/large-head")
    async def large_head(request: web.Request) -> web.StreamResponse:
        size = int(float(request.query.get("kb", "100")) * 1000)
        fields = int(request.query.get("fields", "1"))
        each = size // fields
        filler = {f"X-Filler-{i}": "f" * each for i in range(fields)}
        return web.Response(body=b"hello webmon", headers={"Content-Type": text, **filler})

    @routes.get("/raw-accepted")
    async def raw_accepted(request: web.Request) -> web.StreamResponse:
        return web.json_response({"accepted": _raw_accepted})

    app = web.Application()
    app.add_routes(routes)
    return app


class _Raw(asyncio.Protocol):
    """Answers the raw paths; reads the request head first so the client sent it all."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        global _raw_accepted
        _raw_accepted += 1
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" not in self.buf or self.transport is None:
            return
        parts = self.buf.split(b" ", 2)
        path = parts[1].split(b"?")[0].decode("latin-1") if len(parts) > 1 else ""
        transport, self.transport = self.transport, None
        if path == "/hang":
            self.transport = transport  # keep it open until the client gives up
            self.buf = b""
            return
        if path == "/bad-chunk" and b"later=1" in parts[1]:
            transport.write(BAD_CHUNK_HEAD)
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, lambda: (transport.write(BAD_CHUNK_BODY), transport.close()))
            return
        elif path == "/bad-chunk":
            transport.write(BAD_CHUNK_HEAD + BAD_CHUNK_BODY)  # one write: one read, mostly
        elif path == "/close-mid-body":
            transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
                + b"0123456789"
            )
        elif path != "/no-response":
            transport.write(GARBAGE)
        transport.close()


def _serve(state: Path) -> None:
    from aiohttp import web

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True
        ).start()

        runner = web.AppRunner(_app(), access_log=None, handle_signals=False)
        await runner.setup()
        ports: dict[str, int | None] = {}
        plain = _bind(socket.AF_INET, "127.0.0.1")
        await web.SockSite(runner, plain).start()
        ports["http"] = plain.getsockname()[1]
        try:
            v6: socket.socket | None = _bind(socket.AF_INET6, "::1")
        except OSError:
            v6 = None
        if v6 is not None:
            await web.SockSite(runner, v6).start()
        ports["http6"] = v6.getsockname()[1] if v6 is not None else None
        for flavour in TLS_FLAVOURS:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(state / f"{flavour}.pem")
            sock = _bind(socket.AF_INET, "127.0.0.1")
            await web.SockSite(runner, sock, ssl_context=ctx).start()
            ports[flavour] = sock.getsockname()[1]
        raw_sock = _bind(socket.AF_INET, "127.0.0.1")
        raw = await loop.create_server(_Raw, sock=raw_sock)
        ports["raw"] = raw_sock.getsockname()[1]

        print(json.dumps(ports), flush=True)
        await stop.wait()
        raw.close()
        await runner.cleanup()

    asyncio.run(main())


# ----------------------------------------------------------------------------------------
# The parent side


class Targets:
    """Starts the target servers in a child process; a context manager."""

    host = "127.0.0.1"

    def __init__(self, start_timeout_s: float = 30.0) -> None:
        self._start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._state: Path | None = None
        self._ca: Any = None
        self.ports: dict[str, int | None] = {}
        # When the "valid" certificate expires (whole seconds, as certificates have them).
        self.valid_not_after = (dt.datetime.now(dt.UTC) + dt.timedelta(days=90)).replace(
            microsecond=0
        )

    @property
    def ipv6(self) -> bool:
        """Whether the machine has IPv6 loopback (and so `url(..., ipv6=True)` works)."""
        return self.ports.get("http6") is not None

    @property
    def ca_pem(self) -> Path:
        """PEM file of the CA that signed the "valid", "expired" and "wrong_host" certs."""
        assert self._state is not None, "not started"
        return self._state / "ca.pem"

    def url(self, path: str = "/ok", *, tls: str | None = None, ipv6: bool = False) -> str:
        """URL of `path` on the right server: raw paths go to the raw responder."""
        if path.split("?")[0] in RAW_PATHS:
            return f"http://{self.host}:{self.ports['raw']}{path}"
        if ipv6:
            if not self.ipv6:
                raise RuntimeError("no IPv6 loopback on this machine")
            return f"http://[::1]:{self.ports['http6']}{path}"
        if tls is None:
            return f"http://{self.host}:{self.ports['http']}{path}"
        if tls not in TLS_FLAVOURS:
            raise ValueError(f"tls must be one of {TLS_FLAVOURS}")
        return f"https://{self.host}:{self.ports[tls]}{path}"

    def raw_accepted(self) -> int:
        """Connections the raw responder has accepted so far."""
        with urllib.request.urlopen(self.url("/raw-accepted"), timeout=10) as resp:
            return int(json.load(resp)["accepted"])

    def client_ssl_context(self) -> ssl.SSLContext:
        """`ssl.create_default_context()` that also trusts this target's CA."""
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=str(self.ca_pem))
        return ctx

    def _write_certs(self, state: Path) -> None:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(state / "ca.pem"))
        now = dt.datetime.now(dt.UTC)
        certs = {
            "valid": ca.issue_cert("127.0.0.1", "localhost", "::1", not_after=self.valid_not_after),
            "expired": ca.issue_cert(
                "127.0.0.1",
                "localhost",
                not_before=now - dt.timedelta(days=10),
                not_after=now - dt.timedelta(days=1),
            ),
            "wrong_host": ca.issue_cert("wrong.invalid"),
        }
        for name, cert in certs.items():
            cert.private_key_and_cert_chain_pem.write_to_path(str(state / f"{name}.pem"))
        # A CA's own certificate signs itself: the classic self-signed server certificate.
        other = trustme.CA()
        (state / "self_signed.pem").write_bytes(
            other.private_key_pem.bytes() + other.cert_pem.bytes()
        )
        self._ca = ca

    def __enter__(self) -> Targets:
        self._state = Path(tempfile.mkdtemp(prefix="webmon-targets-"))
        try:
            self._write_certs(self._state)
            self._proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--serve", str(self._state)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert self._proc.stdout is not None
            ready, _, _ = select.select([self._proc.stdout], [], [], self._start_timeout_s)
            line = self._proc.stdout.readline() if ready else b""
            if not line:
                raise RuntimeError("target servers did not start")
            self.ports = json.loads(line)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._state is not None:
            shutil.rmtree(self._state, ignore_errors=True)
            self._state = None


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(Path(sys.argv[2]))
    else:
        with Targets() as targets:
            print(json.dumps(targets.ports), "- Enter to stop", flush=True)
            input()
