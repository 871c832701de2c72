"""The incident state machine: thresholds, missed slots, flapping, reconciliation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from checker.writer.thresholds import Check, Incident, WalkState, reconcile, walk
from shared.causes import why_down

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def checks(pattern: str, start: int = 0) -> list[Check]:
    """'D' down (503), 'U' up, '.' a missed slot (never walked)."""
    return [
        Check(T0 + timedelta(minutes=start + n), T0 + timedelta(minutes=start + n, seconds=1),
              up=ch == "U", status_code=200 if ch == "U" else 503)
        for n, ch in enumerate(pattern)
        if ch != "."
    ]  # fmt: skip


def incidents(pattern: str, failure: int = 3, success: int = 2) -> list[Incident]:
    _, touched = walk(1, WalkState(), checks(pattern), failure, success)
    return touched


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def test_five_down_three_up_is_one_incident_with_its_times() -> None:
    [i] = incidents("UDDDDDUUU")
    assert (i.opened_at, i.opening_slot, i.opening_checked_at) == (
        minute(1), minute(3), minute(3) + timedelta(seconds=1),
    )  # fmt: skip
    assert (i.resolved_at, i.resolving_slot) == (minute(6), minute(7))
    assert i.cause == "HTTP 503"


def test_flapping_below_the_thresholds_opens_nothing() -> None:
    assert incidents("DUDUDUDDUDDU") == []


def test_an_up_check_between_downs_of_an_incident_does_not_resolve_it() -> None:
    [i] = incidents("DDDUDUUD")
    assert i.resolving_slot == minute(6)  # the second consecutive up


def test_missed_slots_count_neither_way() -> None:
    [i] = incidents("DD.D.U.U")
    assert (i.opened_at, i.opening_slot, i.resolved_at, i.resolving_slot) == (
        minute(0), minute(3), minute(5), minute(7),
    )  # fmt: skip


def test_thresholds_of_one() -> None:
    found = incidents("DUDU", failure=1, success=1)
    assert [(i.opening_slot, i.resolving_slot) for i in found] == [
        (minute(0), minute(1)), (minute(2), minute(3)),
    ]  # fmt: skip


def test_walking_in_pieces_is_walking_at_once() -> None:
    pattern = "UDDDDUDUUUDDDUUDDDD"
    whole = incidents(pattern)
    state, found = WalkState(), []
    for n in range(0, len(pattern), 4):
        state, touched = walk(1, state, checks(pattern[n : n + 4], n), 3, 2)
        found += [t for t in touched if t not in found]
    assert [i.same_as(w) for i, w in zip(found, whole, strict=True)] == [True] * len(whole)


def test_cause_is_the_error_class_else_the_status() -> None:
    # One text for every surface (shared.causes): the overview, /alerts, the CLI, the API's
    # incidents and the notifications.
    assert why_down(None, "timeout") == "timeout"
    assert why_down(200, None, regex_matched=False) == "regex did not match · HTTP 200"
    assert why_down(500, None) == "HTTP 500"
    assert why_down(200, None, regex_matched=True) == "HTTP 200 · regex found"
    assert why_down(None, None) == "down"


def test_an_incident_opens_with_the_shared_cause() -> None:
    down = [Check(minute(n), minute(n), False, 200, regex_matched=False) for n in range(3)]
    _, touched = walk(1, WalkState(), down, 3, 2)
    assert touched[0].cause == why_down(200, None, False) == "regex did not match · HTTP 200"


def _stored(found: list[Incident], first_id: int = 1) -> list[Incident]:
    for n, i in enumerate(found):
        i.id = first_id + n
    return found


def test_reconcile_keeps_the_ids_of_incidents_a_late_result_moves() -> None:
    stored = _stored(incidents("DD.DUU"))  # opened at the fourth check
    computed = incidents("DDDDUU")  # the late check makes it open a slot earlier
    done = reconcile(stored, computed)
    assert (done.inserted, done.deleted) == ([], [])
    assert [i.id for i in done.updated] == [1]
    assert done.newly_resolved == []  # it was resolved already: no second RESOLVED


def test_reconcile_deletes_an_incident_a_late_up_check_breaks() -> None:
    stored = _stored(incidents("DD.DUU"))
    done = reconcile(stored, incidents("DDUDUU"))
    assert (done.inserted, done.updated, done.deleted) == ([], [], [1])


def test_reconcile_inserts_and_resolves() -> None:
    stored = _stored(incidents("DDDU.DDD"))  # one open
    computed = incidents("DDDUUDDD")  # the late up resolves it; a second one opens
    done = reconcile(stored, computed)
    assert [i.id for i in done.updated] == [1]
    assert [i.id for i in done.newly_resolved] == [1]
    assert len(done.inserted) == 1 and done.inserted[0].opening_slot == minute(7)


def test_any_arrival_order_walks_to_the_same_incidents() -> None:
    rng = random.Random(7)
    pattern = "".join(rng.choice("UUD") for _ in range(200))
    assert len(incidents(pattern)) > 2
    expected = [(i.opening_slot, i.resolving_slot) for i in incidents(pattern)]
    # A walk only ever goes forward; a late check means walking again from before it,
    # which is what the writer does. Walking a shuffled copy in slot order is the same.
    shuffled = checks(pattern)
    rng.shuffle(shuffled)
    _, again = walk(1, WalkState(), sorted(shuffled, key=lambda c: c.slot), 3, 2)
    assert [(i.opening_slot, i.resolving_slot) for i in again] == expected
