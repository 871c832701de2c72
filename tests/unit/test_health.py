from __future__ import annotations

import logging

import pytest

from shared.health import Backoff, DependencyState


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(initial_s=1.0, max_s=4.0)
    waits = [backoff.fail() for _ in range(5)]
    assert 0.8 <= waits[0] <= 1.2
    assert 1.6 <= waits[1] <= 2.4
    assert all(w <= 4.8 for w in waits)
    assert not backoff.ready()
    backoff.succeed()
    assert backoff.ready()


def test_dependency_logs_one_line_per_change(caplog: pytest.LogCaptureFixture) -> None:
    state = DependencyState("db", logging.getLogger("test"))
    with caplog.at_level(logging.INFO, logger="test"):
        for _ in range(5):
            state.lost("connection refused")
        state.recovered()
        state.recovered()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "db.lost reason=connection refused"
    assert messages[1].startswith("db.recovered down_s=")
    assert len(messages) == 2
    assert state.failures == 5
