"""A tcp:// check: connect; then optionally send a payload and expect a reply.

Semantics after blackbox_exporter's `query_response` and Gatus' tcp endpoints, reduced to
one send and one expect: with `?send=`, the payload is written once the connection is
up; with a regex, what the server sends is read (at most `READ_MAX` bytes) until the
regex matches, the server closes, or the cap or the deadline is reached.

Up: the connection was made, the payload (if any) was written, and the regex (if any)
matched what the server sent. A regex that did not match once the server closed or the
cap was reached is `regex_matched` false with no error, like an HTTP body that does not
match; one still unmatched at the deadline is `timeout`, with `regex_matched` false if
bytes had arrived.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any, Final

from checker.probe.kind_net import Phases, connect, resolve
from checker.probe.kind_urls import Endpoint
from checker.probe.regex import search_body
from shared.netpolicy import TargetPolicy

# The reply searched: enough for any banner or health answer, bounded like a body.
READ_MAX: Final = 64 * 1024


async def check_tcp(
    endpoint: Endpoint,
    regex: Any,
    phases: Phases,
    executor: concurrent.futures.Executor,
    policy: TargetPolicy | None,
) -> bool:
    """Whether the site is up; raises what went wrong (classified by the caller)."""
    infos = await resolve(endpoint.host, endpoint.port, executor, policy, phases)
    sock = await connect(infos, policy, phases)
    try:
        loop = asyncio.get_running_loop()
        if endpoint.send:
            await loop.sock_sendall(sock, endpoint.send)
        if regex is None:
            return True
        received = b""
        while len(received) < READ_MAX:
            chunk = await loop.sock_recv(sock, READ_MAX - len(received))
            if not chunk:
                break
            if phases.first_byte is None:
                phases.first_byte = time.perf_counter()
            received += chunk
            phases.regex_matched = search_body(regex, received, None)
            if phases.regex_matched:
                return True
        phases.regex_matched = False  # closed, or the cap: an empty reply matches nothing
        return False
    finally:
        sock.close()
