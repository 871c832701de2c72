"""The target policy of a restricted HTTP check, where aiohttp's connection hooks see it.

The policy (`shared.netpolicy`, an SSRF guard) applies to restricted tasks only (a URL an
untrusted API user submitted). `GUARD` carries the running check's guard; the transport's
resolver drops the addresses it refuses (`admitted`) and its socket factory refuses the
rest before a socket exists (`check_address`), so an IP-literal URL, a name that
resolves to an internal address and every redirect hop are judged by the address
actually connected to. (The idea of guarding the socket open comes from healthchecks.io.)
This depends on a fresh connection per check: a pooled connection would be reused
without a new socket. Unrestricted checks pay one context-variable read per hook.

The tcp://, tls:// and dns:// checks open their own sockets and take the policy as an
argument (`checker.probe.kind_net`).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from aiohttp.abc import ResolveResult

from shared.netpolicy import TargetBlocked, TargetPolicy


@dataclass(slots=True)
class Guard:
    """The target policy of one restricted check, and the first address it refused.

    The refusal is kept because aiohappyeyeballs replaces the exceptions of several
    failed addresses with one plain OSError ("Multiple exceptions: ..."), which would
    lose the `TargetBlocked` from the chain; the check consults it then.
    """

    policy: TargetPolicy
    refused: TargetBlocked | None = None

    def refuse(self, address: str) -> TargetBlocked:
        blocked = TargetBlocked(address)
        if self.refused is None:
            self.refused = blocked
        return blocked


# The running restricted check's guard; None (not set) for an unrestricted check. Set
# around the request in `HttpCheck.check`, like the trace.
GUARD: contextvars.ContextVar[Guard | None] = contextvars.ContextVar(
    "webmon_probe_guard", default=None
)


def admitted(results: list[ResolveResult]) -> list[ResolveResult]:
    """The resolved addresses the running check may connect to: those its policy permits;
    `TargetBlocked` (for the first) when it refuses them all."""
    guard = GUARD.get()
    if guard is None or not results:
        return results
    permitted = [r for r in results if guard.policy.permits(r["host"])]
    if not permitted:
        raise guard.refuse(results[0]["host"])
    return permitted


def check_address(host: object) -> None:
    """`TargetBlocked` unless the running check may connect to `host` (a socket address's
    host: an IP address)."""
    guard = GUARD.get()
    if guard is not None:
        ip = str(host)
        if not guard.policy.permits(ip):
            raise guard.refuse(ip)
