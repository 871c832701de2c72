from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import orjson
import pytest

from scheduler.tasks import claimed_task
from shared.errors import MessageError
from shared.messages import (
    CheckResult,
    CheckTask,
    TaskAuth,
    copy_row,
    decode,
    decode_result,
)

SLOT = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize("regex", [None, r'"status":\s*"ok"'])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"method": "GET"},
        {"method": "HEAD"},
        {"headers": {"X-Token": "abc", "User-Agent": "me/1"}},
        {"headers": {}},
        {"expected_status": ((200, 300), (404, 405))},
        {"method": "HEAD", "headers": {"A": "b"}, "expected_status": ((500, 600),)},
        {"restricted": False},
        {"restricted": True},
        {"method": "HEAD", "expected_status": ((200, 300),), "restricted": True},
        {"max_redirects": 0},
        {"max_redirects": 30, "restricted": True},
    ],
)
def test_a_claimed_row_encodes_as_the_task_built_by_name(
    regex: str | None, options: dict[str, Any]
) -> None:
    task = CheckTask(
        site_id=7,
        url="https://example.com",
        timeout_s=5.0,
        regex=regex,
        scheduled_at=SLOT,
        expires_at=SLOT + timedelta(seconds=60),
        **options,
    )
    # As the scheduler calls it: every claim_due column positionally, NULL for defaults.
    fast = claimed_task(
        7,
        "https://example.com",
        5.0,
        regex,
        SLOT,
        task.expires_at,
        options.get("method"),
        options.get("headers"),
        options.get("expected_status"),
        options.get("max_redirects"),
        options.get("restricted", False),
    ).encode()
    assert fast == task.encode()
    assert decode(CheckTask, fast) == task


def test_defaults_are_left_out_of_a_task() -> None:
    raw = claimed_task(1, "http://a", 1.0, None, SLOT, SLOT + timedelta(seconds=1), "GET").encode()
    assert b"method" not in raw and b"headers" not in raw and b"expected_status" not in raw
    assert b"restricted" not in raw and b"max_redirects" not in raw
    task = decode(CheckTask, raw)
    assert (task.method, task.headers, task.expected_status) == ("GET", None, None)
    assert task.restricted is False and task.max_redirects is None


@pytest.mark.parametrize("limit", [-1, 31, 1.5])
def test_a_task_s_redirect_limit_is_bounded(limit: object) -> None:
    raw = orjson.dumps(
        {
            "v": 1, "site_id": 1, "url": "http://a", "timeout_s": 1.0,
            "scheduled_at": SLOT, "expires_at": SLOT + timedelta(seconds=1),
            "max_redirects": limit,
        }
    )  # fmt: skip
    with pytest.raises(MessageError, match="max_redirects"):
        decode(CheckTask, raw)


def test_a_restricted_task_round_trips() -> None:
    raw = claimed_task(
        1, "http://a", 1.0, None, SLOT, SLOT + timedelta(seconds=1), restricted=True
    ).encode()
    assert b'"restricted":true' in raw
    assert decode(CheckTask, raw).restricted is True


def test_a_task_from_before_the_options_still_validates() -> None:
    raw = (
        b'{"v":1,"site_id":1,"url":"http://a","timeout_s":1.0,'
        b'"scheduled_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:01:00Z"}'
    )
    task = decode(CheckTask, raw)
    assert (task.method, task.headers, task.expected_status) == ("GET", None, None)
    assert task.restricted is False  # a task from before `restricted` is unrestricted


def test_expected_status_pairs_decode_as_tuples() -> None:
    raw = claimed_task(
        1, "http://a", 1.0, None, SLOT, SLOT + timedelta(seconds=1), None, None, [[200, 204]]
    ).encode()
    assert decode(CheckTask, raw).expected_status == ((200, 204),)


def test_slot_survives_the_round_trip_to_the_microsecond() -> None:
    raw = claimed_task(1, "http://a", 1.0, None, SLOT, SLOT + timedelta(seconds=1)).encode()
    assert decode(CheckTask, raw).scheduled_at == SLOT


def test_result_round_trip_omits_nulls() -> None:
    result = CheckResult(
        site_id=3, url="http://a", scheduled_at=SLOT, checked_at=SLOT, error="timeout", up=False
    )
    raw = result.encode()
    assert b"status_code" not in raw
    assert decode(CheckResult, raw) == result


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty message"),
        (b"not json", "invalid CheckTask"),
        (b'{"v": 2, "site_id": 1}', "invalid CheckTask: v"),
        (b'{"v": 1, "site_id": 1}', "invalid CheckTask: url"),
        (b"\xff" * 1000, "invalid CheckTask"),
        (
            b'{"v":1,"site_id":1,"url":"u","timeout_s":1,"scheduled_at":"2026-01-01T00:00:00",'
            b'"expires_at":"2026-01-01T00:01:00Z"}',
            "scheduled_at",
        ),
    ],
)
def test_bad_messages_raise_message_error(raw: bytes | None, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode(CheckTask, raw)


TASK = (
    b'{"v":1,"site_id":1,"url":"u","timeout_s":1,"scheduled_at":"2026-01-01T00:00:00Z",'
    b'"expires_at":"2026-01-01T00:01:00Z",'
)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (b'"method":"DELETE"}', "method"),
        (b'"headers":{"Bad Name":"x"}}', "headers"),
        (b'"headers":{"X-A":"a\\r\\nX-Injected: 1"}}', "control character"),
        (b'"headers":{"X-A":1}}', "headers"),
        (b'"headers":["X-A"]}', "headers"),
        (b'"expected_status":[]}', "expected_status"),
        (b'"expected_status":[[300,200]]}', "status range"),
        (b'"expected_status":[[99,200]]}', "status range"),
        (b'"expected_status":[[200,601]]}', "status range"),
        (b'"expected_status":[[200]]}', "expected_status"),
    ],
)
def test_bad_task_options_raise_message_error(options: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode(CheckTask, TASK + options)


EXPIRY = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
FULL_RESULT = CheckResult(
    site_id=3,
    url="https://a/",
    scheduled_at=SLOT,
    checked_at=SLOT + timedelta(milliseconds=3),
    response_time_ms=12.5,
    status_code=200,
    regex_matched=True,
    up=True,
    dns_ms=0.75,
    connect_ms=1.25,
    tls_ms=4.5,
    ttfb_ms=10.0,
    redirects=2,
    tls_version="TLSv1.3",
    tls_expires_at=EXPIRY,
)


def test_copy_row_carries_the_check_details_in_column_order() -> None:
    row = copy_row(FULL_RESULT)
    assert row[10:] == (0.75, 1.25, 4.5, 10.0, 2, "TLSv1.3", EXPIRY, "default")
    assert copy_row(decode_result(FULL_RESULT.encode())) == row


@pytest.mark.parametrize(
    "result",
    [
        FULL_RESULT,
        CheckResult(
            site_id=3, url="http://a", scheduled_at=SLOT, checked_at=SLOT, error="dns", up=False
        ),
        msgspec.structs.replace(FULL_RESULT, tls_version=None, tls_expires_at=None),
    ],
)
def test_the_writer_s_decoding_equals_the_message_s(result: CheckResult) -> None:
    raw = result.encode()
    assert copy_row(decode_result(raw)) == copy_row(decode(CheckResult, raw))
    assert decode_result(raw) == result


def _with(**changes: Any) -> bytes:
    body = orjson.loads(FULL_RESULT.encode())
    body.update(changes)
    return orjson.dumps(body)


@pytest.mark.parametrize(
    "changes",
    [
        {"dns_ms": -1.0},
        {"ttfb_ms": "fast"},
        {"redirects": -1},
        {"redirects": 1.5},
        {"tls_version": "x" * 33},
        {"tls_version": "TLS\u0000"},
        {"tls_expires_at": "2027-02-01T12:00:00"},  # no time zone
        {"tls_expires_at": "soon"},
    ],
)
def test_bad_check_details_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(MessageError, match="invalid CheckResult"):
        decode_result(_with(**changes))


def test_integers_where_floats_are_expected_decode_as_floats() -> None:
    # Not webmon's own encoding, but valid (pydantic's lax mode took it too).
    row = copy_row(decode_result(_with(dns_ms=1, connect_ms=2)))
    assert row[10:12] == (1.0, 2.0) and type(row[10]) is float


@pytest.mark.parametrize(
    "changes",
    [
        {"site_id": 2**63},  # past bigint: its COPY would fail the whole batch, every retry
        {"site_id": 0},
        {"response_time_ms": 1e39},  # past real
        {"dns_ms": 2e7},
        {"url": "http://a/\u0000"},
        {"error": "e\u0000"},
        {"error_detail": "x" * 1001},
        {"status_code": 99},
        {"up": "maybe"},
        {"scheduled_at": "2026-11-23T12:00:00"},  # no time zone
        {"v": 2},
    ],
)
def test_values_no_column_can_hold_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(MessageError, match="invalid CheckResult"):
        decode_result(_with(**changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"site_id": 2**63 - 1},
        {"response_time_ms": 0},
        {"scheduled_at": "2026-11-23T12:00:00Z", "checked_at": "2026-11-23T13:00:00+01:00"},
        {"error": None, "extra_field_from_a_newer_producer": [1, 2]},
        {"up": 1},  # lax, as pydantic's lax mode was
    ],
)
def test_edge_values_decode_as_the_model_does(changes: dict[str, Any]) -> None:
    raw = _with(**changes)
    assert copy_row(decode_result(raw)) == copy_row(decode(CheckResult, raw))


# --- missed slots --------------------------------------------------------------------------


def test_a_missed_slot_is_a_result_without_up() -> None:
    task = CheckTask(
        site_id=7,
        url="https://e.example/",
        timeout_s=5,
        scheduled_at=SLOT,
        expires_at=SLOT + timedelta(seconds=10),
    )
    missed = CheckResult.missed(task, SLOT + timedelta(seconds=12.5))
    assert (missed.up, missed.error, missed.status_code, missed.response_time_ms) == (
        None,
        "missed",
        None,
        None,
    )
    assert missed.error_detail is not None and "12.5 s after its slot" in missed.error_detail
    decoded = decode_result(missed.encode())
    assert copy_row(decoded) == copy_row(missed)
    assert decoded.up is None and decoded.error == "missed"


@pytest.mark.parametrize(
    "changes",
    [{"up": None}, {"up": None, "error": "timeout"}, {"up": False, "error": "missed"}],
)
def test_up_is_null_exactly_when_the_slot_was_missed(changes: dict[str, Any]) -> None:
    """The decoder refuses a result whose `up` and `error` disagree about a miss."""
    body = {
        "site_id": 1,
        "url": "https://e.example/",
        "scheduled_at": SLOT.isoformat(),
        "checked_at": SLOT.isoformat(),
        "up": True,
        **changes,
    }
    with pytest.raises(MessageError, match="missed"):
        decode_result(orjson.dumps(body))


def test_a_task_s_http_options_encode_as_the_model_does() -> None:
    options: dict[str, Any] = {
        "body": '{"q": 1}',
        "body_content_type": "application/json",
        "tls_verify": False,
        "tls_server_name": "internal.example",
        "ip_version": 6,
        "require_tls": True,
        "header_name": "X-State",
        "header_regex": "^ok$",
        "header_mode": "not_match",
        "regex_mode": "absent",
    }
    auth = TaskAuth(kind="basic", username="u", sealed="AQID")
    task = CheckTask(
        site_id=7, url="https://example.com", timeout_s=5.0, regex="down",
        scheduled_at=SLOT, expires_at=SLOT + timedelta(seconds=60), method="POST",
        **options, auth=auth,
    )  # fmt: skip
    # claim_due's jsonb comes back in jsonb's key order (shortest first), not the model's
    jsonb_order = dict(sorted(options.items(), key=lambda kv: (len(kv[0]), kv[0])))
    jsonb_auth = {"kind": "basic", "sealed": "AQID", "username": "u"}
    fast = claimed_task(
        7, "https://example.com", 5.0, "down", SLOT, task.expires_at, "POST", None, None, None,
        False, jsonb_order, jsonb_auth,
    ).encode()  # fmt: skip
    assert fast == task.encode()
    assert decode(CheckTask, fast) == task
    assert "AQID" not in repr(task) and "AQID" not in str(task.auth)


def test_default_http_options_are_left_out_of_a_task() -> None:
    task = CheckTask(
        site_id=7, url="https://example.com", timeout_s=5.0, scheduled_at=SLOT,
        expires_at=SLOT + timedelta(seconds=60), tls_verify=True, require_tls=False,
        header_mode="match", regex_mode="match",
    )  # fmt: skip
    raw = task.encode()
    for name in ("tls_verify", "require_tls", "header_mode", "regex_mode", "auth", "body"):
        assert name.encode() not in raw
    assert raw == claimed_task(7, "https://example.com", 5.0, None, SLOT, task.expires_at).encode()
