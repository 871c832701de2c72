"""The tasks of one claimed row: `claim_due`'s columns become a CheckTask, one per region
the site is checked from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from shared.messages import DEFAULT_METHOD, CheckTask, TaskAuth
from shared.messages.bounds import DEFAULT_REGION


def claimed_task(
    site_id: int,
    url: str,
    timeout_s: float,
    regex: str | None,
    scheduled_at: datetime,
    expires_at: datetime,
    method: Literal["GET", "HEAD", "POST", "PUT"] | None = None,
    headers: dict[str, str] | None = None,
    expected_status: Sequence[Sequence[int]] | None = None,
    max_redirects: int | None = None,
    restricted: bool = False,
    options: dict[str, Any] | None = None,
    auth: dict[str, Any] | None = None,
    regions: Sequence[str] | None = None,
) -> CheckTask:
    """The task of one `claim_due` row, whose columns are the arguments in their order,
    for the default region (`region_tasks` makes the others from it).

    NULL stands for a default (a GET method, the default statuses); `options` are the
    site's non-default HTTP options (a jsonb object, NULL for a plain site), `auth` its
    sealed credentials, `regions` the regions the site is checked from (NULL: the default
    region alone). A plain site's task is built and encoded as fast as the
    hand-built JSON it replaced (measured), so the task's own encoder is the scheduler's.
    """
    task = CheckTask(
        site_id=site_id,
        url=url,
        timeout_s=timeout_s,
        regex=regex,
        scheduled_at=scheduled_at,
        expires_at=expires_at,
        method=method or DEFAULT_METHOD,
        headers=headers,
        max_redirects=max_redirects,
        restricted=restricted,
    )
    if options is None and auth is None and expected_status is None:  # a plain site
        return task
    return msgspec.structs.replace(
        task,
        expected_status=None
        if expected_status is None
        else tuple((low, high) for low, high in expected_status),
        **(options or {}),
        auth=None if auth is None else TaskAuth(**auth),
    )


def region_tasks(task: CheckTask, regions: Sequence[str] | None) -> list[CheckTask]:
    """The tasks of one claimed slot: one per region the site is checked from."""
    if regions is None:
        return [task]
    # The default region's task is the claimed one as it is: msgspec leaves a field out of
    # the encoding only when it holds the default object itself, not an equal string.
    # Every task of a site of several regions says how many (`region_count`): the writer
    # takes that site's state from the quorum.
    if len(regions) > 1:
        task = msgspec.structs.replace(task, region_count=len(regions))
    return [
        task if region == DEFAULT_REGION else msgspec.structs.replace(task, region=region)
        for region in regions
    ]


# The position of `regions` in a claim_due row.
REGIONS_COLUMN = -1
