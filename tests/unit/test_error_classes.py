"""The one error map of every check kind (checker/probe/error_classes.py): which class an
exception becomes, for the HTTP check and for a check on a socket of its own, and which
link of its chain the detail is made from."""

from __future__ import annotations

import errno
import socket

import aiohttp
import dns.exception
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.http_exceptions import ContentEncodingError
from yarl import URL

from checker.probe.error_classes import DETAIL_MAX, classify, describe, hop_name, reason, scrub
from shared.netpolicy import TargetBlocked

KEY = ConnectionKey("127.0.0.2", 80, False, True, None, None, None)


def raised_from(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "http", "before", "after"),
    [
        (ConnectionRefusedError(111, "refused"), "protocol", "connect", "protocol"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "internal", "connect", "protocol"),
        (OSError("Multiple exceptions: a, b"), "internal", "connect", "protocol"),
        (dns.exception.FormError("bad"), "protocol", "protocol", "protocol"),
        (dns.exception.Timeout(), "timeout", "timeout", "timeout"),
        (socket.gaierror(socket.EAI_NONAME, "unknown"), "dns", "dns", "dns"),
        (TargetBlocked("127.0.0.2"), "blocked", "blocked", "blocked"),
        (OSError(errno.EMFILE, "Too many open files"), "internal", "internal", "internal"),
        (RuntimeError("a bug"), "internal", "internal", "internal"),
    ],
)
def test_a_bare_exception_by_who_owns_the_socket(
    exc: BaseException, http: str, before: str, after: str
) -> None:
    """aiohttp wraps a failed connect itself, so a bare socket error in the HTTP check
    broke an open connection (a ConnectionError) or is none of the site's doing; a check
    on its own socket says which stage it was at."""
    assert classify(exc)[0] == http
    assert classify(exc, False)[0] == before
    assert classify(exc, True)[0] == after


def test_aiohttp_s_wrappers_decide_by_their_root_cause() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    connector = aiohttp.ClientConnectorError(KEY, refused)
    assert classify(connector) == ("connect", connector)
    assert reason(connector) == "Connection refused"
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    lookup = raised_from(aiohttp.ClientConnectorDNSError(KEY, unknown), unknown)
    assert classify(lookup) == ("dns", unknown)
    reset = ConnectionResetError(104, "Connection reset by peer")
    payload = raised_from(aiohttp.ClientPayloadError("Response payload is not completed"), reset)
    assert classify(payload) == ("protocol", reset)  # the root cause's words, not the wrapper's
    assert classify(aiohttp.InvalidURL("x"))[0] == "invalid_url"
    assert classify(aiohttp.NonHttpUrlClientError("ftp://x"))[0] == "invalid_url"


def test_the_earlier_row_wins_over_a_deeper_link() -> None:
    """The deadline over a socket error is a timeout; a local errno anywhere is ours."""
    late = raised_from(TimeoutError(), ConnectionResetError(104, "reset"))
    assert classify(late)[0] == "timeout"
    exhausted = OSError(errno.EMFILE, "Too many open files")
    assert classify(raised_from(TargetBlocked("127.0.0.2"), exhausted), False)[0] == "internal"


def test_scrub_cuts_and_hides_credentials() -> None:
    url = URL("http://alice:s3cret@example.test/")
    text = scrub("failed for alice:s3cret\nat  example.test " + "x" * 300, url, "tok")
    assert "s3cret" not in text and "alice" not in text and "\n" not in text
    assert len(text) == DETAIL_MAX and text.endswith("…")
    assert scrub("bearer tok refused", None, "tok") == "bearer *** refused"


def test_the_details_every_kind_words_alike() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    assert describe("connect", refused, "h", "h:1") == "cannot connect to h:1: Connection refused"
    blocked = TargetBlocked("127.0.0.2")
    # Not the address (issue 25): a refusal that named it let a read key map internal DNS.
    assert describe("blocked", blocked, None, "") == "refused by the target policy"
    assert describe("timeout", TimeoutError(), "h", "h:1") is None  # the kind words it


def test_a_body_that_cannot_be_decoded_is_content_encoding() -> None:
    decoding = raised_from(
        ContentEncodingError("Can not decode content-encoding: br"), ValueError("bad")
    )
    payload = raised_from(aiohttp.ClientPayloadError("Can not decode"), decoding)
    assert classify(payload) == ("content_encoding", decoding)


def test_hop_names() -> None:
    assert hop_name("127.0.0.1", 8080, 0, restricted=False) == "127.0.0.1:8080"
    assert hop_name("10.0.0.7", 80, 2, restricted=False) == "10.0.0.7:80 (redirect 2)"
    assert hop_name("nx.example", None, 1, restricted=False) == "nx.example (redirect 1)"
    # A restricted check: the position only, never a host or address.
    assert hop_name("10.0.0.7", 80, 2, restricted=True) == "redirect 2"
    assert hop_name("10.0.0.7", 80, 0, restricted=True) == "the URL"
    assert hop_name("nx.example", None, 1, restricted=True) == "the host of redirect 1"
    assert hop_name("nx.example", None, 0, restricted=True) == "the URL's host"
    # A hop whose Location could not be read has no host: its position.
    assert hop_name(None, None, 3, restricted=False) == "the host of redirect 3"


def test_several_failed_addresses_are_not_listed() -> None:
    several = OSError("Multiple exceptions: [Errno 111] Connect call failed ('10.0.0.7', 80)")
    assert reason(several) == "no address of the host could be connected to"
