"""What a notification says: the documented JSON payload, its HMAC signature, and the
one-line text the chat channels show.

The payload (version 1), the same bytes on every attempt:

    {"version": 1, "idempotency_key": "incident-42-down", "event": "down",
     "notification_id": 7, "event_at": "2026-12-01T10:03:00.412000+00:00",
     "site": {"id": 3, "url": "https://example.com/health"},
     "incident": {"id": 42, "opened_at": "...", "opening_check_at": "...",
                  "resolved_at": null, "resolving_check_at": null, "cause": "HTTP 503",
                  "status_code": 503, "error": null, "error_detail": null}}

`event` is down, resolved, reminder, certificate, region_down, region_up or test (a test
has no site nor incident; a region's event has `region_outage` instead, described in
notifier/region_events.py). The incident of a site checked from several regions also has
`"regions": ["eu-west", "us-east"]`: the regions whose checks saw it down when it opened
(the quorum's); a site of one region has no such field. A certificate warning has no
incident but
`"certificate": {"expires_at": "...", "warning_days": 14}`: the site's TLS certificate
expires within its `cert_expiry_days` (`event_at` is the expiry). A webhook
with a secret gets `X-Webmon-Signature: sha256=<hex HMAC-SHA256 of the body>`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from notifier.region_events import RegionOutageFacts, region_payload, region_text, region_title

PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "X-Webmon-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Webmon-Event"


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel to send through. `sealed`: its secret as stored, sealed with
    WEBMON_SECRET_KEY; `notifier.secrets.opened` turns it into `secret` just before a send."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    secret: str | None
    sealed: bytes | None = None

    def __repr__(self) -> str:  # never the secret
        return f"Channel(id={self.id}, name={self.name!r}, kind={self.kind!r})"


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    id: int
    opened_at: datetime
    opening_check_at: datetime
    resolved_at: datetime | None
    resolving_check_at: datetime | None
    cause: str
    status_code: int | None
    error: str | None
    error_detail: str | None
    # The regions that saw it down (a site of several regions); None for one region.
    regions: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed notification, with what it is about."""

    id: int
    key: str
    kind: str
    event_at: datetime
    attempts: int
    created_at: datetime
    channel: Channel
    site_id: int | None = None
    site_url: str | None = None
    incident: IncidentFacts | None = None
    cert_days: int | None = None  # a certificate warning's threshold, in days
    region_outage: RegionOutageFacts | None = None  # a region_down or region_up's outage


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def payload(n: Outgoing) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "idempotency_key": n.key,
        "event": n.kind,
        "notification_id": n.id,
        "event_at": _time(n.event_at),
        "site": None if n.site_id is None else {"id": n.site_id, "url": n.site_url},
        "incident": None,
    }
    if n.region_outage is not None:
        body["region_outage"] = region_payload(n.region_outage)
    if n.kind == "certificate":
        body["certificate"] = {"expires_at": _time(n.event_at), "warning_days": n.cert_days}
    i = n.incident
    if i is not None:
        body["incident"] = {
            "id": i.id,
            "opened_at": _time(i.opened_at),
            "opening_check_at": _time(i.opening_check_at),
            "resolved_at": _time(i.resolved_at),
            "resolving_check_at": _time(i.resolving_check_at),
            "cause": i.cause,
            "status_code": i.status_code,
            "error": i.error,
            "error_detail": i.error_detail,
        }
        if i.regions is not None:
            body["incident"]["regions"] = list(i.regions)
    return body


def body_bytes(n: Outgoing) -> bytes:
    return orjson.dumps(payload(n), option=orjson.OPT_SORT_KEYS)


def signature(secret: str, body: bytes) -> str:
    """The `X-Webmon-Signature` value: a receiver recomputes it over the raw body with the
    shared secret and compares with `hmac.compare_digest`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, body), header)


def title(n: Outgoing) -> str:
    if n.region_outage is not None:
        return region_title(n.kind, n.region_outage)
    where = n.site_url or "webmon"
    if n.kind == "down":
        return f"DOWN {where}"
    if n.kind == "resolved":
        return f"RESOLVED {where}"
    if n.kind == "reminder":
        return f"STILL DOWN {where}"
    if n.kind == "certificate":
        return f"CERTIFICATE EXPIRES SOON {where}"
    return "webmon test notification"


def text(n: Outgoing) -> str:
    """One or two lines for people: what, since when, why."""
    if n.region_outage is not None:
        return region_text(n.kind, n.region_outage, n.event_at)
    if n.kind == "certificate":
        expires = n.event_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        days = (n.event_at - datetime.now(UTC)).total_seconds() / 86400
        when = f"in {days:.1f} days" if days >= 0 else f"{-days:.1f} days ago"
        return (f"{title(n)}: its TLS certificate expires {expires} ({when}; "
                f"the site warns {n.cert_days} days ahead)")  # fmt: skip
    i = n.incident
    if i is None:
        return f"{title(n)} (channel {n.channel.name})"
    since = i.opened_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    where = "" if i.regions is None else f", down from {', '.join(i.regions)}"
    if n.kind == "resolved" and i.resolved_at is not None:
        lasted = i.resolved_at - i.opened_at
        return (f"{title(n)}: up again after {lasted} (down since {since}, cause {i.cause}"
                f"{where})")  # fmt: skip
    return f"{title(n)}: {i.cause} since {since}{where} (incident {i.id})"
