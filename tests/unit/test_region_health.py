"""Region health's rules without a database: which outages a batch opens and ends
(`checker.writer.region_health.decide`), and what its notifications say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checker.writer.region_health import (
    CANARY,
    MOST_SITES,
    CanaryCheck,
    Ending,
    Opening,
    Outage,
    RegionRules,
    Tally,
    decide,
)
from notifier.payload import Channel, Outgoing, payload, text, title
from notifier.region_events import RegionOutageFacts

T0 = datetime(2026, 12, 7, 12, 1, tzinfo=UTC)
RULES = RegionRules(min_sites=3, down_ratio=0.8)
# The canary tests written when one failure opened an outage keep that threshold.
ONE = RegionRules(min_sites=3, down_ratio=0.8, canary_failures=1)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def canary(
    minute: int, up: bool, region: str = "eu-west", next_up: int | None = None,
    failures: int = 1, first: int | None = None,
) -> CanaryCheck:  # fmt: skip
    return CanaryCheck(
        region, at(minute), up, "" if up else "timeout", None if next_up is None else at(next_up),
        failures, None if first is None else at(first),
    )  # fmt: skip


def tally(
    compared: int, confirmed: int, *, sites: int | None = None, first: int = 0, fine: int = 0,
    region: str = "eu-west",
) -> Tally:  # fmt: skip
    return Tally(
        region=region, compared=compared, compared_sites=compared if sites is None else sites,
        confirmed=confirmed, confirmed_sites=confirmed if sites is None else min(sites, confirmed),
        first_confirmed=at(first) if confirmed else None,
        first_fine=at(fine) if compared > confirmed else None,
    )  # fmt: skip


def test_a_down_canary_opens_an_outage_from_its_slot_unless_one_is_open() -> None:
    assert decide([canary(0, False)], [], {}, ONE) == (
        [Opening("eu-west", at(0), CANARY, "timeout")], [],
    )  # fmt: skip
    open_ = {"eu-west": Outage(7, "eu-west", at(-5), MOST_SITES)}
    assert decide([canary(0, False)], [], open_, ONE) == ([], [])
    # Several down checks in one batch: one outage, from the first.
    assert decide([canary(2, False), canary(1, False)], [], {}, ONE) == (
        [Opening("eu-west", at(1), CANARY, "timeout")], [],
    )  # fmt: skip


def test_an_up_canary_ends_a_canary_outage_at_its_slot_and_nothing_else() -> None:
    open_ = {"eu-west": Outage(7, "eu-west", at(0), CANARY)}
    assert decide([canary(3, True)], [], open_) == ([], [Ending(7, "eu-west", at(3))])
    # A late up check from before the outage began ends nothing.
    assert decide([canary(-1, True)], [], open_) == ([], [])
    # Nor does an up canary end an outage most of the sites opened.
    most = {"eu-west": Outage(8, "eu-west", at(0), MOST_SITES)}
    assert decide([canary(3, True)], [], most) == ([], [])
    # Nor another region's.
    assert decide([canary(3, True, region="us-east")], [], open_) == ([], [])


def test_down_then_up_in_one_batch_ends_then_reopens_in_slot_order() -> None:
    open_ = {"eu-west": Outage(7, "eu-west", at(0), CANARY)}
    openings, endings = decide([canary(5, False), canary(4, True)], [], open_, ONE)
    assert endings == [Ending(7, "eu-west", at(4))]
    assert openings == [Opening("eu-west", at(5), CANARY, "timeout")]


def test_a_late_down_canary_check_with_its_up_stored_opens_an_outage_that_ended() -> None:
    checks = [canary(1, False, next_up=3), canary(2, False, next_up=3), canary(3, True)]
    assert decide(checks, [], {}, ONE) == (
        [Opening("eu-west", at(1), CANARY, "timeout", ended_at=at(3))], [],
    )  # fmt: skip


def test_a_canary_opens_an_outage_once_it_failed_the_threshold_in_a_row() -> None:
    # One failure of a flaky canary (the default threshold is 2): nothing.
    assert decide([canary(0, False)], [], {}) == ([], [])
    assert decide([canary(0, False, failures=1), canary(1, True)], [], {}) == ([], [])
    # The second in a row opens it, from the first of the run (stored by an earlier batch).
    assert decide([canary(1, False, failures=2, first=0)], [], {}) == (
        [Opening("eu-west", at(0), CANARY, "timeout")], [],
    )  # fmt: skip
    # A threshold of 3: two are not enough, three are.
    three = RegionRules(canary_failures=3)
    assert decide([canary(1, False, failures=2, first=0)], [], {}, three) == ([], [])
    assert decide([canary(2, False, failures=3, first=0)], [], {}, three)[0] == [
        Opening("eu-west", at(0), CANARY, "timeout")
    ]
    # A late run, with its up check stored after it: an outage that ended.
    late = [canary(1, False, next_up=3, failures=2, first=1),
            canary(2, False, next_up=3, failures=2, first=1)]  # fmt: skip
    assert decide(late, [], {}) == (
        [Opening("eu-west", at(1), CANARY, "timeout", ended_at=at(3))], [],
    )  # fmt: skip


def test_most_sites_opens_when_enough_sites_fail_where_another_region_saw_them_up() -> None:
    opened = decide([], [tally(4, 4, first=2)], {}, RULES)[0]
    assert opened == [
        Opening("eu-west", at(2), MOST_SITES,
                "4 of 4 checks down while another region saw the site up"),
    ]  # fmt: skip
    # Too few sites, or too small a share of the region's compared checks: healthy.
    assert decide([], [tally(2, 2)], {}, RULES) == ([], [])
    assert decide([], [tally(10, 7)], {}, RULES) == ([], [])
    assert decide([], [tally(10, 8)], {}, RULES)[0][0].cause == MOST_SITES
    # Eight failing checks of two sites are two sites.
    assert decide([], [tally(8, 8, sites=2)], {}, RULES) == ([], [])


def test_most_sites_ends_on_a_batch_that_is_mostly_fine() -> None:
    open_ = {"eu-west": Outage(9, "eu-west", at(0), MOST_SITES)}
    assert decide([], [tally(5, 1, fine=3)], open_, RULES) == ([], [Ending(9, "eu-west", at(3))])
    assert decide([], [tally(5, 2, fine=3)], open_, RULES) == ([], [])  # 60 % fine: not yet
    assert decide([], [tally(2, 0, fine=3)], open_, RULES) == ([], [])  # too few to tell
    assert decide([], [tally(5, 0, fine=0)], open_, RULES) == ([], [])  # not after its start
    # A canary outage is the canary's to end.
    canary_open = {"eu-west": Outage(9, "eu-west", at(0), CANARY)}
    assert decide([], [tally(5, 0, fine=3)], canary_open, RULES) == ([], [])


def test_the_canary_goes_first_and_most_sites_opens_nothing_more() -> None:
    openings, _ = decide([canary(0, False)], [tally(4, 4)], {}, ONE)
    assert [o.cause for o in openings] == [CANARY]


def _outgoing(kind: str, facts: RegionOutageFacts) -> Outgoing:
    channel = Channel(1, "ops", "slack", {}, None)
    return Outgoing(
        id=5, key=f"region-outage-{facts.id}-{kind[7:]}", kind=kind, event_at=facts.started_at,
        attempts=1, created_at=facts.started_at, channel=channel, region_outage=facts,
    )  # fmt: skip


def test_a_region_notification_says_which_region_since_when_why_and_what_it_means() -> None:
    facts = RegionOutageFacts(3, "eu-west", T0, None, CANARY, "timeout", "https://canary.example/")
    down = _outgoing("region_down", facts)
    assert title(down) == "REGION UNHEALTHY eu-west"
    assert text(down) == (
        "Region eu-west is unhealthy since 2026-12-07 12:01 UTC: its canary "
        "https://canary.example/ fails (timeout). Its checks count for no site's quorum until "
        "it recovers."
    )
    body = payload(down)
    assert (body["event"], body["site"], body["incident"]) == ("region_down", None, None)
    assert body["region_outage"] == {
        "id": 3, "region": "eu-west", "started_at": "2026-12-07T12:01:00+00:00",
        "ended_at": None, "cause": "canary", "detail": "timeout",
        "canary_url": "https://canary.example/",
    }  # fmt: skip
    ended = RegionOutageFacts(
        3, "eu-west", T0, at(8), MOST_SITES, "12 of 14 checks down while another region saw "
        "the site up", None,
    )  # fmt: skip
    up = _outgoing("region_up", ended)
    assert title(up) == "REGION RECOVERED eu-west"
    assert text(up) == (
        "Region eu-west is healthy again since 2026-12-07 12:09 UTC, after 8 min unhealthy "
        "(since 2026-12-07 12:01 UTC: most of its sites failed there while other regions saw "
        "them up (12 of 14 checks down while another region saw the site up)). Its checks "
        "count for the sites' quorum again."
    )
