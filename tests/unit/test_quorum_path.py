"""The writer's quorum path, its pure parts: which rows take it, and what the walk and the
notifications make of the regions that saw a slot down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checker.writer.quorum import earliest_slot, read_states, several_regions, split
from checker.writer.thresholds import Check, WalkState, walk
from notifier.payload import Channel, IncidentFacts, Outgoing, payload, text
from shared.messages import CheckResult

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def row(site: int, n: int, region: str = "default", count: int = 1) -> CheckResult:
    slot = T0 + timedelta(minutes=n)
    return CheckResult(site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
                       checked_at=slot, up=True, status_code=200, region=region,
                       region_count=count)  # fmt: skip


def test_the_usual_batch_takes_no_quorum_path_and_is_returned_as_it_is() -> None:
    rows = [row(1, 2), row(2, 1), row(3, 3, region="eu-west")]
    assert not several_regions(rows)
    assert earliest_slot(rows) == T0 + timedelta(minutes=1)
    plain, quorum = split(rows, [], several_regions(rows))
    assert plain is rows and quorum == []
    assert earliest_slot([]) is None and not several_regions([])


def test_a_site_of_several_regions_or_a_region_out_takes_the_quorum_path() -> None:
    rows = [row(1, 0), row(2, 0, "eu-west", 2), row(2, 0, "us-east", 2), row(3, 0, "ap-south")]
    plain, quorum = split(rows, [], several_regions(rows))
    assert [r.site_id for r in plain] == [1, 3]
    assert [(r.site_id, r.region) for r in quorum] == [(2, "eu-west"), (2, "us-east")]
    plain, quorum = split(rows, ["ap-south"], several_regions(rows))
    assert [r.site_id for r in plain] == [1]
    assert sorted({r.site_id for r in quorum}) == [2, 3]
    only_out = [row(1, 0), row(3, 0, "ap-south")]
    assert split(only_out, ["ap-south"], False)[1] == [only_out[1]]


def test_read_states_tells_the_changed_slots_from_the_replaced_statuses() -> None:
    found = [
        (7, T0, T0, False, 503, None, None, None, None, None, None),
        (7, T0 + timedelta(minutes=1), T0, True, 200, None, None, None, None, None, None),
        (8, T0, T0, True, 200, None, None, None, None, None, None),
        (7, None, None, None, None, None, None, True, True, T0 - timedelta(minutes=1), 0),
    ]  # fmt: skip
    states, replaced = read_states(found)
    assert [(s.site_id, s.up) for s in states] == [(7, False), (7, True), (8, True)]
    assert replaced == [(7, True, T0 - timedelta(minutes=1), 0)]  # 8's was not replaced


def test_read_states_leaves_out_the_sites_whose_states_change_nothing() -> None:
    before = T0 - timedelta(minutes=1)
    found = [
        (1, T0, T0, True, 200, None, None, None, None, None, None),  # up after up, clean
        (2, T0, T0, True, 200, None, None, None, None, None, None),  # up after down
        (3, T0, T0, True, 200, None, None, None, None, None, None),  # up, site walking
        (4, T0, T0, False, 503, None, None, None, None, None, None),  # down after up
        (5, T0, T0, True, 200, None, None, None, None, None, None),  # its first status
        (6, T0, T0, True, 200, None, None, None, None, None, None),  # a late slot
        (1, None, None, None, None, None, None, True, True, before, 0),
        (2, None, None, None, None, None, None, True, False, before, 0),
        (3, None, None, None, None, None, None, True, True, before, 1),
        (4, None, None, None, None, None, None, True, True, before, 0),
        (5, None, None, None, None, None, None, True, None, None, 0),
    ]  # fmt: skip
    states, replaced = read_states(found)
    assert [s.site_id for s in states] == [2, 3, 4, 5, 6]
    assert [r[0] for r in replaced] == [2, 3, 4, 5]
    assert read_states([found[0], found[6]]) == ([], [])


def test_an_incident_names_the_regions_of_its_opening_slot() -> None:
    checks = [
        Check(T0 + timedelta(minutes=n), T0 + timedelta(minutes=n), up=False, status_code=503,
              regions=regions)
        for n, regions in enumerate([["eu-west"], ["eu-west", "us-east"], ["ap-south", "us-east"]])
    ]  # fmt: skip
    _, [incident] = walk(1, WalkState(), checks, 3, 2)
    assert incident.regions == ["ap-south", "us-east"]


def outgoing(kind: str, regions: list[str] | None) -> Outgoing:
    incident = IncidentFacts(
        id=42, opened_at=T0, opening_check_at=T0 + timedelta(minutes=2),
        resolved_at=T0 + timedelta(minutes=5) if kind == "resolved" else None,
        resolving_check_at=None, cause="HTTP 503", status_code=503, error=None,
        error_detail=None, regions=regions,
    )  # fmt: skip
    return Outgoing(
        id=7, key=f"incident-42-{kind}", kind=kind, event_at=T0, attempts=1, created_at=T0,
        channel=Channel(1, "hook", "webhook", {}, None), site_id=3,
        site_url="https://example.com/", incident=incident,
    )  # fmt: skip


def test_a_notification_names_the_regions_of_a_site_of_several() -> None:
    down = outgoing("down", ["eu-west", "us-east"])
    assert payload(down)["incident"]["regions"] == ["eu-west", "us-east"]
    assert text(down) == (
        "DOWN https://example.com/: HTTP 503 since 2026-12-01 00:00:00 UTC, down from eu-west,"
        " us-east (incident 42)"
    )
    resolved = outgoing("resolved", ["eu-west", "us-east"])
    assert text(resolved).endswith("cause HTTP 503, down from eu-west, us-east)")


def test_a_notification_of_a_site_of_one_region_is_as_before() -> None:
    down = outgoing("down", None)
    assert "regions" not in payload(down)["incident"]
    assert text(down) == (
        "DOWN https://example.com/: HTTP 503 since 2026-12-01 00:00:00 UTC (incident 42)"
    )
    assert text(outgoing("resolved", None)) == (
        "RESOLVED https://example.com/: up again after 0:05:00 (down since 2026-12-01 00:00:00"
        " UTC, cause HTTP 503)"
    )
