"""The target policy's check of a submitted URL, before any connection: a host that is an
IP literal the policy refuses. (A name is judged when a checker connects.)"""

from __future__ import annotations

from yarl import URL

from shared.netpolicy import TargetPolicy


def blocked_literal(policy: TargetPolicy, url: str) -> str | None:
    """The URL's host when it is a blocked IP literal, else None."""
    try:
        host = URL(url).raw_host
    except (ValueError, TypeError):
        return None  # the database's constraints say what is wrong with it
    return host if host and policy.literal_refused(host) else None
