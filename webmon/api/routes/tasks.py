"""`/api/v1/tasks`: on-demand checks, NEW → PROCESSING → COMPLETED / ERROR (`webmon.core.tasks`),
and `/api/v1/sites/{id}/check`, a site's "check now".

A submission is one task per region it chose (`region`: a name, or `all`), each with its
own id, status and result; the answer lists them. `Idempotency-Key` makes a retried POST
return the tasks of the first one; over a key's limits the answer is 429 with Retry-After.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response

from shared.task_status import TaskStatus
from webmon.api.auth import READ, WRITE
from webmon.api.common import core, json_response
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import TaskAccepted, TaskOut, task_out
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.core.actors import Actor
from webmon.core.tasks import LAST_ID, LATEST, SiteCheckIn, Submitted, TaskIn

# No prefix: a site's "check now" is a task too, under the site's path.
router = APIRouter(tags=["tasks"])
TASKS = "/api/v1/tasks"

StatusName = Literal["NEW", "PROCESSING", "COMPLETED", "ERROR", "1", "2", "3", "4"]


@router.post(
    TASKS,
    status_code=202,
    response_model=TaskAccepted,
    summary="Check a URL once, now",
    responses={
        409: {"description": "the Idempotency-Key was used for a different task"},
        429: {"description": "over this key's limit; see Retry-After"},
    },
)
async def submit(
    request: Request,
    task: TaskIn,
    caller: Actor = WRITE,
    idempotency_key: Annotated[
        str | None, Header(min_length=1, max_length=200, description="a retry gets the same task")
    ] = None,
) -> Response:
    return _accepted(await core(request).tasks.submit(caller, task, idempotency_key))


@router.post(
    "/api/v1/sites/{site_id}/check",
    status_code=202,
    response_model=TaskAccepted,
    summary="Check a site once, now, from one of its regions or from each",
    responses={
        404: {"description": "no such site"},
        409: {"description": "the Idempotency-Key was used for a different task"},
        422: {"description": "the region is not one the site is checked from"},
        429: {"description": "over this key's limit; see Retry-After"},
    },
)
async def check_site(
    request: Request,
    site_id: Annotated[int, Path(ge=1)],
    check: SiteCheckIn | None = None,
    caller: Actor = WRITE,
    idempotency_key: Annotated[
        str | None, Header(min_length=1, max_length=200, description="a retry gets the same task")
    ] = None,
) -> Response:
    the_core = core(request)
    site = await the_core.sites.get(site_id)
    region = None if check is None else check.region
    return _accepted(await the_core.tasks.check_site(caller, site, region, idempotency_key))


def _accepted(submitted: Submitted) -> Response:
    """202: the first task's id (the request's), and every task with its region."""
    body = {"task_id": str(submitted.task_id),
            "tasks": [{"task_id": str(t), "region": r} for t, r in submitted.tasks]}  # fmt: skip
    return json_response(body, 202, {"Location": f"{TASKS}/{submitted.task_id}"})


@router.get(
    f"{TASKS}/{{task_id}}", response_model=TaskOut, summary="One task and, once final, its result"
)
async def get_task(
    request: Request, task_id: Annotated[uuid.UUID, Path()], caller: Actor = READ
) -> Response:
    return json_response(task_out(await core(request).tasks.get(task_id)))


@router.get(TASKS, response_model=list[TaskOut], summary="Tasks, newest first")
async def list_tasks(
    request: Request,
    caller: Actor = READ,
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    before = (LATEST, LAST_ID)
    if cursor:
        at, task = decode_cursor(cursor, 2)
        try:
            before = (datetime.fromisoformat(str(at)), uuid.UUID(str(task)))
        except ValueError:
            raise Problem(422, "cursor: not a cursor this API gave out") from None
    wanted = None if status is None else TaskStatus.parse(status)
    tasks = await core(request).tasks.page(before=before, status=wanted, limit=limit + 1)
    more = len(tasks) > limit
    tasks = tasks[:limit]
    key = [tasks[-1].created_at.isoformat(), str(tasks[-1].task_id)] if more else None
    return json_response([task_out(t) for t in tasks], headers=next_link(request, key))
