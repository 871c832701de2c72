from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.slots import claim

T0 = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_due_site_is_checked_for_its_slot_and_moves_one_interval() -> None:
    assert claim(T0, 60, T0 + timedelta(seconds=2)) == (T0, T0 + timedelta(seconds=60))


def test_slots_do_not_drift_when_claims_are_late() -> None:
    due = T0
    slots = []
    for lateness in (3.0, 0.2, 7.9, 59.0, 0.0):
        slot, due = claim(due, 60, due + timedelta(seconds=lateness))
        slots.append(slot)
    assert slots == [T0 + timedelta(seconds=60 * i) for i in range(5)]


def test_catch_up_after_downtime_emits_one_slot_not_every_missed_one() -> None:
    now = T0 + timedelta(hours=1, seconds=10)
    slot, new_next = claim(T0, 60, now)
    assert slot == T0 + timedelta(hours=1)
    assert new_next == T0 + timedelta(hours=1, seconds=60)
    assert slot <= now < new_next


@pytest.mark.parametrize("interval", [1, 7, 60, 3600, 86_400])
@pytest.mark.parametrize("late_s", [0.0, 0.001, 0.999, 1.0, 59.5, 3600.0, 100_000.25])
def test_invariants(interval: int, late_s: float) -> None:
    now = T0 + timedelta(seconds=late_s)
    slot, new_next = claim(T0, interval, now)
    assert new_next - slot == timedelta(seconds=interval)
    assert slot <= now < new_next
    assert (slot - T0).total_seconds() % interval == 0  # on the site's grid
    assert slot >= T0


def test_interval_change_applies_from_the_next_slot() -> None:
    _, due = claim(T0, 60, T0)
    slot2, due2 = claim(due, 300, due + timedelta(seconds=1))
    assert slot2 == due
    assert due2 == due + timedelta(seconds=300)


def test_not_due_is_refused() -> None:
    with pytest.raises(ValueError):
        claim(T0 + timedelta(seconds=1), 60, T0)
