"""The URL forms of the check kinds, and the kind of a URL.

The kind comes from the scheme, so registering stays one column:

    http(s)://...                      an HTTP check (`http_url_problem`)
    tcp://host:port[?send=PAYLOAD]     connect; send PAYLOAD (percent-encoded bytes)
    tls://host[:port]                  TCP connect and TLS handshake (port 443 by default)
    dns://[resolver[:port]]/name[?type=A]
                                       ask `resolver` (an address or a name; none: the
                                       system's resolvers) for `name`'s records of `type`

The dns form follows RFC 4501 (the authority is the server to ask, the path the name).
Percent-encoding is the only escape in `send` (`%0D%0A` is CRLF; a `+` is a plus sign):
a URL may not hold whitespace or control characters (constraint `sites_url_no_whitespace`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

import dns.exception
import dns.name
import dns.rdatatype
from yarl import URL

HTTP: Final = "http"
TCP: Final = "tcp"
TLS: Final = "tls"
DNS: Final = "dns"
TLS_DEFAULT_PORT: Final = 443
DNS_DEFAULT_PORT: Final = 53


class UrlProblem(ValueError):
    """Why a URL is not one its kind can check (an `invalid_url` result)."""


def kind_of(url: str) -> str:
    """`http` for http(s) URLs (and anything unknown: the HTTP check refuses it), else the
    scheme."""
    scheme = url[: url.find(":")].lower() if ":" in url[:5] else ""
    return scheme if scheme in (TCP, TLS, DNS) else HTTP


def http_url_problem(raw: str) -> tuple[URL | None, str | None]:
    """The parsed URL, or why it is not a URL the HTTP check can take (and the URL where it
    parsed at all, to scrub its credentials from the text)."""
    try:
        url = URL(raw)
        if url.scheme not in ("http", "https"):
            return url, "scheme must be http or https"
        host = url.raw_host  # yarl has already IDNA-encoded a non-ASCII name
        if not host:
            return url, "no host"
        host.encode("idna")  # what getaddrinfo() will do: rejects empty or long labels
        url.host  # noqa: B018 - decodes punycode; raises on a bad "xn--" label
        url.port  # noqa: B018 - raises ValueError on a port out of range
    except (ValueError, TypeError, UnicodeError) as exc:
        return None, str(exc) or type(exc).__name__
    return url, None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A tcp:// or tls:// target: the host as getaddrinfo takes it (IDNA, no brackets)."""

    host: str
    port: int
    send: bytes | None = None


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    """A dns:// target: the resolver to ask (None: the system's), the name and the type."""

    resolver: str | None
    port: int
    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType


def _parse(raw: str) -> URL:
    try:
        url = URL(raw)
        url.port  # noqa: B018 - raises ValueError on a port out of range
    except (ValueError, TypeError, UnicodeError) as exc:
        raise UrlProblem(str(exc) or type(exc).__name__) from None
    if url.raw_user is not None or url.raw_password is not None:
        raise UrlProblem("a user name or password has no place in this URL")
    if url.fragment:
        raise UrlProblem("no fragment (#...) is allowed")
    if url.explicit_port == 0:
        raise UrlProblem("port 0 cannot be connected to")
    return url


def _params(url: URL, allowed: tuple[str, ...]) -> dict[str, bytes]:
    """The query's parameters, percent-decoded to bytes; each at most once."""
    params: dict[str, bytes] = {}
    raw = url.raw_query_string
    for part in raw.split("&") if raw else ():
        key, sep, value = part.partition("=")
        key = key.lower()
        if key not in allowed:
            names = ", ".join(allowed) if allowed else "none"
            raise UrlProblem(f"unknown query parameter {key!r} (known: {names})")
        if key in params:
            raise UrlProblem(f"query parameter {key!r} given twice")
        if not sep or not value:
            raise UrlProblem(f"query parameter {key!r} has no value")
        params[key] = unquote_to_bytes(value)
    return params


def _host(url: URL) -> str:
    host = url.raw_host  # IDNA-encoded by yarl; an IPv6 literal without its brackets
    if not host:
        raise UrlProblem("no host")
    try:
        host.encode("idna")  # what getaddrinfo() will do: rejects empty or long labels
    except UnicodeError as exc:
        raise UrlProblem(str(exc)) from None
    return host


def _no_path(url: URL) -> None:
    if url.raw_path not in ("", "/"):
        raise UrlProblem("no path is allowed after host:port")


@functools.lru_cache(maxsize=4096)  # a site's URL is parsed once, not per check
def parse_tcp(raw: str) -> Endpoint:
    url = _parse(raw)
    host = _host(url)
    if url.explicit_port is None:
        raise UrlProblem("a tcp:// URL needs a port (tcp://host:port)")
    _no_path(url)
    params = _params(url, ("send",))
    return Endpoint(host, url.explicit_port, params.get("send"))


@functools.lru_cache(maxsize=4096)  # a site's URL is parsed once, not per check
def parse_tls(raw: str) -> Endpoint:
    url = _parse(raw)
    host = _host(url)
    _no_path(url)
    _params(url, ())
    return Endpoint(host, url.explicit_port or TLS_DEFAULT_PORT)


@functools.lru_cache(maxsize=4096)  # a site's URL is parsed once, not per check
def parse_dns(raw: str) -> DnsQuestion:
    url = _parse(raw)
    resolver = _host(url) if url.raw_host else None
    if resolver is None and url.explicit_port is not None:
        raise UrlProblem("a port without a resolver")
    path = url.path
    if not path.startswith("/") or len(path) < 2 or "/" in path[1:]:
        raise UrlProblem("the name to resolve is the path: dns://[resolver]/name")
    try:
        name = dns.name.from_text(path[1:])
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise UrlProblem(f"not a DNS name: {exc}") from None
    type_text = _params(url, ("type",)).get("type", b"A")
    try:
        rdtype = dns.rdatatype.from_text(type_text.decode("ascii"))
    except (dns.exception.DNSException, UnicodeError, ValueError):
        raise UrlProblem(f"not a DNS record type: {type_text.decode('ascii', 'replace')}") from None
    if dns.rdatatype.is_metatype(rdtype) and rdtype != dns.rdatatype.ANY:
        raise UrlProblem(f"{dns.rdatatype.to_text(rdtype)} cannot be asked for")
    return DnsQuestion(resolver, url.explicit_port or DNS_DEFAULT_PORT, name, rdtype)
