"""Durations as people read them, one way wherever webmon prints one: the dashboard's pages
and the command line (`42.0 ms`, `420 ms`, `12.3 s`, `3 min 20 s`, `2 d 4 h`)."""

from __future__ import annotations

from datetime import timedelta


def duration(seconds: float | timedelta | None) -> str:
    if seconds is None:
        return "—"
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    if total < 60:
        return f"{total} s"
    minutes, s = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {m} min" if m else f"{hours} h"
    days, h = divmod(hours, 24)
    return f"{days} d {h} h" if h else f"{days} d"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def seconds(value: float | None) -> str:
    """A short duration: below a second in milliseconds as `ms` writes them (`42.0 ms`,
    `420 ms`), then to a tenth of a second below a minute (`12.3 s`), then as `duration`."""
    if value is None:
        return "—"
    if value < 1:
        return ms(value * 1000)
    return f"{value:.1f} s" if value < 60 else duration(value)
