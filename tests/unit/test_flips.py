"""Flips derived from a batch and the stored state (checker.flips)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checker.writer.flips import several_per_site, site_flips
from shared.messages import CheckResult

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def row(site: int, minute: int, up: bool) -> CheckResult:
    slot = T0 + timedelta(minutes=minute)
    return CheckResult(site_id=site, url="http://h", scheduled_at=slot, checked_at=slot, up=up)


def test_a_batch_newer_than_the_stored_state_is_walked_in_slot_order() -> None:
    batch = [row(1, 3, True), row(1, 1, False), row(1, 2, False), row(1, 4, True)]
    events, recount = site_flips(batch, [(1, True, T0)])
    assert recount == {}
    assert [(e[1], e[3], e[4]) for e in events] == [
        (T0 + timedelta(minutes=1), True, False),
        (T0 + timedelta(minutes=3), False, True),
    ]


def test_no_flip_when_the_state_holds() -> None:
    events, recount = site_flips([row(1, 1, True), row(1, 2, True)], [(1, True, T0)])
    assert events == [] and recount == {}


def test_the_same_result_twice_in_a_batch_counts_once() -> None:
    events, _ = site_flips([row(1, 1, False), row(1, 1, False)], [(1, True, T0)])
    assert len(events) == 1


def test_late_and_redelivered_results_go_to_a_recount() -> None:
    batch = [row(1, 0, False), row(2, 5, True), row(2, 7, False), row(3, 1, True)]
    # Site 1: a result for the stored slot (a redelivery, not returned by the upsert);
    # site 2: the batch holds one result older than the one it replaced.
    events, recount = site_flips(batch, [(2, True, T0 + timedelta(minutes=6)), (3, True, T0)])
    assert recount == {
        1: (T0, T0),
        2: (T0 + timedelta(minutes=5), T0 + timedelta(minutes=7)),
    }
    assert events == []  # site 3 stays up


def test_a_site_without_status_starts_its_history_with_the_batch() -> None:
    batch = [row(5, 1, True), row(5, 2, False), row(6, 1, False)]
    events, recount = site_flips(batch, [(5, None, None), (6, None, None)])
    assert recount == {}
    assert sorted((e[0], e[1], e[3], e[4]) for e in events) == [
        (5, T0 + timedelta(minutes=1), None, True),
        (5, T0 + timedelta(minutes=2), True, False),
        (6, T0 + timedelta(minutes=1), None, False),
    ]


def test_one_result_per_site_uses_the_replaced_state() -> None:
    batch = [row(1, 2, False), row(2, 2, True), row(3, 2, True), row(4, 2, True)]
    # Site 3 was not returned (its stored result is as new); site 4 had no status.
    replaced = [(1, True), (2, True), (4, None)]
    events, recount = site_flips(batch, replaced)
    assert [(e[0], e[3], e[4]) for e in events] == [(1, True, False), (4, None, True)]
    slot = T0 + timedelta(minutes=2)
    assert recount == {3: (slot, slot)}


def test_a_missed_slot_flips_nothing_and_does_not_count_as_a_result_of_its_site() -> None:
    missed = CheckResult(
        site_id=1,
        url="http://h",
        scheduled_at=T0 + timedelta(minutes=2),
        checked_at=T0 + timedelta(minutes=2),
        up=None,
        error="missed",
    )
    # Between two down checks, a miss: no flip, and the batch still has one check per
    # site, as far as the status upsert is concerned.
    batch = [row(1, 1, False), missed, row(1, 3, False)]
    assert several_per_site([row(1, 1, False), missed]) is False
    events, recount = site_flips(batch, [(1, False, T0)])
    assert events == [] and recount == {}
    events, _ = site_flips([missed], [])
    assert events == []
