"""Incidents, in the writer's transaction: which sites to walk, from where, and the writes.

A site needs no walk when its results in the batch are all later than its stored status
and cannot change its state, which `site_status.alerting` says without a lookup: all up
and the site clean (no down streak, no open incident: the usual batch, which costs
nothing here), or all down and its incident open with no up check since (a site that
stays down costs nothing either; the walk that ends its incident starts at its first up
check).

Every other site is walked (`thresholds.walk`) over its stored states in slot order (its
checks, or for a site of several regions or a region in an outage the quorum's verdicts,
`walk_checks`; below, "check" means a state):
  - from where its walk stands (`site_alert_state`) when the batch only adds later checks;
  - from the batch's earliest check when the site is clean (the checks before it since the
    last walk were all up, or they would have been walked);
  - for a late or redelivered result, from a point before it where the state is known:
    the opening check of the incident that covers it (the incident open, whatever came
    before), else the latest up or resolving check before it (`webmon_clean_anchor`, or
    `webmon_state_anchor` over states: nothing open, no streak); the stored incidents after
    that point are matched with the
    walk's (`thresholds.reconcile`).
So the incidents only depend on the checks in slot order, like `site_events`. The site's
`site_status` row, locked by the status upsert until commit, keeps two writers from
walking one site at once (and a quorum's site is locked before its states are read,
`lock_quorum_sites`). Notifications go into the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from checker.writer.flips import State
from checker.writer.thresholds import Check, Incident, Reconciled, WalkState, reconcile, walk
from shared.queries import load_queries

QUERIES = load_queries("checker.writer")
_TICK = timedelta(microseconds=1)  # PostgreSQL's resolution: "after t" is ">= t + 1 us"
# site_status.alerting: which results cannot change a site's walk.
CLEAN, WALK, STEADY = 0, 1, 2


def sites_to_walk(
    rows: Sequence[State], replaced: Iterable[tuple[Any, ...]], *, several: bool = True
) -> dict[int, datetime]:
    """site_id -> its earliest performed check in the batch, for the sites that need a walk.

    `replaced` rows are (site_id, previous_up, previous_slot or None, alerting) as the
    status upsert returned them; a site it did not return had nothing newer in the batch.
    A site with only later results is skipped when they cannot change its state: all up
    and it is clean (`alerting` 0), or all down and its incident is open with no up check
    since (2). `several`: whether some site has more than one performed check in the
    batch (`flips.several_per_site`).
    """
    if not several:  # one result per site, the usual batch: decided row by row
        alerting = {r[0]: r[3] for r in replaced}
        found: dict[int, datetime] = {}
        for row in rows:
            result = row.up
            if result is None:
                continue
            state = alerting.get(row.site_id)  # None: not newer than its status, late
            if (state == CLEAN and result) or (state == STEADY and not result):
                continue
            found[row.site_id] = row.scheduled_at
        return found
    earliest: dict[int, datetime] = {}
    down: set[int] = set()
    up: set[int] = set()
    for row in rows:
        result = row.up
        if result is None:  # a missed slot is no check
            continue
        site, slot = row.site_id, row.scheduled_at
        if site not in earliest or slot < earliest[site]:
            earliest[site] = slot
        (up if result else down).add(site)
    status = {r[0]: r for r in replaced}
    work: dict[int, datetime] = {}
    for site, first in earliest.items():
        r = status.get(site)
        if r is None or (r[2] is not None and first <= r[2]):  # a late check
            work[site] = first
        elif not ((r[3] == CLEAN and site not in down) or (r[3] == STEADY and site not in up)):
            work[site] = first
    return work


def update_incidents(
    cur: Any, conn: Any, work: dict[int, datetime], quorum: Container[int] = ()
) -> int:
    """Walk the sites of `work`, write incidents, walk states and notifications. Returns
    the notifications' events queued (before routing). `quorum`: the sites of the batch
    whose states are their quorum's (`checker.writer.quorum`)."""
    sites = sorted(work)
    states = cur.execute(
        QUERIES["alert_states"], {"site_ids": sites, "los": [work[s] for s in sites]}
    ).fetchall()
    plans: dict[int, _Plan] = {}
    for row in states:
        plans[row[0]] = _plan(row, work[row[0]])
    if not plans:
        return 0
    recount = [p for p in plans.values() if p.recount]
    walk_sites = sorted(plans)
    sinces = [plans[s].since for s in walk_sites]
    with conn.pipeline():
        checks_cur = conn.cursor()
        checks_cur.execute(
            QUERIES["walk_checks"],
            {
                "site_ids": walk_sites,
                "sinces": sinces,
                "from_up": [plans[s].from_up for s in walk_sites],
                "los": [work[s] for s in walk_sites],
                "quorum": [s in quorum for s in walk_sites],
                "earliest": min(sinces),
            },
        )
        stored_cur = None
        if recount:
            stored_cur = conn.cursor()
            stored_cur.execute(
                QUERIES["stored_incidents"],
                {
                    "site_ids": [p.site_id for p in recount],
                    "anchors": [p.anchor for p in recount],
                },
            )
    checks: dict[int, list[Check]] = {}
    for c in checks_cur.fetchall():
        checks.setdefault(c[0], []).append(Check(*c[1:]))
    stored: dict[int, list[Incident]] = {}
    if stored_cur is not None:
        for i in stored_cur.fetchall():
            stored.setdefault(i[0], []).append(_stored_incident(i))
    changes = Reconciled()
    ends: dict[int, WalkState] = {}
    for site, plan in plans.items():
        end, touched = walk(
            site, plan.state, checks.get(site, ()), plan.failure_threshold, plan.success_threshold
        )
        ends[site] = end
        done = reconcile(stored.get(site, ()), touched)
        changes.inserted += done.inserted
        changes.updated += done.updated
        changes.deleted += done.deleted
        changes.newly_resolved += done.newly_resolved
    _write_incidents(cur, conn, changes)
    return _write_states(cur, conn, plans, ends, changes)


class _Plan:
    __slots__ = (
        "anchor", "failure_threshold", "from_up", "recount", "since", "site_id", "state",
        "success_threshold",
    )  # fmt: skip

    def __init__(self, site_id: int, failure: int, success: int) -> None:
        self.site_id = site_id
        self.failure_threshold = failure
        self.success_threshold = success
        self.recount = False
        self.anchor: datetime | None = None
        self.state = WalkState()
        self.since = datetime.min
        # Open with no up check since: the downs before the first up check are not read.
        self.from_up = False


def _plan(row: tuple[Any, ...], lo: datetime) -> _Plan:
    (site, failure, success, last_slot, down_streak, down_since, down_status, down_error,
     down_detail, down_regex, up_streak, up_since, open_id, opened_at, opening_slot,
     opening_checked, status_code, error, detail, cause, regions, recount, cover_id,
     cover_opened, cover_opening, cover_checked, cover_status, cover_error, cover_detail,
     cover_cause, cover_regions, anchor) = row  # fmt: skip
    plan = _Plan(site, failure, success)
    if recount and cover_id is not None:
        # Walk again from the covering incident's opening check, the incident open. The
        # walk decides its resolution anew; it is matched with the stored one by id.
        plan.recount = True
        plan.anchor = cover_opened - _TICK  # the stored incidents from this one on
        covering = Incident(
            site_id=site, opened_at=cover_opened, opening_slot=cover_opening,
            opening_checked_at=cover_checked, status_code=cover_status, error=cover_error,
            error_detail=cover_detail, cause=cover_cause, id=cover_id, regions=cover_regions,
        )  # fmt: skip
        plan.state = WalkState(
            last_slot=cover_opening, down_streak=failure, down_since=cover_opened,
            down_status_code=cover_status, down_error=cover_error, down_detail=cover_detail,
            open_incident=covering,
        )  # fmt: skip
        plan.since = cover_opening + _TICK
        return plan
    if recount:
        plan.recount = True
        plan.anchor = anchor
        plan.state = WalkState(last_slot=anchor)  # clean after the anchor
        if anchor is None:
            plan.since = datetime.min.replace(tzinfo=lo.tzinfo)
        else:
            plan.since = anchor + _TICK
        return plan
    open_incident = None
    if open_id is not None:
        open_incident = Incident(
            site_id=site, opened_at=opened_at, opening_slot=opening_slot,
            opening_checked_at=opening_checked, status_code=status_code, error=error,
            error_detail=detail, cause=cause, id=open_id, regions=regions,
        )  # fmt: skip
    state = WalkState(
        last_slot=last_slot, down_streak=down_streak or 0, down_since=down_since,
        down_status_code=down_status, down_error=down_error, down_detail=down_detail,
        down_regex_matched=down_regex, up_streak=up_streak or 0, up_since=up_since,
        open_incident=open_incident,
    )  # fmt: skip
    if last_slot is None or state.clean:
        plan.state = WalkState(last_slot=None)
        plan.since = lo
    else:
        plan.state = state
        plan.since = last_slot + _TICK
        plan.from_up = state.open_incident is not None and state.up_streak == 0
    return plan


def _alerting(state: WalkState) -> int:
    if state.clean:
        return CLEAN
    return STEADY if state.open_incident is not None and state.up_streak == 0 else WALK


def _stored_incident(i: tuple[Any, ...]) -> Incident:
    return Incident(
        site_id=i[0], id=i[1], opened_at=i[2], opening_slot=i[3], opening_checked_at=i[4],
        status_code=i[5], error=i[6], error_detail=i[7], cause=i[8], resolved_at=i[9],
        resolving_slot=i[10], resolving_checked_at=i[11], regions=i[12],
    )  # fmt: skip


def _columns(incidents: Sequence[Incident]) -> dict[str, list[Any]]:
    return {
        "opened": [i.opened_at for i in incidents],
        "opening": [i.opening_slot for i in incidents],
        "opening_checked": [i.opening_checked_at for i in incidents],
        "causes": [i.cause for i in incidents],
        "status": [i.status_code for i in incidents],
        "errors": [i.error for i in incidents],
        "details": [i.error_detail for i in incidents],
        "resolved": [i.resolved_at for i in incidents],
        "resolving": [i.resolving_slot for i in incidents],
        "resolving_checked": [i.resolving_checked_at for i in incidents],
        # One text per incident (queries.sql, insert_incidents): a region's name has no comma.
        "regions": [None if i.regions is None else ",".join(i.regions) for i in incidents],
    }


def _write_incidents(cur: Any, conn: Any, changes: Reconciled) -> None:
    if not (changes.deleted or changes.updated or changes.inserted):
        return
    with conn.pipeline():
        if changes.deleted:
            cur.execute(QUERIES["delete_incidents"], {"ids": changes.deleted})
        if changes.updated:
            params = _columns(changes.updated)
            params["ids"] = [i.id for i in changes.updated]
            cur.execute(QUERIES["update_incidents"], params)
        if changes.inserted:
            params = _columns(changes.inserted)
            params["site_ids"] = [i.site_id for i in changes.inserted]
            ins = conn.cursor()
            ins.execute(QUERIES["insert_incidents"], params)
    if changes.inserted:
        ids = {(site, slot): iid for iid, site, slot in ins.fetchall()}
        for i in changes.inserted:
            i.id = ids[(i.site_id, i.opening_slot)]


def _write_states(
    cur: Any,
    conn: Any,
    plans: dict[int, _Plan],
    ends: dict[int, WalkState],
    changes: Reconciled,
) -> int:
    sites = [s for s in sorted(plans) if ends[s].last_slot is not None]
    states = [ends[s] for s in sites]
    # Walked again from its first slot and no state left (each was a region's now in an
    # outage): nothing is walked, as before its first state.
    gone = [s for s in sorted(plans) if ends[s].last_slot is None and plans[s].recount]
    events: list[tuple[int, int, str, datetime]] = []
    for i in changes.inserted:
        assert i.id is not None
        events.append((i.site_id, i.id, "down", i.opening_checked_at))
    for i in changes.newly_resolved:
        assert i.id is not None and i.resolving_checked_at is not None
        events.append((i.site_id, i.id, "resolved", i.resolving_checked_at))
    with conn.pipeline():
        cur.execute(
            QUERIES["save_alert_states"],
            {
                "site_ids": sites,
                "last_slots": [s.last_slot for s in states],
                "down_streaks": [s.down_streak for s in states],
                "down_since": [s.down_since for s in states],
                "down_status": [s.down_status_code for s in states],
                "down_errors": [s.down_error for s in states],
                "down_details": [s.down_detail for s in states],
                "down_regex": [s.down_regex_matched for s in states],
                "up_streaks": [s.up_streak for s in states],
                "up_since": [s.up_since for s in states],
                "open_ids": [s.open_incident.id if s.open_incident else None for s in states],
            },
        )
        cur.execute(
            QUERIES["mark_alerting"],
            {"site_ids": sites, "alerting": [_alerting(s) for s in states]},
        )
        if gone:
            cur.execute(QUERIES["forget_alert_states"], {"site_ids": gone})
        # The DOWNs first: a RESOLVED queued after them sees whether its DOWN is held.
        for kind in ("down", "resolved"):
            of_kind = [e for e in events if e[2] == kind]
            if not of_kind:
                continue
            cols = list(zip(*of_kind, strict=True))
            cur.execute(
                QUERIES["queue_notifications"],
                {
                    "site_ids": list(cols[0]),
                    "incident_ids": list(cols[1]),
                    "kinds": list(cols[2]),
                    "event_at": list(cols[3]),
                },
            )
    return len(events)
