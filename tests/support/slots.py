"""Which checks, (site, slot, region), a run emitted on the task topics, and which it
stored.

Slots are compared as UTC text to the microsecond, the form both sides can be put in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from shared.errors import MessageError
from shared.messages import CheckTask, decode
from tests.support.db import Conn
from tests.support.topics import read_all

SLOT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
Slot = tuple[int, str, str]  # site, slot, region


def slot_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SLOT_FORMAT)


def emitted_slots(
    bootstrap: str, tasks_topic: str, more_topics: Iterable[str] = ()
) -> tuple[int, set[Slot]]:
    """(task messages, the distinct checks they name), over the tasks topic and any region
    topics given. Messages that are not tasks (poison a test injected) are not counted."""
    decoded = []
    for topic in (tasks_topic, *more_topics):
        for message in read_all(bootstrap, topic):
            try:
                decoded.append(decode(CheckTask, message.value()))
            except MessageError:
                continue
    return len(decoded), {(t.site_id, slot_text(t.scheduled_at), t.region) for t in decoded}


def stored_slots(db: Conn) -> set[Slot]:
    rows = db.execute(
        "SELECT site_id, to_char(scheduled_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), region FROM check_results"
    ).fetchall()
    return {(site_id, text, region) for site_id, text, region in rows}
