"""Which results of a batch flip their site between up and down.

A flip is defined on each site's states in slot order: a state whose `up` differs from
the state of the slot before it (or the site's first state ever). A site's state at a
slot is its check, or for a site of several regions (or a region in an outage) the
quorum's verdict (`checker.writer.quorum`); the batch's states are its rows, or the
verdicts it changed. Missed slots (`up` None) and slots with no verdict are no states:
they flip nothing and are skipped. The writer's status
upsert locks the batch's `site_status` rows and returns the state each one replaced, so
for a site whose replaced slot is older than every slot in the batch, the flips follow
from the batch alone, walked in slot order from that state. Anything else (a late or
redelivered result, a site with no status yet) is recounted in SQL from `check_results`
around the batch's slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

# (site_id, scheduled_at, checked_at, from_up, to_up, status_code, error, error_detail)
Event = tuple[int, datetime, datetime, bool | None, bool, int | None, str | None, str | None]
# site_id -> (earliest, latest) slot of the batch
Recount = dict[int, tuple[datetime, datetime]]


class State(Protocol):
    """What the flips and the incidents read of a slot's state: a `CheckResult`, or a
    `quorum.SlotState`."""

    @property
    def site_id(self) -> int: ...
    @property
    def scheduled_at(self) -> datetime: ...
    @property
    def checked_at(self) -> datetime: ...
    @property
    def up(self) -> bool | None: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_detail(self) -> str | None: ...


def several_per_site(rows: Sequence[State]) -> bool:
    """Whether some site has more than one performed check in the batch (missed slots, up
    None, are no checks)."""
    sites = [row.site_id for row in rows if row.up is not None]
    return len(sites) != len(set(sites))


def site_flips(
    rows: Sequence[State], replaced: Iterable[tuple[Any, ...]]
) -> tuple[list[Event], Recount]:
    """Flips found from the batch alone, and the sites that need a recount in SQL.

    `replaced` holds (site_id, up, slot) of the latest result each site had before the
    batch's newest replaced it, as the status upsert returned them (the slot only where
    a site has more than one result in the batch). Up None: the site had
    no status, so nothing of it was stored before (the writer stores a site's results and
    its status in one transaction) and its batch is its whole history so far. Sites the
    upsert did not return had nothing newer in the batch: a late or repeated result.
    """
    before = {r[0]: r[1:] for r in replaced}
    events: list[Event] = []
    recount: Recount = {}
    if not several_per_site(rows):  # one result per site: the usual batch
        for row in rows:
            site, slot, up = row.site_id, row.scheduled_at, row.up
            if up is None:  # a missed slot: no check, no flip
                continue
            state = before.get(site)
            if state is None:
                recount[site] = (slot, slot)
            elif up != state[0]:
                events.append(
                    (site, slot, row.checked_at, state[0], up, row.status_code, row.error,
                     row.error_detail)
                )  # fmt: skip
        return events, recount
    by_site: dict[int, list[State]] = {}
    for row in rows:
        if row.up is not None:
            by_site.setdefault(row.site_id, []).append(row)
    for site, site_rows in by_site.items():
        site_rows.sort(key=lambda r: r.scheduled_at)  # slot order
        first, last = site_rows[0].scheduled_at, site_rows[-1].scheduled_at
        state = before.get(site)
        if state is None or (state[0] is not None and first <= state[1]):
            recount[site] = (first, last)
            continue
        previous_up, previous_slot = state[0], (state[1] if state[0] is not None else None)
        for row in site_rows:
            slot, checked, status, up = row.scheduled_at, row.checked_at, row.status_code, row.up
            error, detail = row.error, row.error_detail
            if slot == previous_slot or up is None:  # the same result twice in one batch
                continue
            if up != previous_up:
                events.append((site, slot, checked, previous_up, up, status, error, detail))
            previous_up, previous_slot = up, slot
    return events, recount
