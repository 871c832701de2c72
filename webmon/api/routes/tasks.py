"""`/api/v1/tasks`: on-demand checks, NEW → PROCESSING → COMPLETED / ERROR.

A task is accepted into PostgreSQL (202, `webmon.submit`) and nothing else happens in the
request: the scheduler emits accepted tasks to Kafka (woken by a notification), so a task
accepted just before this process or any other dies is emitted all the same. Limits per
key: tasks in flight and tasks a minute, answered 429 with Retry-After. `Idempotency-Key`
makes a retried POST return the task of the first one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response

from webmon.api.auth import READ, WRITE, Caller
from webmon.api.common import database, json_response
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import TaskAccepted, TaskIn, TaskOut, task_out
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.readmodel import TASKS
from webmon.submit import Submitter, TaskRefused, accept_task

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

LATEST = datetime(9999, 1, 1, tzinfo=UTC)
STATUSES = {"NEW": 1, "PROCESSING": 2, "COMPLETED": 3, "ERROR": 4}


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
        str | None, Header(min_length=1, max_length=200, description="a retry gets the same task")
    ] = None,
) -> Response:
    try:
        task_id = await accept_task(
            database(request),
            request.app.state.settings,
            request.app.state.policy,
            Submitter(key_id=caller.key_id),
            task,
            idempotency_key,
        )
    except TaskRefused as refused:
        extra = {} if refused.about is None else {"field": refused.about}
        raise Problem(refused.status, refused.detail, headers=refused.headers, **extra) from None
    return json_response({"task_id": str(task_id)}, 202, {"Location": f"/api/v1/tasks/{task_id}"})


@router.get("/{task_id}", response_model=TaskOut, summary="One task and, once final, its result")
async def get_task(
    request: Request, task_id: Annotated[uuid.UUID, Path()], caller: Caller = READ
) -> Response:
    row = await database(request).fetchone(TASKS["get_task"], {"task_id": task_id})
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
    rows = await database(request).fetch(
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
