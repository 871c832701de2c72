"""The on-demand results topic's message: a task's status moving on."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import msgspec

from shared.messages.bounds import AwareDatetime
from shared.messages.codec import Message
from shared.messages.results import CheckResult
from shared.task_status import TaskStatus

# What an on-demand task's result keeps of its CheckResult: the fields of a check_results
# row that describe the check (not the site, the URL, the slot, or the region and the
# site's count of them: the task itself names where it ran).
TASK_RESULT_EXCLUDE = frozenset(
    {"site_id", "task_id", "url", "scheduled_at", "region", "region_count"}
)
TASK_RESULT_FIELDS: Final = tuple(
    name for name in CheckResult.__struct_fields__ if name not in TASK_RESULT_EXCLUDE
)


class TaskUpdate(Message, kw_only=True, frozen=True):
    """An on-demand task's status moving on: PROCESSING when a checker starts it, then
    COMPLETED (the check produced a result, up or down) or ERROR (it could not be
    performed: expired, blocked), with the result."""

    task_id: UUID
    status: TaskStatus
    at: AwareDatetime
    result: CheckResult | None = None

    def __post_init__(self) -> None:
        if self.status == TaskStatus.NEW:
            raise ValueError("a task update moves a task past NEW")
        if (self.status >= TaskStatus.COMPLETED) != (self.result is not None):
            raise ValueError("a final status carries a result, PROCESSING none")

    def stored_result(self) -> dict[str, Any] | None:
        """The result as the task's `result` column holds it: JSON values, nulls kept."""
        if self.result is None:
            return None
        fields = {name: getattr(self.result, name) for name in TASK_RESULT_FIELDS}
        return msgspec.to_builtins(fields)  # type: ignore[no-any-return]
