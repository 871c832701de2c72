"""Pure pieces of the probe's check details: certificate times, status ranges."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest

from checker.probe import cert_time, status_expected


@pytest.mark.parametrize(
    "text",
    [
        "Jan  2 03:04:05 2027 GMT",
        "Dec 31 23:59:59 2049 GMT",
        "Feb 29 12:00:00 2028 GMT",
        "Jan  1 00:00:00 3000 GMT",
    ],
)
def test_cert_time_agrees_with_the_standard_library(text: str) -> None:
    expected = datetime.fromtimestamp(ssl.cert_time_to_seconds(text), UTC)
    assert cert_time(text) == expected


@pytest.mark.parametrize(
    "text", ["", "Foo  2 03:04:05 2027 GMT", "Jan  2 03:04 2027 GMT", "Feb 30 00:00:00 2027 GMT",
             "Jan  2 03:04:05 2027 CET", "soon"],
)  # fmt: skip
def test_cert_time_of_nonsense_is_none(text: str) -> None:
    assert cert_time(text) is None


@pytest.mark.parametrize(
    ("status", "expected", "up"),
    [
        (200, None, True),
        (399, None, True),
        (400, None, False),
        (199, None, False),
        (404, ((200, 300), (404, 405)), True),
        (405, ((200, 300), (404, 405)), False),
        (300, ((200, 300), (404, 405)), False),
        (599, ((500, 600),), True),
    ],
)
def teststatus_expected(
    status: int, expected: tuple[tuple[int, int], ...] | None, up: bool
) -> None:
    assert status_expected(status, expected) is up
