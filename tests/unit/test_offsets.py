from __future__ import annotations

from checker.probe.offsets import OffsetTracker

P0 = ("tasks", 0)
P1 = ("tasks", 1)


def test_commit_position_is_one_past_the_finished_prefix() -> None:
    t = OffsetTracker()
    for offset in (10, 11, 12, 13):
        t.started(P0, offset)
    assert t.to_commit() == {}
    t.finished(P0, 12)  # out of order: 10 and 11 still running
    assert t.to_commit() == {}
    t.finished(P0, 10)
    assert t.to_commit() == {P0: 11}
    t.finished(P0, 11)
    assert t.to_commit() == {P0: 13}
    assert t.in_flight(P0) == 1


def test_committed_positions_are_not_offered_again() -> None:
    t = OffsetTracker()
    t.started(P0, 0)
    t.started(P1, 5)
    t.finished(P0, 0)
    t.finished(P1, 5)
    positions = t.to_commit()
    assert positions == {P0: 1, P1: 6}
    t.committed(positions)
    assert t.to_commit() == {}
    t.started(P0, 1)
    t.finished(P0, 1)
    assert t.to_commit() == {P0: 2}
    assert t.to_commit({P1}) == {}


def test_revoked_partition_is_forgotten_and_late_finishes_ignored() -> None:
    t = OffsetTracker()
    t.started(P0, 0)
    t.started(P0, 1)
    t.finished(P0, 0)
    t.forget({P0})
    t.finished(P0, 1)  # a check that outlived the assignment
    assert t.to_commit() == {}
    assert t.in_flight(P0) == 0
