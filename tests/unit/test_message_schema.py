"""One definition per message: what the structs promise beyond the bounds of their fields
(tests/unit/test_messages.py): compatibility with the messages already on the topics, the
schema version, the COPY columns, task updates and the task status type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pydantic
import pytest

from shared.errors import MessageError
from shared.http_fields import HeaderName
from shared.messages import (
    HTTP_OPTIONS,
    RESULT_COLUMN_TYPES,
    RESULT_COLUMNS,
    CheckResult,
    CheckTask,
    TaskAuth,
    TaskStatus,
    TaskUpdate,
    decode,
    decode_result,
)

SLOT = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
TASK_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")

# --- messages already on the topics: as the pydantic/orjson code wrote them -----------------

OLD_TASK = (
    b'{"v":1,"site_id":7,"url":"https://example.com/","timeout_s":5.0,'
    b'"scheduled_at":"2026-11-23T10:00:00.123456+00:00",'
    b'"expires_at":"2026-11-23T10:01:00.123456+00:00","method":"HEAD","headers":{"X-A":"b"},'
    b'"expected_status":[[200,300]],"restricted":true,"max_redirects":3,"tls_verify":false,'
    b'"auth":{"kind":"basic","username":"u","sealed":"AQID"}}'
)
OLD_RESULT = (
    b'{"v":1,"site_id":3,"url":"https://a/","scheduled_at":"2026-11-23T10:00:00.123456+00:00",'
    b'"checked_at":"2026-11-23T10:00:00.126456+00:00","response_time_ms":12.5,'
    b'"status_code":200,"regex_matched":true,"up":true,"dns_ms":0.75,"redirects":2,'
    b'"tls_version":"TLSv1.3","tls_expires_at":"2027-02-01T12:00:00+00:00"}'
)
OLD_UPDATE = (
    b'{"v":1,"task_id":"12345678-1234-5678-1234-567812345678","status":3,'
    b'"at":"2026-11-23T10:00:00.123456+00:00","result":{"v":1,"site_id":0,'
    b'"task_id":"12345678-1234-5678-1234-567812345678","url":"http://a",'
    b'"scheduled_at":"2026-11-23T10:00:00.123456+00:00",'
    b'"checked_at":"2026-11-23T10:00:00.123456+00:00","error":"timeout","up":false}}'
)


def test_a_task_written_before_the_structs_decodes_to_the_same_task() -> None:
    task = decode(CheckTask, OLD_TASK)
    assert task == CheckTask(
        site_id=7, url="https://example.com/", timeout_s=5.0, scheduled_at=SLOT,
        expires_at=SLOT + timedelta(seconds=60), method="HEAD", headers={"X-A": "b"},
        expected_status=((200, 300),), restricted=True, max_redirects=3, tls_verify=False,
        auth=TaskAuth(kind="basic", username="u", sealed="AQID"),
    )  # fmt: skip
    assert task.has_http_options


def test_a_result_written_before_the_structs_decodes_to_the_same_row() -> None:
    result = decode_result(OLD_RESULT)
    assert (result.site_id, result.scheduled_at, result.checked_at) == (
        3, SLOT, SLOT + timedelta(milliseconds=3),
    )  # fmt: skip
    assert (result.response_time_ms, result.status_code, result.up, result.redirects) == (
        12.5, 200, True, 2,
    )  # fmt: skip
    assert result.tls_expires_at == datetime(2027, 2, 1, 12, tzinfo=UTC)


def test_a_task_update_written_before_the_structs_is_stored_as_it_was() -> None:
    update = decode(TaskUpdate, OLD_UPDATE)
    assert (update.task_id, update.status, update.at) == (TASK_ID, TaskStatus.COMPLETED, SLOT)
    # As pydantic's model_dump(mode="json") made it: every check field, nulls kept.
    assert update.stored_result() == {
        "checked_at": "2026-11-23T10:00:00.123456Z", "response_time_ms": None,
        "status_code": None, "regex_matched": None, "error": "timeout", "error_detail": None,
        "up": False, "dns_ms": None, "connect_ms": None, "tls_ms": None, "ttfb_ms": None,
        "redirects": None, "tls_version": None, "tls_expires_at": None,
    }  # fmt: skip


# --- the schema version ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        CheckTask(site_id=1, url="u", timeout_s=1.0, scheduled_at=SLOT, expires_at=SLOT),
        CheckResult(site_id=1, url="u", scheduled_at=SLOT, checked_at=SLOT, up=True),
        TaskUpdate(task_id=TASK_ID, status=TaskStatus.PROCESSING, at=SLOT),
    ],
)
def test_every_message_carries_its_version_first_and_decodes_without_it(message: Any) -> None:
    raw = message.encode()
    assert raw.startswith(b'{"v":1,')
    assert decode(type(message), b"{" + raw[len(b'{"v":1,') :]) == message


# --- the stored columns ----------------------------------------------------------------------


def test_every_result_field_but_the_task_id_is_a_column_in_the_struct_s_order() -> None:
    fields = [f.name for f in msgspec.structs.fields(CheckResult)]
    # (and but the site's count of regions, which only the writer reads)
    unstored = ("task_id", "region_count")
    assert list(RESULT_COLUMNS) == [name for name in fields if name not in unstored]
    types = dict(zip(RESULT_COLUMNS, RESULT_COLUMN_TYPES, strict=True))
    assert (types["site_id"], types["response_time_ms"], types["dns_ms"]) == (
        "int8", "float8", "float4",
    )  # fmt: skip
    assert (types["status_code"], types["up"], types["tls_expires_at"]) == (
        "int2", "bool", "timestamptz",
    )  # fmt: skip


# --- task updates and the status type ---------------------------------------------------------


def _update(status: int, result: bool) -> bytes:
    body = b'"result":' + OLD_UPDATE.split(b'"result":')[1][:-1] if result else b'"v":1'
    return b'{"task_id":"%s","status":%d,"at":"2026-11-23T10:00:00Z",%s}' % (
        str(TASK_ID).encode(), status, body,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "result", "reason"),
    [
        (1, False, "past NEW"),
        (2, True, "PROCESSING none"),
        (3, False, "final status carries a result"),
        (4, False, "final status carries a result"),
        (5, False, "status"),
    ],
)
def test_a_task_update_that_breaks_the_status_rules_is_refused(
    status: int, result: bool, reason: str
) -> None:
    with pytest.raises(MessageError, match=f"invalid TaskUpdate: .*{reason}"):
        decode(TaskUpdate, _update(status, result))


def test_task_updates_that_keep_the_rules_decode() -> None:
    assert decode(TaskUpdate, _update(2, False)).status is TaskStatus.PROCESSING
    assert decode(TaskUpdate, _update(4, True)).status is TaskStatus.ERROR


def test_the_task_status_is_its_number_and_its_name() -> None:
    assert [(s.value, s.name) for s in TaskStatus] == [
        (1, "NEW"), (2, "PROCESSING"), (3, "COMPLETED"), (4, "ERROR"),
    ]  # fmt: skip
    assert [s.final for s in TaskStatus] == [False, False, True, True]
    assert TaskStatus.parse("COMPLETED") is TaskStatus.parse("3") is TaskStatus.COMPLETED
    for text in ("5", "0", "completed", "", "-1"):
        with pytest.raises(ValueError, match="not a task status"):
            TaskStatus.parse(text)


# --- HTTP fields and options ---------------------------------------------------------------------


def test_a_header_name_with_a_final_newline_is_refused_on_the_wire_and_by_the_api() -> None:
    raw = (
        b'{"site_id":1,"url":"u","timeout_s":1,"scheduled_at":"2026-01-01T00:00:00Z",'
        b'"expires_at":"2026-01-01T00:01:00Z","headers":{"X-A\\n":"b"}}'
    )
    with pytest.raises(MessageError, match="headers key"):
        decode(CheckTask, raw)
    with pytest.raises(pydantic.ValidationError, match="not an HTTP header name"):
        pydantic.TypeAdapter(HeaderName).validate_python("X-A\n")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("body", "x"), ("body_content_type", "text/plain"), ("proxy", "http://127.0.0.1:1"),
        ("tls_ca_file", "/ca"), ("tls_cert_file", "/c"), ("tls_key_file", "/k"),
        ("tls_verify", False), ("tls_server_name", "a"), ("ip_version", 6),
        ("require_tls", True), ("header_name", "X-A"), ("header_regex", "x"),
        ("header_mode", "not_match"), ("regex_mode", "absent"),
        ("auth", TaskAuth(kind="bearer", sealed="AQID")),
    ],
)  # fmt: skip
def test_any_option_off_its_default_makes_a_task_prepare_its_options(
    option: str, value: object
) -> None:
    plain = CheckTask(site_id=1, url="u", timeout_s=1.0, scheduled_at=SLOT, expires_at=SLOT)
    assert not plain.has_http_options
    assert msgspec.structs.replace(plain, **{option: value}).has_http_options
    assert option in (*HTTP_OPTIONS, "auth")


def test_a_bad_message_s_reason_stays_short() -> None:
    with pytest.raises(MessageError) as caught:
        decode(CheckTask, b'{"v":1,"site_id":' + b"9" * 100_000 + b"}")
    assert len(str(caught.value)) < 200
