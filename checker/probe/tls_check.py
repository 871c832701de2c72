"""A tls:// check: the TCP connect and the TLS handshake, nothing sent over it.

The handshake verifies the chain against the probe's CA store and the certificate's
name against the URL's host (sent as SNI unless it is an IP address), as an https check
does. Up: the handshake succeeded, so the chain verifies and the certificate is valid
now (OpenSSL checks notBefore and notAfter). `tls_version`, `tls_expires_at` and
`tls_ms` are recorded; a failed verification is `tls` with OpenSSL's reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import time
from datetime import UTC, datetime

from checker.probe.kind_net import Phases, connect, resolve
from checker.probe.kind_urls import Endpoint
from shared.netpolicy import TargetPolicy


def _not_after(ssl_object: ssl.SSLObject) -> datetime | None:
    try:
        text = (ssl_object.getpeercert() or {}).get("notAfter")
        if not isinstance(text, str):
            return None
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(text), UTC)
    except (ValueError, OSError, OverflowError):
        return None


async def check_tls(
    endpoint: Endpoint,
    context: ssl.SSLContext,
    phases: Phases,
    executor: concurrent.futures.Executor,
    policy: TargetPolicy | None,
) -> bool:
    """True once the handshake is done; raises what went wrong (classified by the caller)."""
    infos = await resolve(endpoint.host, endpoint.port, executor, policy, phases)
    sock = await connect(infos, policy, phases)
    tcp_up = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_connection(
            asyncio.Protocol,
            sock=sock,
            ssl=context,
            # Python's ssl sends no SNI for an IP address and matches it to the IP SANs.
            server_hostname=endpoint.host,
        )
    except BaseException:
        sock.close()
        raise
    try:
        phases.tls_s = time.perf_counter() - tcp_up
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            phases.tls_version = ssl_object.version()
            phases.tls_expires_at = _not_after(ssl_object)
    finally:
        transport.close()
    return True
