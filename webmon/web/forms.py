"""Form fields to models and back, errors beside their field, the login limiter, badges."""

from __future__ import annotations

import csv
import io
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import orjson
from markupsafe import escape
from pydantic import ValidationError

from webmon.api.schemas import SiteIn

MAX_BULK_LINES = 1000


class Forbidden(Exception):
    """A form without its CSRF token: refused (403)."""


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def safe_next(target: str) -> str:
    """Where to go after logging in: only a path of this site (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def errors_of(exc: Exception) -> dict[str, str]:
    """{field: message} for a form: pydantic's first error per field, or ours."""
    if isinstance(exc, FieldError):
        return {exc.field: str(exc)}
    errors: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            field = str(error.get("loc", ("form",))[0])
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            errors.setdefault(field, message[0].upper() + message[1:] + ".")
    return errors


def _statuses(text: str) -> list[tuple[int, int]] | None:
    """ "200-399, 404" as [low, high) pairs."""
    text = text.strip()
    if not text:
        return None
    pairs = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.strip().isdigit() or (high and not high.strip().isdigit()):
            raise FieldError(
                "expected_status", f"not a status or a range: {part!r} (e.g. 200-399, 404)"
            )
        lo = int(low)
        hi = int(high) if high else lo
        pairs.append((lo, hi + 1))
    return pairs


def _headers(text: str) -> dict[str, str] | None:
    """ "Name: value" lines, or a JSON object."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise FieldError("headers", "not a JSON object") from None
        if not isinstance(value, dict):
            raise FieldError("headers", "not a JSON object")
        return {str(k): str(v) for k, v in value.items()}
    headers = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise FieldError("headers", f"one header per line, as Name: value (got {line!r})")
        headers[name.strip()] = value.strip()
    return headers


def _number(values: dict[str, str], field: str, kind: type[int] | type[float]) -> Any:
    text = values.get(field, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise FieldError(field, f"not a number: {text!r}") from None


def site_fields(values: dict[str, str], *, new: bool) -> dict[str, Any]:
    """The fields of a site form as SiteIn / SitePatch arguments."""
    fields: dict[str, Any] = {}
    if new:  # (a site's URL is not edited in the dashboard: a new URL is a new site)
        fields["url"] = values.get("url", "").strip()
    interval = _number(values, "interval_seconds", int)
    if interval is not None:
        fields["interval_seconds"] = interval
    timeout = _number(values, "timeout_seconds", float)
    if timeout is not None or not new:
        fields["timeout_seconds"] = timeout
    if not new or values.get("regex", "").strip():
        fields["regex"] = values.get("regex", "").strip() or None
    if values.get("method"):
        fields["method"] = values["method"]
    if not new or values.get("headers", "").strip():
        fields["headers"] = _headers(values.get("headers", ""))
    if not new or values.get("expected_status", "").strip():
        fields["expected_status"] = _statuses(values.get("expected_status", ""))
    return fields


def site_form(site: dict[str, Any] | None) -> dict[str, str]:
    """A site's values as the form shows them."""
    if site is None:
        return {"interval_seconds": "60", "method": "GET"}
    ranges = ", ".join(
        f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in site["expected_status"]
    )
    headers = "\n".join(f"{k}: {v}" for k, v in (site["headers"] or {}).items())
    return {
        "url": site["url"],
        "interval_seconds": str(site["interval_seconds"]),
        "timeout_seconds": f"{site['timeout_seconds']:g}",
        "regex": site["regex"] or "",
        "method": site["method"],
        "expected_status": ranges,
        "headers": headers,
    }


def bulk_sites(text: str) -> list[tuple[int, SiteIn]]:
    """One URL per line, or CSV with a header row naming url (and optionally
    interval_seconds, timeout_seconds, regex). Each site comes with its line number in
    the text as pasted (blank lines and the header row counted), for the error to name."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        raise FieldError("bulk", "nothing to import: one URL per line, or CSV with a header row")
    rows: list[tuple[int, dict[str, str]]]
    if numbered[0][1].strip().lower().startswith("url"):
        reader = csv.DictReader(io.StringIO("\n".join(line for _, line in numbered)))
        # A URL holds no newline, so each CSV record is one line: the header's successors.
        rows = [(n, row) for (n, _), row in zip(numbered[1:], reader, strict=False)]
    else:
        rows = [(n, {"url": line.strip()}) for n, line in numbered]
    if len(rows) > MAX_BULK_LINES:
        raise FieldError("bulk", f"at most {MAX_BULK_LINES} sites at once")
    sites = []
    for n, row in rows:
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        unknown = set(clean) - {"url", "interval_seconds", "timeout_seconds", "regex"}
        if unknown:
            raise FieldError("bulk", f"unknown column {sorted(unknown)[0]!r}")
        try:
            sites.append((n, SiteIn(**site_fields(clean, new=True))))
        except ValidationError as exc:
            field, message = next(iter(errors_of(exc).items()))
            raise FieldError("bulk", f"line {n}: {field}: {message}") from None
        except FieldError as exc:
            raise FieldError("bulk", f"line {n}: {exc}") from None
    return sites


def task_fields(values: dict[str, str]) -> dict[str, Any]:
    url = values.get("url", "").strip()
    fields: dict[str, Any] = {
        "name": values.get("name", "").strip() or url[:200] or "task",
        "url": url,
    }
    if values.get("regex", "").strip():
        fields["regex"] = values["regex"].strip()
    timeout = _number(values, "timeout_seconds", float)
    if timeout is not None:
        fields["timeout_seconds"] = timeout
    return fields


class FailureLimiter:
    """At most `limit` failures per key (a client address) in a sliding window."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        cutoff = time.monotonic() - self._window
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self._limit

    def failed(self, key: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._recent(key).append(time.monotonic())


def badge_svg(label: str, value: str, colour: str) -> str:
    """A shields-style badge: label on grey, value on its colour."""
    left = 6 * len(label) + 12
    right = 6 * len(value) + 12
    total = left + right
    label_e, value_e = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label_e}: {value_e}"><title>{label_e}: {value_e}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="6" y="14">{label_e}</text><text x="{left + 6}" y="14">{value_e}</text></g></svg>'
    )
