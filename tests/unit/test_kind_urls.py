"""The URL forms of the tcp://, tls:// and dns:// kinds, and their error classes (pure)."""

from __future__ import annotations

import socket
import ssl

import dns.exception
import dns.rdatatype
import pytest

from checker.probe.error_classes import classify
from checker.probe.kind_urls import (
    Endpoint,
    UrlProblem,
    kind_of,
    parse_dns,
    parse_tcp,
    parse_tls,
)
from shared.netpolicy import TargetBlocked


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://a", "http"),
        ("HTTPS://a", "http"),
        ("tcp://a:1", "tcp"),
        ("TLS://a", "tls"),
        ("dns:///a", "dns"),
        ("ftp://a", "http"),  # unknown schemes are the HTTP check's to refuse
        ("tcpx://a", "http"),
        ("", "http"),
    ],
)
def test_the_kind_is_the_scheme(url: str, kind: str) -> None:
    assert kind_of(url) == kind


def test_tcp_urls() -> None:
    assert parse_tcp("tcp://db.internal:5432") == Endpoint("db.internal", 5432)
    assert parse_tcp("tcp://[::1]:22/") == Endpoint("::1", 22)
    assert parse_tcp("tcp://h:6379?send=PING%0D%0A+1") == Endpoint("h", 6379, b"PING\r\n+1")
    assert parse_tcp("tcp://h:1?SEND=%00%ff").send == b"\x00\xff"


def test_tls_urls_default_to_443() -> None:
    assert parse_tls("tls://Example.COM") == Endpoint("example.com", 443)
    assert parse_tls("tls://h:8443") == Endpoint("h", 8443)


def test_dns_urls() -> None:
    system = parse_dns("dns:///example.com")
    assert (system.resolver, system.port, str(system.name)) == (None, 53, "example.com.")
    assert system.rdtype == dns.rdatatype.A
    asked = parse_dns("dns://[2606:4700::1111]:5353/example.com?type=mx")
    assert (asked.resolver, asked.port, asked.rdtype) == ("2606:4700::1111", 5353, dns.rdatatype.MX)
    assert str(parse_dns("dns://1.1.1.1/bücher.example").name) == "xn--bcher-kva.example."


@pytest.mark.parametrize(
    ("parse", "url", "why"),
    [
        (parse_tcp, "tcp://h", "needs a port"),
        (parse_tcp, "tcp://h:70000", "out of range"),
        (parse_tcp, "tcp://h:0", "port 0"),
        (parse_tcp, "tcp://h:1/x", "no path"),
        (parse_tcp, "tcp://h:1?send=a&send=b", "given twice"),
        (parse_tcp, "tcp://h:1?send=", "has no value"),
        (parse_tcp, "tcp://u:p@h:1", "user name or password"),
        (parse_tcp, "tcp://h:1#x", "fragment"),
        (parse_tls, "tls://h?x=1", "unknown query parameter"),
        (parse_dns, "dns://", "the name to resolve is the path"),
        (parse_dns, "dns:///a/b", "the name to resolve is the path"),
        (parse_dns, "dns:///a?type=NOPE", "not a DNS record type"),
        (parse_dns, "dns:///a?type=AXFR", "cannot be asked for"),
        (parse_dns, "dns:///" + "a" * 64 + ".example", "not a DNS name"),
    ],
)
def test_malformed_urls_say_why(parse: object, url: str, why: str) -> None:
    with pytest.raises(UrlProblem, match=why):
        parse(url)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("exc", "connected", "error"),
    [
        (TargetBlocked("127.0.0.2"), False, "blocked"),
        (TimeoutError(), True, "timeout"),
        (dns.exception.Timeout(), False, "timeout"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False, "dns"),
        (ssl.SSLCertVerificationError(1, "x"), True, "tls"),
        (ConnectionRefusedError(111, "refused"), False, "connect"),
        (ConnectionResetError(104, "reset"), True, "protocol"),
        (dns.exception.FormError("bad"), False, "protocol"),
        (OSError(24, "Too many open files"), False, "internal"),
        (ValueError("a bug"), False, "internal"),
    ],
)
def test_error_classes(exc: BaseException, connected: bool, error: str) -> None:
    assert classify(exc, connected)[0] == error


def test_a_refusal_wins_over_the_connect_error_it_caused() -> None:
    try:
        try:
            raise TargetBlocked("10.0.0.1")
        except TargetBlocked as blocked:
            raise OSError("Multiple exceptions") from blocked
    except OSError as exc:
        assert classify(exc, False)[0] == "blocked"
