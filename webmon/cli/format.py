"""Text in and out of the `webmon` command line: durations and plain tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION = re.compile(rf"(?:{_PART.pattern})+")
# Largest first, for formatting whole seconds.
_WHOLE_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str) -> float:
    """Seconds in "30s", "5m", "1h30m", "1d", "250ms" or a bare number of seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 5m, 1h, 1d)")
    return sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration: 30 -> "30s", 90 -> "1m30s", 2.5 -> "2.5s"."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    remaining = int(seconds)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in _WHOLE_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_timestamp(value: datetime | None) -> str:
    """UTC to the second, or "-"."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: str) -> str:
    """Columns two spaces apart, each as wide as its widest cell; `right` has an "r" for
    each right-aligned column and "l" for the others. The last column is not padded."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = []
    for cells in [headers, *rows]:
        out = []
        for i, cell in enumerate(cells):
            last = i == len(cells) - 1
            if right[i] == "r":
                out.append(cell.rjust(widths[i]))
            else:
                out.append(cell if last else cell.ljust(widths[i]))
        lines.append("  ".join(out).rstrip())
    return "\n".join(lines)
