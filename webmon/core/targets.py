"""The target policy's rules at the door: a URL that someone other than the operator gave
may not name an address the policy refuses. A literal IP is refused when it is submitted;
a name is judged when a checker connects (`shared.netpolicy`), and every redirect with it.
A dns:// check names the resolver it asks: the checker's own resolvers answer the
operator's questions only (the checker refuses such a check too).

A refusal says which setting would allow the address, so that an operator who meant it
knows what to change.
"""

from __future__ import annotations

from yarl import URL

from shared.netpolicy import TargetPolicy
from webmon.core.errors import Invalid

ALLOW_SETTING = "WEBMON_ALLOWED_NETWORKS"
BLOCK_SETTING = "WEBMON_BLOCKED_NETWORKS"


def blocked_literal(policy: TargetPolicy, url: str) -> str | None:
    """The URL's host when it is a blocked IP literal, else None."""
    try:
        host = URL(url).raw_host
    except (ValueError, TypeError):
        return None  # the other rules say what is wrong with it
    return host if host and policy.literal_refused(host) else None


def refusal(host: str) -> str:
    return (
        f"{host} is in a blocked network ({BLOCK_SETTING}); add it to {ALLOW_SETTING} to allow it"
    )


def refuse_blocked_literal(policy: TargetPolicy, url: str, field: str = "url") -> None:
    """`Invalid` when `url`'s host is an IP literal the policy refuses."""
    host = blocked_literal(policy, url)
    if host is not None:
        raise Invalid(field, refusal(host))


RESOLVER_NEEDED = (
    "a dns:// check from the API or the dashboard names its resolver, one the target "
    "policy allows: dns://RESOLVER/NAME"
)


def refuse_untrusted_target(policy: TargetPolicy, url: str, field: str = "url") -> None:
    """`Invalid` when a URL an untrusted user gave breaks a rule that can be judged before
    any connection: a refused IP literal, or a dns:// check without its resolver."""
    refuse_blocked_literal(policy, url, field)
    if url[:6].lower() == "dns://":
        try:
            resolver = URL(url).raw_host
        except (ValueError, TypeError):
            return  # the other rules say what is wrong with it
        if not resolver:
            raise Invalid(field, RESOLVER_NEEDED)
