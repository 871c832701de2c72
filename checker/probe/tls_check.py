"""A tls:// check: the TCP connect and the TLS handshake, nothing sent over it.

The handshake verifies the chain against the probe's CA store and the certificate's
name against the URL's host (sent as SNI unless it is an IP address), as an https check
does. Up: the handshake succeeded, so the chain verifies and the certificate is valid
now (OpenSSL checks notBefore and notAfter). `tls_version`, `tls_expires_at` and
`tls_ms` are recorded; a failed verification is `tls` with OpenSSL's reason, and so is a
connection that breaks during the handshake. Nothing is sent after it: the socket is
closed without a close_notify (a check has nothing to end cleanly).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import ssl
import time

from checker.probe.certificates import not_after
from checker.probe.error_classes import reason
from checker.probe.kind_net import KindFailure, Phases, connect, resolve
from checker.probe.kind_urls import Endpoint
from shared.netpolicy import TargetPolicy


async def _handshake(sock: socket.socket, context: ssl.SSLContext, host: str) -> ssl.SSLObject:
    """The client handshake over the connected socket, through memory BIOs: no transport
    is made for a connection that carries nothing, and a failed handshake leaves nothing
    to close but the socket. OpenSSL's alert for a failure is sent before it raises."""
    loop = asyncio.get_running_loop()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    # Python's ssl sends no SNI for an IP address and matches it to the IP SANs.
    tls = context.wrap_bio(incoming, outgoing, server_side=False, server_hostname=host)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            if pending := outgoing.read():
                with contextlib.suppress(OSError):
                    sock.send(pending)  # the alert, best effort
            raise
        if pending := outgoing.read():
            await loop.sock_sendall(sock, pending)
        received = await loop.sock_recv(sock, 65536)
        if not received:  # not an SSLError: OpenSSL saw no error, the peer just left
            raise ConnectionError("the server closed the connection")
        incoming.write(received)
    if pending := outgoing.read():  # the client's Finished
        await loop.sock_sendall(sock, pending)
    return tls


async def check_tls(
    endpoint: Endpoint,
    context: ssl.SSLContext,
    phases: Phases,
    executor: concurrent.futures.Executor,
    policy: TargetPolicy | None,
) -> bool:
    """True once the handshake is done; raises what went wrong (classified by the caller)."""
    infos = await resolve(endpoint.host, endpoint.port, executor, policy, phases)
    with await connect(infos, policy, phases) as sock:
        tcp_up = time.perf_counter()
        try:
            tls = await _handshake(sock, context, endpoint.host)
        except ssl.SSLError:
            raise
        except OSError as exc:  # reset or closed mid-handshake: the handshake failed
            where = f"{endpoint.host}:{endpoint.port}"
            raise KindFailure("tls", f"TLS failure with {where}: {reason(exc)}") from exc
        phases.tls_s = time.perf_counter() - tcp_up
        phases.tls_version = tls.version()
        phases.tls_expires_at = not_after(tls)
    return True
