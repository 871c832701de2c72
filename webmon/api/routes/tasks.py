"""`/api/v1/tasks`: on-demand checks, NEW → PROCESSING → COMPLETED / ERROR.

A task is accepted into PostgreSQL (202) and nothing else happens in the request: the
scheduler emits accepted tasks to Kafka (woken by a notification), so a task accepted just
before this process or any other dies is emitted all the same. Limits per key: tasks in
flight and tasks a minute, answered 429 with Retry-After. `Idempotency-Key` makes a
retried POST return the task of the first one.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from psycopg.types.json import Jsonb

from shared.db import AsyncDatabase
from shared.locks import TASK_LIMITS
from webmon.api.auth import READ, WRITE, Caller
from webmon.api.common import json_response, refuse_blocked_literal
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import TaskAccepted, TaskIn, TaskOut, task_out
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ApiSettings
from webmon.readmodel import TASKS
from webmon.regexes import regex_problem

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

DEFAULT_TASK_TIMEOUT_S = 10.0
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
STATUSES = {"NEW": 1, "PROCESSING": 2, "COMPLETED": 3, "ERROR": 4}


def _db(request: Request) -> AsyncDatabase:
    return request.app.state.db  # type: ignore[no-any-return]


def _settings(request: Request) -> ApiSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


@router.post(
    "",
    status_code=202,
    response_model=TaskAccepted,
    summary="Check a URL once, now",
    responses={429: {"description": "over this key's limit; see Retry-After"}},
)
async def submit(
    request: Request,
    task: TaskIn,
    caller: Caller = WRITE,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, description="a retry returns the same task"),
    ] = None,
) -> Response:
    refuse_blocked_literal(request, task.url)
    if task.regex is not None and (problem := regex_problem(task.regex)) is not None:
        raise Problem(422, f"regex: {problem}", title="Invalid regex", field="regex")
    if idempotency_key is not None and "\x00" in idempotency_key:
        raise Problem(422, "Idempotency-Key: contains a NUL character")
    settings = _settings(request)
    timeout = task.timeout_seconds if task.timeout_seconds is not None else DEFAULT_TASK_TIMEOUT_S
    async with _db(request).connection() as conn, conn.transaction():
        if idempotency_key is not None:
            cur = await conn.execute(
                TASKS["task_by_idempotency_key"],
                {"key_id": caller.key_id, "idempotency_key": idempotency_key},
            )
            earlier = await cur.fetchone()
            if earlier is not None:
                if _differs(earlier, task, timeout):
                    raise Problem(
                        409, "Idempotency-Key: already used for a different task", title="Conflict"
                    )
                return _accepted(earlier[0])
        cur = await conn.execute(
            TASKS["key_task_counts"], {"lock_class": TASK_LIMITS, "key_id": caller.key_id}
        )
        counts = await cur.fetchone()
        assert counts is not None
        _, in_flight, last_minute, frees_in = counts
        if in_flight >= settings.tasks_in_flight:
            raise Problem(
                429,
                f"this key has {in_flight} tasks in flight (WEBMON_TASKS_IN_FLIGHT is"
                f" {settings.tasks_in_flight}); wait for some to finish",
                headers={"Retry-After": "1"},
            )
        if last_minute >= settings.tasks_per_minute:
            wait = max(1, math.ceil(frees_in or 1))
            raise Problem(
                429,
                f"this key submitted {last_minute} tasks in the last minute"
                f" (WEBMON_TASKS_PER_MINUTE is {settings.tasks_per_minute})",
                headers={"Retry-After": str(wait)},
            )
        task_id = uuid.uuid4()
        await conn.execute(
            TASKS["create_task"],
            {
                "task_id": task_id,
                "key_id": caller.key_id,
                "name": task.name,
                "url": task.url,
                "regex": task.regex,
                "timeout_seconds": timeout,
                "method": task.method,
                "headers": None if task.headers is None else Jsonb(task.headers),
                "start_within": timedelta(seconds=settings.task_start_within_s),
                "idempotency_key": idempotency_key,
            },
        )
    return _accepted(task_id)


def _differs(earlier: tuple[Any, ...], task: TaskIn, timeout: float) -> bool:
    _, name, url, regex, timeout_s, method, headers = earlier
    return (name, url, regex, float(timeout_s), method, headers) != (
        task.name, task.url, task.regex, float(timeout), task.method, task.headers,
    )  # fmt: skip


def _accepted(task_id: uuid.UUID) -> Response:
    return json_response({"task_id": str(task_id)}, 202, {"Location": f"/api/v1/tasks/{task_id}"})


@router.get("/{task_id}", response_model=TaskOut, summary="One task and, once final, its result")
async def get_task(
    request: Request, task_id: Annotated[uuid.UUID, Path()], caller: Caller = READ
) -> Response:
    row = await _db(request).fetchone(TASKS["get_task"], {"task_id": task_id})
    if row is None:
        raise Problem(404, f"no task {task_id}")
    return json_response(task_out(row))


@router.get("", response_model=list[TaskOut], summary="Tasks, newest first")
async def list_tasks(
    request: Request,
    caller: Caller = READ,
    status: Literal["NEW", "PROCESSING", "COMPLETED", "ERROR", "1", "2", "3", "4"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    before_at, before_id = LATEST, uuid.UUID(int=2**128 - 1)
    if cursor:
        at, task = decode_cursor(cursor, 2)
        try:
            before_at, before_id = datetime.fromisoformat(str(at)), uuid.UUID(str(task))
        except ValueError:
            raise Problem(422, "cursor: not a cursor this API gave out") from None
    code = None if status is None else (int(status) if status.isdigit() else STATUSES[status])
    rows = await _db(request).fetch(
        TASKS["list_tasks"],
        {
            "before_at": before_at,
            "before_id": before_id,
            "status": code,
            "limit": limit + 1,
        },
    )
    more = len(rows) > limit
    rows = rows[:limit]
    key = [rows[-1][4].isoformat(), str(rows[-1][0])] if more else None
    return json_response([task_out(row) for row in rows], headers=next_link(request, key))
