"""An on-demand task's status: one type for the wire, the writer, the API, the dashboard
and the CLI.

The numbers are what `tasks.status` holds and what the API answers (`status`, with the
name as `status_name`). A status only moves forward; COMPLETED and ERROR are final.
"""

from __future__ import annotations

from enum import IntEnum


class TaskStatus(IntEnum):
    """NEW: accepted (in PostgreSQL only); PROCESSING: a checker started it; COMPLETED:
    the check produced a result, up or down; ERROR: it could not be performed (expired,
    blocked)."""

    NEW = 1
    PROCESSING = 2
    COMPLETED = 3
    ERROR = 4

    @property
    def final(self) -> bool:
        return self >= TaskStatus.COMPLETED

    @classmethod
    def parse(cls, text: str) -> TaskStatus:
        """A status by its name ("COMPLETED") or its number ("3"); ValueError otherwise."""
        try:
            return cls(int(text)) if text.isdigit() else cls[text]
        except (KeyError, ValueError):
            raise ValueError(f"not a task status: {text!r}") from None
