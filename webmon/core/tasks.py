"""On-demand tasks: accept a check of a URL now, and show tasks with their results.

A task is accepted into PostgreSQL and nothing else happens in the request: the scheduler
emits accepted tasks to Kafka (woken by a notification), so a task accepted just before
any process dies is emitted all the same. Every task is checked under the target policy.
Limits per submitter (an API key or a dashboard user): tasks in flight and tasks a
minute. An Idempotency-Key makes a retried submission return the first task.

A task runs in one region (docs/regions.md, "On demand"). A submission names a region, or
`all`, and becomes one task per region it chose (each on its region's topic, each with its
own status and result), sharing a request id; `chosen_regions` is the one rule of which
regions a submission may name.

A task's status is `shared.messages.TaskStatus`, the one type the writer, the API, the
dashboard and the CLI all use.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from psycopg.types.json import Jsonb
from pydantic import Field

from shared import locks
from shared.db import AsyncConnection, AsyncDatabase, dict_rows, translated_errors
from shared.errors import DatabaseError
from shared.messages.bounds import DEFAULT_REGION
from shared.netpolicy import TargetPolicy
from shared.queries import load_queries
from shared.task_status import TaskStatus
from webmon.core.actors import Actor
from webmon.core.errors import (
    Conflict,
    ConstraintWords,
    Invalid,
    Limited,
    NotFound,
    invalid_from_database,
)
from webmon.core.site_rules import URL_FORMS, Headers, Input, Regex, Url, regex_problem
from webmon.core.site_views import Site
from webmon.core.targets import refuse_untrusted_target

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "tasks.sql")
DEFAULT_TASK_TIMEOUT_S = 10.0
MAX_TASK_TIMEOUT_S = 60.0
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
LAST_ID = uuid.UUID(int=2**128 - 1)
# The region choice that means every region of the site (or, for a URL, of the sites).
ALL_REGIONS: Final = "all"

CONSTRAINTS: ConstraintWords = {
    "tasks_url_form": ("url", URL_FORMS),
    "tasks_http_options": ("method", "method and headers are options of http(s) URLs only"),
    "tasks_tls_without_regex": ("regex", "a tls:// check reads nothing, so it cannot have a regex"),
    "tasks_url_length": ("url", "the URL may be at most 2,048 characters long"),
    "tasks_url_no_whitespace": ("url", "the URL may not contain spaces or control characters"),
    "tasks_url_no_userinfo": ("url", "the URL may not carry a user name or password"),
    "tasks_timeout_range": (
        "timeout_seconds", "the timeout must be more than 0 and at most 60 seconds",
    ),
    "tasks_regex_length": ("regex", "the regex may be at most 1,000 characters long"),
    "tasks_name_length": ("name", "the name must be 1 to 200 characters long"),
    "tasks_method": ("method", "the method must be GET or HEAD"),
    "tasks_head_without_regex": (
        "regex", "a HEAD request reads no body, so it cannot have a regex",
    ),
    "tasks_headers_valid": ("headers", "headers must be a JSON object of at most 50 string values"),
    "tasks_region": ("region", "a region's name is 1 to 40 lower-case letters, digits, - or _"),
}  # fmt: skip


class TaskIn(Input):
    name: str = Field(min_length=1, max_length=200, examples=["is the shop up?"])
    url: Url
    regex: Regex | None = None
    timeout_seconds: float | None = Field(
        default=None, gt=0, le=MAX_TASK_TIMEOUT_S, description="default 10"
    )
    method: Literal["GET", "HEAD"] = "GET"
    headers: Headers | None = None
    # Judged by `chosen_regions`, not by a pattern here: the same words in every surface.
    region: str | None = Field(
        default=None,
        max_length=40,
        description="a region the sites are checked from, or `all` (a task per region);"
        " default: the default region, or, when no site is checked from it, all",
        examples=["eu-west", "all"],
    )


class SiteCheckIn(Input):
    """A site's "check now" (the site says what is checked)."""

    region: str | None = Field(
        default=None,
        max_length=40,
        description="one of the site's regions, or `all`; default: each of its regions",
        examples=["eu-west", "all"],
    )


@dataclass(frozen=True)
class TaskLimits:
    per_minute: int
    in_flight: int
    start_within_s: float


def chosen_regions(choice: str | None, regions: Sequence[str], site_id: int | None) -> list[str]:
    """The regions a submission's tasks run in, in `regions`' order: the region it names,
    which must be one of `regions` (the site's; for a URL, those the sites are checked
    from), or all of them for `all`.

    No choice: a site's "check now" runs from each of its regions (for a single region,
    that one); a URL's check runs once, from the default region while any site is checked
    from it (as before regions), else from each region the sites are checked from."""
    if choice is None and site_id is None and DEFAULT_REGION in regions:
        return [DEFAULT_REGION]
    if choice is None or choice == ALL_REGIONS:
        return list(regions)
    if choice in regions:
        return [choice]
    listed = ", ".join(regions)
    if site_id is None:
        words = f"no site is checked from {choice!r} (the regions: {listed})"
    else:
        words = f"site {site_id} is not checked from {choice!r} (its regions: {listed})"
    raise Invalid("region", f"{words}; name one of them, or {ALL_REGIONS}")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The tasks of one submission, one per region, in the order of the regions chosen."""

    tasks: tuple[tuple[uuid.UUID, str], ...]  # (task_id, region)

    @property
    def task_id(self) -> uuid.UUID:
        """The first task's id: the request's."""
        return self.tasks[0][0]

    @property
    def task_ids(self) -> list[uuid.UUID]:
        return [task_id for task_id, _ in self.tasks]


@dataclass(frozen=True, slots=True)
class Task:
    task_id: uuid.UUID
    name: str
    url: str
    # Where it ran: the checkers of this region performed it.
    region: str
    # The tasks submitted together (one per region) share it: the first one's task_id.
    request_id: uuid.UUID
    status: TaskStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Task:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["status"] = TaskStatus(row["status"])
        return cls(**values)

    @property
    def final(self) -> bool:
        return self.status.final

    @property
    def duration_s(self) -> float | None:
        """From accepted to final."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()


def task_from_text(values: Mapping[str, str]) -> TaskIn:
    """A task from a form's text: a name defaults to the URL."""
    url = values.get("url", "").strip()
    fields_: dict[str, Any] = {"name": values.get("name", "").strip() or url[:200] or "task",
                               "url": url}  # fmt: skip
    if values.get("regex", "").strip():
        fields_["regex"] = values["regex"].strip()
    if values.get("timeout_seconds", "").strip():
        fields_["timeout_seconds"] = values["timeout_seconds"].strip()
    if values.get("region", "").strip():
        fields_["region"] = values["region"].strip()
    return TaskIn.model_validate(fields_)


class Tasks:
    def __init__(self, db: AsyncDatabase, policy: TargetPolicy, limits: TaskLimits) -> None:
        self._db = db
        self._policy = policy
        self._limits = limits

    async def submit(
        self,
        actor: Actor,
        task: TaskIn,
        idempotency_key: str | None = None,
        *,
        site: Site | None = None,
    ) -> Submitted:
        """The new tasks, one per region chosen (or, for a repeated Idempotency-Key, the
        first submission's). `site`: a "check now" of that site, from its regions.

        A task is checked under the target policy unless what it checks is the operator's:
        a URL the operator gave, or a site the operator registered (`site.restricted`
        false), which a "check now" only repeats."""
        restricted = not actor.trusted and (site is None or site.restricted)
        if restricted:
            refuse_untrusted_target(self._policy, task.url)
        if task.regex is not None and (problem := regex_problem(task.regex)) is not None:
            raise Invalid("regex", problem)
        if idempotency_key is not None and "\x00" in idempotency_key:
            raise Invalid("Idempotency-Key", "contains a NUL character")
        timeout = (
            task.timeout_seconds if task.timeout_seconds is not None else DEFAULT_TASK_TIMEOUT_S
        )
        key_id, user_id = actor.key_id, actor.user_id
        site_id = None if site is None else site.id
        async with self._db.connection() as conn, conn.transaction():
            if site is not None:
                regions = chosen_regions(task.region, site.regions, site.id)
            else:
                regions = chosen_regions(task.region, await _url_regions(conn, task.region), None)
            if idempotency_key is not None and key_id is not None:
                earlier = await self._earlier(conn, key_id, idempotency_key, task, timeout,
                                              regions)  # fmt: skip
                if earlier is not None:
                    return earlier
            lock_class = locks.TASK_LIMITS if key_id is not None else locks.TASK_LIMITS + 1
            lock_id = key_id if key_id is not None else user_id
            params = {"lock_class": lock_class, "lock_id": lock_id, "key_id": key_id,
                      "user_id": user_id}  # fmt: skip
            cur = await conn.execute(QUERIES["task_counts"], params)
            counts = await cur.fetchone()
            assert counts is not None
            _, in_flight, last_minute, frees_in = counts
            self._within_limits(in_flight, last_minute, frees_in, len(regions))
            task_ids = [uuid.uuid4() for _ in regions]
            try:
                with translated_errors():
                    await conn.execute(QUERIES["create_tasks"], {
                        "task_ids": task_ids, "regions": regions, "request_id": task_ids[0],
                        "key_id": key_id, "user_id": user_id,
                        "name": task.name, "url": task.url, "regex": task.regex,
                        "timeout_seconds": timeout, "method": task.method,
                        "headers": None if task.headers is None else Jsonb(task.headers),
                        "start_within": timedelta(seconds=self._limits.start_within_s),
                        "idempotency_key": idempotency_key, "site_id": site_id,
                        "restricted": restricted,
                    })  # fmt: skip
            except DatabaseError as exc:
                if not exc.integrity:
                    raise
                raise invalid_from_database(exc, CONSTRAINTS) from None
        logger.info(
            "tasks.accepted task_id=%s by=%s site_id=%s regions=%s",
            task_ids[0], actor, site_id, ",".join(regions),
        )  # fmt: skip
        return Submitted(tuple(zip(task_ids, regions, strict=True)))

    async def _earlier(
        self,
        conn: AsyncConnection,
        key_id: int,
        idempotency_key: str,
        task: TaskIn,
        timeout: float,
        regions: list[str],
    ) -> Submitted | None:
        """The tasks of an earlier submission with this Idempotency-Key, if any; Conflict
        when it asked for something else (another check, or other regions)."""
        rows = await dict_rows(
            conn,
            QUERIES["task_by_idempotency_key"],
            {"key_id": key_id, "idempotency_key": idempotency_key},
        )
        if not rows:
            return None
        first = rows[0]
        cur = await conn.execute(QUERIES["request_tasks"], {"request_id": first["request_id"]})
        by_region = {region: task_id for task_id, region in await cur.fetchall()}
        if _differs(first, task, timeout) or set(by_region) != set(regions):
            raise Conflict("Idempotency-Key: already used for a different task")
        return Submitted(tuple((by_region[r], r) for r in regions))

    async def check_site(
        self,
        actor: Actor,
        site: Site,
        region: str | None = None,
        idempotency_key: str | None = None,
    ) -> Submitted:
        """ "Check now": on-demand tasks for a site, from one of its regions or (`all`, or
        no choice) from each, under the same limits and target policy as any task. A task
        is a GET or HEAD of the URL with the site's headers, regex and timeout (at most a
        task's 60 s); a POST body, auth and the expected statuses stay the scheduled
        checks' own."""
        method: Literal["GET", "HEAD"] = "HEAD" if site.method == "HEAD" else "GET"
        task = TaskIn(
            name=f"check now: site {site.id}", url=site.url, regex=site.regex,
            timeout_seconds=min(site.timeout_seconds, MAX_TASK_TIMEOUT_S), method=method,
            headers=site.headers, region=region,
        )  # fmt: skip
        return await self.submit(actor, task, idempotency_key, site=site)

    async def latest_for_site(self, site_id: int) -> list[Task]:
        """The latest "check now" of a site: its tasks, one per region, by region."""
        rows = await self._db.rows(QUERIES["latest_site_tasks"], {"site_id": site_id})
        return [Task.from_row(r) for r in rows]

    async def regions(self) -> list[str]:
        """The regions a task of a URL may name: those the sites are checked from."""
        row = await self._db.row(QUERIES["known_regions"], {})
        return [] if row is None else list(row["regions"])

    def _within_limits(
        self, in_flight: int, last_minute: int, frees_in: float | None, adding: int
    ) -> None:
        """`adding` tasks (one per region) fit within both limits, or none is accepted."""
        more = "" if adding == 1 else f"; {adding} more (one per region) would pass it"
        if in_flight + adding > self._limits.in_flight:
            raise Limited(
                f"{in_flight} tasks in flight already (WEBMON_TASKS_IN_FLIGHT is"
                f" {self._limits.in_flight}){more}; wait for some to finish",
                retry_after=1,
            )
        if last_minute + adding > self._limits.per_minute:
            raise Limited(
                f"{last_minute} tasks submitted in the last minute"
                f" (WEBMON_TASKS_PER_MINUTE is {self._limits.per_minute}){more}",
                retry_after=max(1, math.ceil(frees_in or 1)),
            )

    async def get(self, task_id: uuid.UUID) -> Task:
        row = await self._db.row(QUERIES["get_task"], {"task_id": task_id})
        if row is None:
            raise NotFound(f"no task {task_id}")
        return Task.from_row(row)

    async def page(
        self,
        *,
        before: tuple[datetime, uuid.UUID] = (LATEST, LAST_ID),
        status: TaskStatus | None = None,
        limit: int = 50,
    ) -> list[Task]:
        """Newest first, before the (created_at, task_id) of a cursor."""
        params = {"before_at": before[0], "before_id": before[1],
                  "status": None if status is None else int(status), "limit": limit}  # fmt: skip
        return [Task.from_row(r) for r in await self._db.rows(QUERIES["list_tasks"], params)]


async def _url_regions(conn: AsyncConnection, choice: str | None) -> list[str]:
    """The regions a URL's task chooses from, as far as `choice` needs them: the region it
    names (or the default region, for no choice) alone when a site is checked from it,
    which a look finds at the first such site; else every region the sites are checked
    from."""
    named = DEFAULT_REGION if choice is None else choice
    if named != ALL_REGIONS:
        cur = await conn.execute(QUERIES["region_named"], {"region": named})
        found = await cur.fetchone()
        if found is not None and found[0]:
            return [named]
    cur = await conn.execute(QUERIES["known_regions"])
    known = await cur.fetchone()
    assert known is not None
    return list(known[0])


def _differs(earlier: Mapping[str, Any], task: TaskIn, timeout: float) -> bool:
    return (
        earlier["name"], earlier["url"], earlier["regex"], float(earlier["timeout_seconds"]),
        earlier["method"], earlier["headers"],
    ) != (task.name, task.url, task.regex, float(timeout), task.method, task.headers)  # fmt: skip
