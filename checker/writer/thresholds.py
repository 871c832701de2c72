"""The incident state machine: a site's checks in slot order -> its incidents.

An incident opens at the `failure_threshold`-th consecutive down check and resolves at the
`success_threshold`-th consecutive up check after it (thresholds after Gatus'
failure-threshold and success-threshold). A "check" here is a slot's state: a site's own
check, or for a site of several regions (or a region in an outage) the quorum's verdict,
with the check that stands for it (`walk_checks`). Missed slots, and slots with no
verdict, are no checks: they are never walked, so they neither break nor extend a
streak. Everything here is a pure function of
the checks walked and the state walked from, which is what makes the incidents the same
whatever order the results arrived in: the writer only chooses where to start walking
(`checker.writer.incidents`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.causes import why_down


@dataclass(frozen=True, slots=True)
class Check:
    slot: datetime
    checked_at: datetime
    up: bool
    status_code: int | None = None
    error: str | None = None
    error_detail: str | None = None
    regex_matched: bool | None = None
    # The regions that saw a down state down (a site of several regions); None otherwise.
    regions: Sequence[str] | None = None


@dataclass(slots=True)
class Incident:
    site_id: int
    opened_at: datetime  # the first down check of the run
    opening_slot: datetime  # the check that reached the failure threshold
    opening_checked_at: datetime
    status_code: int | None
    error: str | None
    error_detail: str | None
    cause: str
    resolved_at: datetime | None = None  # the first up check of the run that resolved it
    resolving_slot: datetime | None = None  # the check that reached the success threshold
    resolving_checked_at: datetime | None = None
    id: int | None = None
    # The regions that saw the opening check's slot down (a site of several regions).
    regions: Sequence[str] | None = None

    def end(self) -> float:
        """Where it stops covering slots, as a timestamp (open: never)."""
        return self.resolving_slot.timestamp() if self.resolving_slot else math.inf

    def same_as(self, other: Incident) -> bool:
        return _fields(self) == _fields(other)


def _fields(i: Incident) -> tuple[object, ...]:
    return (
        i.opened_at, i.opening_slot, i.opening_checked_at, i.status_code, i.error,
        i.error_detail, i.cause, i.resolved_at, i.resolving_slot, i.resolving_checked_at,
        None if i.regions is None else tuple(i.regions),
    )  # fmt: skip


@dataclass(slots=True)
class WalkState:
    """Where a site's walk stands after the check of `last_slot` (None: before any)."""

    last_slot: datetime | None = None
    down_streak: int = 0
    down_since: datetime | None = None
    down_status_code: int | None = None
    down_error: str | None = None
    down_detail: str | None = None
    down_regex_matched: bool | None = None
    up_streak: int = 0
    up_since: datetime | None = None
    open_incident: Incident | None = field(default=None)

    @property
    def clean(self) -> bool:
        """No down streak and no open incident: an up check leaves it as it is."""
        return self.down_streak == 0 and self.open_incident is None


def walk(
    site_id: int,
    state: WalkState,
    checks: Iterable[Check],
    failure_threshold: int,
    success_threshold: int,
) -> tuple[WalkState, list[Incident]]:
    """Walk `checks` (slot order, after `state.last_slot`) from `state`. Returns the state
    after the last one and every incident the walk touched, in order: the one open at the
    start (if any, as continued) and each one it opened."""
    s = replace(state)
    touched: list[Incident] = [s.open_incident] if s.open_incident is not None else []
    for c in checks:
        if s.last_slot is not None and c.slot <= s.last_slot:
            continue  # the same check twice
        s.last_slot = c.slot
        if not c.up:
            s.up_streak, s.up_since = 0, None
            s.down_streak += 1
            if s.down_streak == 1:
                s.down_since, s.down_status_code = c.slot, c.status_code
                s.down_error, s.down_detail = c.error, c.error_detail
                s.down_regex_matched = c.regex_matched
            if s.open_incident is None and s.down_streak >= failure_threshold:
                assert s.down_since is not None
                s.open_incident = Incident(
                    site_id=site_id,
                    opened_at=s.down_since,
                    opening_slot=c.slot,
                    opening_checked_at=c.checked_at,
                    status_code=s.down_status_code,
                    error=s.down_error,
                    error_detail=s.down_detail,
                    cause=why_down(s.down_status_code, s.down_error, s.down_regex_matched),
                    regions=c.regions,
                )
                touched.append(s.open_incident)
            continue
        s.down_streak = 0
        s.down_since = s.down_status_code = s.down_error = s.down_detail = None
        s.down_regex_matched = None
        if s.open_incident is None:
            continue
        s.up_streak += 1
        if s.up_streak == 1:
            s.up_since = c.slot
        if s.up_streak >= success_threshold:
            s.open_incident.resolved_at = s.up_since
            s.open_incident.resolving_slot = c.slot
            s.open_incident.resolving_checked_at = c.checked_at
            s.open_incident, s.up_streak, s.up_since = None, 0, None
    return s, touched


@dataclass
class Reconciled:
    """How the stored incidents change into the computed ones."""

    inserted: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)  # with the stored one's id
    deleted: list[int] = field(default_factory=list)
    # The computed incidents that became resolved (they were open or new): these notify.
    newly_resolved: list[Incident] = field(default_factory=list)


def reconcile(stored: Sequence[Incident], computed: Sequence[Incident]) -> Reconciled:
    """Pair each computed incident with the stored one it overlaps (both lists in slot
    order, neither overlapping itself), so that an incident a late result moves keeps its
    id, and so its notifications' idempotency keys. An incident with an id in `computed`
    (one the walk started with, open) is stored already: it pairs with the stored one of
    that id if `stored` has it, else it is the open incident of an incremental walk."""
    out = Reconciled()
    by_id = {s.id: s for s in stored}
    pending = [s for s in stored if all(s.id != c.id for c in computed)]
    i = 0
    for c in computed:
        was_open: bool
        if c.id is not None:
            match = by_id.get(c.id)
            if match is None:  # the open incident an incremental walk continued
                was_open = True
                if c.resolved_at is not None:
                    out.updated.append(c)
            else:
                was_open = match.resolved_at is None
                if not c.same_as(match):
                    out.updated.append(c)
        else:
            while i < len(pending) and pending[i].end() < c.opened_at.timestamp():
                out.deleted.append(_id(pending[i]))
                i += 1
            if i < len(pending) and pending[i].opened_at.timestamp() <= c.end():
                match = pending[i]
                i += 1
                was_open = match.resolved_at is None
                c.id = match.id
                if not c.same_as(match):
                    out.updated.append(c)
            else:
                was_open = True
                out.inserted.append(c)
        if c.resolved_at is not None and was_open:
            out.newly_resolved.append(c)
    out.deleted.extend(_id(s) for s in pending[i:])
    return out


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id
