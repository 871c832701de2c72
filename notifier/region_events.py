"""What a region's notification says (docs/regions.md#region-health).

A region that becomes unhealthy (`region_down`) and one that recovers (`region_up`) are told
once per outage on every default channel, instead of once per site whose checks it spoiled.
Such a notification has no site nor incident; the payload's `region_outage` says what
happened:

    {"event": "region_down", "idempotency_key": "region-outage-7-down", "site": null,
     "incident": null, "region_outage": {"id": 7, "region": "eu-west",
     "started_at": "...", "ended_at": null, "cause": "canary", "detail": "timeout",
     "canary_url": "https://status.example.net/"}}

`cause` is `canary` (the region's canary failed there; `detail`: why) or `most_sites` (most
of its sites failed there while another region saw them up; `detail`: how many).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from shared.durations import duration

REGION_DOWN: Final = "region_down"
REGION_UP: Final = "region_up"


@dataclass(frozen=True, slots=True)
class RegionOutageFacts:
    id: int
    region: str
    started_at: datetime
    ended_at: datetime | None
    cause: str  # canary | most_sites
    detail: str | None
    canary_url: str | None  # the region's canary now, if it has one


def _clock(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def region_payload(o: RegionOutageFacts) -> dict[str, Any]:
    return {
        "id": o.id,
        "region": o.region,
        "started_at": _time(o.started_at),
        "ended_at": _time(o.ended_at),
        "cause": o.cause,
        "detail": o.detail,
        "canary_url": o.canary_url,
    }


def region_title(kind: str, o: RegionOutageFacts) -> str:
    if kind == REGION_UP:
        return f"REGION RECOVERED {o.region}"
    return f"REGION UNHEALTHY {o.region}"


def _why(o: RegionOutageFacts, *, past: bool = False) -> str:
    fails, fail, see = ("failed", "failed", "saw") if past else ("fails", "fail", "see")
    if o.cause == "canary":
        canary = f"its canary {o.canary_url}" if o.canary_url else "its canary"
        return f"{canary} {fails} ({o.detail or 'down'})"
    seen = f" ({o.detail})" if o.detail else ""
    return f"most of its sites {fail} there while other regions {see} them up{seen}"


def region_text(kind: str, o: RegionOutageFacts, event_at: datetime) -> str:
    """One or two lines for people: which region, since when, why, and what it means."""
    since = _clock(o.started_at)
    if kind == REGION_UP:
        ended = o.ended_at or event_at
        return (
            f"Region {o.region} is healthy again since {_clock(ended)}, after "
            f"{duration(ended - o.started_at)} unhealthy (since {since}: "
            f"{_why(o, past=True)}). Its checks count for the sites' quorum again."
        )
    return (
        f"Region {o.region} is unhealthy since {since}: {_why(o)}. "
        "Its checks count for no site's quorum until it recovers."
    )
