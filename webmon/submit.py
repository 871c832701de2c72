"""Accepting an on-demand task, for the API and the dashboard alike: the checks that refuse
it at once (a regex RE2 rejects, a blocked literal address), the submitter's limits, the
Idempotency-Key, and the row. The scheduler emits it from there."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from psycopg.types.json import Jsonb

from shared import locks
from shared.db import AsyncDatabase
from shared.netpolicy import TargetPolicy
from webmon.api.schemas import TaskIn
from webmon.api.settings import ApiSettings
from webmon.readmodel import TASKS
from webmon.regexes import regex_problem
from webmon.targets import blocked_literal

DEFAULT_TASK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Submitter:
    """An API key or a dashboard user (exactly one of the two)."""

    key_id: int | None = None
    user_id: int | None = None

    @property
    def lock(self) -> tuple[int, int]:
        if self.key_id is not None:
            return locks.TASK_LIMITS, self.key_id
        assert self.user_id is not None
        return locks.TASK_LIMITS + 1, self.user_id


class TaskRefused(Exception):
    """Not accepted: the HTTP status, why, and the field it is about (if one)."""

    def __init__(
        self,
        status: int,
        detail: str,
        about: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.about = about
        self.headers = headers or {}


async def accept_task(
    db: AsyncDatabase,
    settings: ApiSettings,
    policy: TargetPolicy,
    submitter: Submitter,
    task: TaskIn,
    idempotency_key: str | None = None,
) -> uuid.UUID:
    """The new task's id (or, for a repeated Idempotency-Key, the first task's);
    `TaskRefused` otherwise."""
    host = blocked_literal(policy, task.url)
    if host is not None:
        raise TaskRefused(422, f"url: {host} is in a blocked network", "url")
    if task.regex is not None and (problem := regex_problem(task.regex)) is not None:
        raise TaskRefused(422, f"regex: {problem}", "regex")
    if idempotency_key is not None and "\x00" in idempotency_key:
        raise TaskRefused(422, "Idempotency-Key: contains a NUL character")
    timeout = task.timeout_seconds if task.timeout_seconds is not None else DEFAULT_TASK_TIMEOUT_S
    async with db.connection() as conn, conn.transaction():
        if idempotency_key is not None and submitter.key_id is not None:
            cur = await conn.execute(
                TASKS["task_by_idempotency_key"],
                {"key_id": submitter.key_id, "idempotency_key": idempotency_key},
            )
            earlier = await cur.fetchone()
            if earlier is not None:
                if _differs(earlier, task, timeout):
                    raise TaskRefused(409, "Idempotency-Key: already used for a different task")
                return uuid.UUID(str(earlier[0]))
        lock_class, lock_id = submitter.lock
        cur = await conn.execute(
            TASKS["task_counts"],
            {
                "lock_class": lock_class,
                "lock_id": lock_id,
                "key_id": submitter.key_id,
                "user_id": submitter.user_id,
            },
        )
        counts = await cur.fetchone()
        assert counts is not None
        _, in_flight, last_minute, frees_in = counts
        if in_flight >= settings.tasks_in_flight:
            raise TaskRefused(
                429,
                f"{in_flight} tasks in flight already (WEBMON_TASKS_IN_FLIGHT is"
                f" {settings.tasks_in_flight}); wait for some to finish",
                headers={"Retry-After": "1"},
            )
        if last_minute >= settings.tasks_per_minute:
            raise TaskRefused(
                429,
                f"{last_minute} tasks submitted in the last minute"
                f" (WEBMON_TASKS_PER_MINUTE is {settings.tasks_per_minute})",
                headers={"Retry-After": str(max(1, math.ceil(frees_in or 1)))},
            )
        task_id = uuid.uuid4()
        await conn.execute(
            TASKS["create_task"],
            {
                "task_id": task_id,
                "key_id": submitter.key_id,
                "user_id": submitter.user_id,
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
    return task_id


def _differs(earlier: tuple[object, ...], task: TaskIn, timeout: float) -> bool:
    _, name, url, regex, timeout_s, method, headers = earlier
    assert isinstance(timeout_s, float | int)
    return (name, url, regex, float(timeout_s), method, headers) != (
        task.name, task.url, task.regex, float(timeout), task.method, task.headers,
    )  # fmt: skip
