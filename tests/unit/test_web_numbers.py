"""The dashboard's numbers, one way everywhere: a duration under a second in milliseconds
as a response time is written, seconds above, and minutes and hours beyond."""

from __future__ import annotations

from shared.durations import ms, seconds


def test_a_duration_under_a_second_is_written_in_milliseconds_as_response_times_are() -> None:
    assert seconds(0.042) == ms(42.0) == "42.0 ms"
    assert seconds(0.0004) == "0.4 ms"
    assert seconds(0.42) == ms(420) == "420 ms"
    assert seconds(0.0) == "0.0 ms"


def test_a_duration_from_a_second_is_written_in_seconds_then_minutes() -> None:
    assert seconds(1.0) == "1.0 s"
    assert seconds(12.34) == "12.3 s"
    assert seconds(90) == "1 min 30 s"
    assert seconds(None) == "—"
