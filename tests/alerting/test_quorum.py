"""Incidents, site_status and site_events by quorum, computed by the writer against a real
PostgreSQL: a site checked from several regions is down at a slot when a quorum of its
regions saw it down; a region in an outage counts for nothing; late rows of a region
change an older slot's state like any late result; and the notification names the
regions that saw the failure."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checker.writer import write_results
from notifier.payload import Outgoing, payload, text
from notifier.service import outgoing
from shared.db import Database
from shared.messages import CheckResult
from shared.queries import load_queries
from tests.support.db import Conn, add_sites

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REGIONS = ("eu-west", "us-east", "ap-south")
NOTIFIER = load_queries("notifier")


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    with Database(db_url, max_size=2) as d:
        yield d


def m(n: int) -> timedelta:
    return timedelta(minutes=n)


def add_site(db: Conn, regions: Sequence[str] = REGIONS, quorum: int | None = None) -> int:
    [site] = add_sites(db, 1)
    db.execute(
        "UPDATE sites SET regions = %s, quorum = %s WHERE id = %s", (list(regions), quorum, site)
    )
    return site


def check(site: int, n: int, region: str, ch: str, count: int = len(REGIONS)) -> CheckResult:
    """Slot `n` of `site` as `region` saw it: 'U' up, 'D' down (503), 'T' down (timeout),
    '.' missed. `count`: how many regions the site is checked from (the task says it)."""
    slot = T0 + m(n)
    if ch == ".":
        return CheckResult(site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
                           checked_at=slot, up=None, error="missed", region=region,
                           region_count=count)  # fmt: skip
    offset = timedelta(seconds=1 + REGIONS.index(region) if region in REGIONS else 1)
    return CheckResult(site_id=site, url="http://127.0.0.1:9/", scheduled_at=slot,
                       checked_at=slot + offset, response_time_ms=3.0,
                       status_code=None if ch == "T" else (200 if ch == "U" else 503),
                       up=ch == "U", error="timeout" if ch == "T" else None, region=region,
                       region_count=count)  # fmt: skip


def rows_of(site: int, patterns: dict[str, str], count: int = len(REGIONS)) -> list[CheckResult]:
    """Every region's rows, slot by slot: `patterns` maps a region to its slots ('U', 'D',
    'T', '.', or ' ' for no row at all: the region has not reported the slot)."""
    slots = max(len(p) for p in patterns.values())
    return [
        check(site, n, region, pattern[n], count)
        for n in range(slots)
        for region, pattern in patterns.items()
        if n < len(pattern) and pattern[n] != " "
    ]


def write_one_by_one(database: Database, rows: Sequence[CheckResult]) -> None:
    """Each row in a batch of its own, as the regions' results arrive one after another."""
    for r in rows:
        write_results(database, [r])


def incidents(db: Conn, site: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT opened_at - %s, opening_slot - %s, cause, resolved_at - %s, resolving_slot - %s,"
        "       regions"
        "  FROM incidents WHERE site_id = %s ORDER BY opened_at",
        (T0, T0, T0, T0, site),
    ).fetchall()


def events(db: Conn, site: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT scheduled_at - %s, from_up, to_up FROM site_events WHERE site_id = %s"
        " ORDER BY scheduled_at",
        (T0, site),
    ).fetchall()


def status(db: Conn, site: int) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT scheduled_at - %s, up FROM site_status WHERE site_id = %s", (T0, site)
    ).fetchone()


def add_default_channel(db: Conn) -> None:
    db.execute(
        "INSERT INTO channels (name, kind, config, is_default)"
        " VALUES ('hook', 'webhook', '{\"url\": \"http://127.0.0.1:9/\"}', true)"
    )


def claimed(db: Conn) -> list[Outgoing]:
    """The outbox's due notifications as the notifier claims and reads them."""
    rows = db.execute(
        NOTIFIER["claim"],
        {"busy": [], "scan": 100, "me": "test", "lease_s": 60, "per_channel": 100},
    ).fetchall()
    return sorted((outgoing(r) for r in rows), key=lambda n: n.event_at)


def test_one_region_down_for_many_slots_is_no_incident_and_no_flip(
    database: Database, db: Conn
) -> None:
    add_default_channel(db)
    site = add_site(db)
    write_one_by_one(database, rows_of(site, {
        "eu-west": "UUUUUUUUUUUU", "us-east": "UUUUUUUUUUUU", "ap-south": "UUDDDDDDDDDD",
    }))  # fmt: skip
    assert incidents(db, site) == []
    assert status(db, site) == (m(11), True)
    assert events(db, site) == [(m(0), None, True)]  # the first state, and no flip since
    assert db.execute("SELECT count(*) FROM notifications").fetchone() == (0,)
    # The region's own checks are stored as they were.
    downs = db.execute(
        "SELECT count(*) FROM check_results WHERE site_id = %s AND region = 'ap-south' AND NOT up",
        (site,),
    ).fetchone()
    assert downs == (10,)


def test_two_regions_down_open_one_incident_that_names_them(database: Database, db: Conn) -> None:
    add_default_channel(db)
    site = add_site(db)
    write_one_by_one(database, rows_of(site, {
        "eu-west": "UUDDDDUUU", "us-east": "UUTDDDUUU", "ap-south": "UUUUUUUUU",
    }))  # fmt: skip
    # Down from slot 2 (the first state the quorum saw down: its first region's check by
    # time, eu-west's 503), opened at the third down state, resolved by the second up.
    both = ["eu-west", "us-east"]
    assert incidents(db, site) == [(m(2), m(4), "HTTP 503", m(6), m(7), both)]
    assert events(db, site) == [(m(0), None, True), (m(2), True, False), (m(6), False, True)]
    assert status(db, site) == (m(8), True)
    sent = claimed(db)
    assert [n.kind for n in sent] == ["down", "resolved"]
    down, resolved = sent
    assert down.event_at == T0 + m(4) + timedelta(seconds=1)  # eu-west's check of slot 4
    body = payload(down)
    assert body["incident"]["regions"] == both
    assert "down from eu-west, us-east" in text(down)
    assert "down from eu-west, us-east" in text(resolved)
    assert payload(resolved)["incident"]["regions"] == both


def test_a_site_of_one_region_notifies_as_before(database: Database, db: Conn) -> None:
    add_default_channel(db)
    [site] = add_sites(db, 1)
    write_one_by_one(database, rows_of(site, {"default": "DDDUU"}, count=1))
    assert incidents(db, site) == [(m(0), m(2), "HTTP 503", m(3), m(4), None)]
    down, resolved = claimed(db)
    assert "regions" not in payload(down)["incident"]
    assert down.incident is not None
    assert text(down) == (
        f"DOWN {down.site_url}: HTTP 503 since 2026-11-23 12:00:00 UTC"
        f" (incident {down.incident.id})"
    )
    assert text(resolved) == (
        f"RESOLVED {down.site_url}: up again after 0:03:00 (down since 2026-11-23 12:00:00 UTC,"
        " cause HTTP 503)"
    )


def test_a_late_region_decides_older_slots_as_a_late_result(database: Database, db: Conn) -> None:
    """Slots 2-4 wait for us-east (eu-west down, ap-south up: either way yet); later
    slots are decided first. us-east's late rows make them down: the flips and the
    incident are recounted, and come out as for a twin site fed in order."""
    add_default_channel(db)
    late, twin = add_site(db), add_site(db)
    patterns = {"eu-west": "UUDDDUUU", "us-east": "UUDDDUUU", "ap-south": "UUUUUUUU"}
    write_one_by_one(database, rows_of(twin, patterns))
    first = [r for r in rows_of(late, patterns) if not (r.region == "us-east" and 2 <= _n(r) <= 4)]
    write_one_by_one(database, first)
    assert incidents(db, late) == []
    assert events(db, late) == [(m(0), None, True)]
    assert status(db, late) == (m(7), True)
    held = [r for r in rows_of(late, patterns) if r.region == "us-east" and 2 <= _n(r) <= 4]
    write_results(database, held[1:])  # slots 3 and 4, then 2
    write_results(database, held[:1])
    expected = [(m(2), m(4), "HTTP 503", m(5), m(6), ["eu-west", "us-east"])]
    assert incidents(db, twin) == expected
    assert incidents(db, late) == expected
    assert events(db, late) == events(db, twin) == [
        (m(0), None, True), (m(2), True, False), (m(5), False, True),
    ]  # fmt: skip
    assert status(db, late) == status(db, twin) == (m(7), True)
    kinds = db.execute(
        "SELECT kind, count(*) FROM notifications WHERE site_id = %s GROUP BY kind ORDER BY kind",
        (late,),
    ).fetchall()
    assert kinds == [("down", 1), ("resolved", 1)]


def _n(r: CheckResult) -> int:
    return int((r.scheduled_at - T0).total_seconds() // 60)


def test_a_slot_no_counting_region_checked_has_no_verdict(database: Database, db: Conn) -> None:
    """Every region missed slots 3-5: no verdict, skipped like a missed slot, so the downs
    on either side make one streak."""
    site = add_site(db)
    write_one_by_one(database, rows_of(site, {
        "eu-west": "UDD...DUU", "us-east": "UDD...DUU", "ap-south": "UUU...UUU",
    }))  # fmt: skip
    assert incidents(db, site) == [(m(1), m(6), "HTTP 503", m(7), m(8), ["eu-west", "us-east"])]


@pytest.mark.parametrize(
    ("quorum", "patterns", "expected"),
    [
        # Quorum 1: one region down is the site down.
        (1, {"eu-west": "UUUUU", "us-east": "UDDDU", "ap-south": "UUUUU"},
         [(m(1), m(3), "HTTP 503", None, None, ["us-east"])]),
        # Quorum 3: two regions down are not enough...
        (3, {"eu-west": "UDDDU", "us-east": "UDDDU", "ap-south": "UUUUU"}, []),
        # ...three are.
        (3, {"eu-west": "UDDDU", "us-east": "UDDDU", "ap-south": "UDDDU"},
         [(m(1), m(3), "HTTP 503", None, None, list(sorted(REGIONS)))]),
    ],
)  # fmt: skip
def test_a_sites_own_quorum(
    database: Database, db: Conn, quorum: int, patterns: dict[str, str], expected: list[Any]
) -> None:
    site = add_site(db, quorum=quorum)
    write_one_by_one(database, rows_of(site, patterns))
    assert incidents(db, site) == expected
    down = bool(expected)
    assert status(db, site) == (m(4), True)
    assert (m(1), True, False) in events(db, site) if down else len(events(db, site)) == 1


def test_a_region_in_an_outage_counts_for_nothing(database: Database, db: Conn) -> None:
    """us-east is in an outage over slots 0-5 (its checkers' path is broken): with it
    counting, eu-west and us-east down would be two of three; without it, one of two."""
    db.execute(
        "INSERT INTO region_outages (region, started_at, ended_at, cause)"
        " VALUES ('us-east', %s, %s, 'most_sites')",
        (T0, T0 + m(6)),
    )
    site = add_site(db)
    # A site of us-east alone: its checks in the outage count for nothing either.
    lonely = add_site(db, ["us-east"])
    write_one_by_one(database, rows_of(site, {
        "eu-west": "UDDDDDUU", "us-east": "DDDDDDDD", "ap-south": "UUUUUUUU",
    }))  # fmt: skip
    assert incidents(db, site) == []
    assert events(db, site) == [(m(0), None, True)]  # eu-west alone cannot make it down
    # Slots 6 and 7 are after the outage: eu-west up, us-east down, ap-south up: up.
    assert status(db, site) == (m(7), True)
    write_one_by_one(database, rows_of(lonely, {"us-east": "DDDDDDDD"}, count=1))
    # Slots 0-5 have no verdict: two downs after the outage make no incident yet, and the
    # site's state is its first down after the outage.
    assert incidents(db, lonely) == []
    assert status(db, lonely) == (m(7), False)
    assert events(db, lonely) == [(m(6), None, False)]
    write_one_by_one(database, rows_of(lonely, {"us-east": "        D"}, count=1))
    assert incidents(db, lonely) == [(m(6), m(8), "HTTP 503", None, None, None)]


def test_an_open_outage_and_a_late_row_after_it(database: Database, db: Conn) -> None:
    """A site of one region whose region goes into an outage in the middle of a down
    streak: the streak's downs before the outage still count, those in it do not."""
    [site] = add_sites(db, 1)
    write_one_by_one(database, rows_of(site, {"default": "UDD"}, count=1))
    db.execute(
        "INSERT INTO region_outages (region, started_at, cause) VALUES ('default', %s, 'canary')",
        (T0 + m(3),),
    )
    write_one_by_one(database, rows_of(site, {"default": "   DDDD"}, count=1))
    assert incidents(db, site) == []  # two downs, then nothing that counts
    assert status(db, site) == (m(2), False)
    db.execute("UPDATE region_outages SET ended_at = %s", (T0 + m(7),))
    write_one_by_one(database, rows_of(site, {"default": "       D"}, count=1))
    # The third down that counts is slot 7: the incident opens there, from slot 1.
    assert incidents(db, site) == [(m(1), m(7), "HTTP 503", None, None, None)]


PATTERNS = {
    "eu-west": "UUDDDDUUUDD.DDUUUDDDDD UUUUDDDDUU",
    "us-east": "UUDDDUUUDDDTTDUU.DDDDDDUUUUDD.DUU",
    "ap-south": "UUUUDDDUUDDDDDUUUUU.UDDDUU.UDDDUU",
}


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_and_redelivered_rows_of_three_regions_give_the_same_state(
    database: Database, db: Conn, seed: int
) -> None:
    add_default_channel(db)
    in_order, shuffled = add_site(db), add_site(db)
    write_one_by_one(database, rows_of(in_order, PATTERNS))
    rng = random.Random(seed)
    rows = rows_of(shuffled, PATTERNS)
    rows += rng.sample(rows, 20)  # redeliveries
    rng.shuffle(rows)
    while rows:  # batches of 1 to 6, some with several rows of a slot
        size = rng.randint(1, 6)
        write_results(database, rows[:size])
        rows = rows[size:]
    # The check that stands for a slot (the cause) is the first of those stored when its
    # state was decided, which depends on the order: the rest may not.
    expected = [i[:2] + i[3:] for i in incidents(db, in_order)]
    assert len(expected) >= 3
    assert all(i[4] is not None and len(i[4]) >= 2 for i in expected)
    assert [i[:2] + i[3:] for i in incidents(db, shuffled)] == expected
    assert events(db, shuffled) == events(db, in_order)
    assert status(db, shuffled) == status(db, in_order)
    kinds = (
        "SELECT n.kind, count(*) FROM notifications n WHERE n.site_id = %s"
        " GROUP BY n.kind ORDER BY n.kind"
    )
    assert db.execute(kinds, (shuffled,)).fetchall() == db.execute(kinds, (in_order,)).fetchall()


def test_a_batch_of_many_sites_of_several_regions_locks_its_partitions_not_each_site(
    db: Conn, database: Database
) -> None:
    """A writer's quorum path takes turns with another writer of the same sites by a lock
    per partition of its batch. A lock per site took an entry of the server's shared lock
    table each (64 per connection by default): a batch this size failed with "out of
    shared memory", and so did every other transaction on the server meanwhile. The batch
    here has twice as many sites as the table has entries (on the test suite's server)."""
    entries = db.execute(
        "SELECT current_setting('max_locks_per_transaction')::int * "
        "(current_setting('max_connections')::int "
        "+ current_setting('max_prepared_transactions')::int)"
    ).fetchone()
    assert entries is not None
    sites = add_sites(db, min(2 * entries[0], 50_000))
    db.execute("UPDATE sites SET regions = %s WHERE id = ANY (%s)", (list(REGIONS), sites))
    rows = [check(site, 0, region, "U") for site in sites for region in REGIONS[:2]]
    partitions = [("webmon.results", n) for n in range(6)]
    assert write_results(database, rows, partitions=partitions) == len(rows)
    assert db.execute(
        "SELECT count(*) FROM site_status WHERE site_id = ANY (%s) AND up", (sites,)
    ).fetchone() == (len(sites),)


def flips_of_states(db: Conn, site: int) -> list[tuple[Any, ...]]:
    """The flips between the site's states as the readers have them (webmon_site_states,
    webmon_slot_verdict's rule per slot)."""
    states = db.execute(
        "SELECT scheduled_at - %s, up FROM webmon_site_states(%s, '-infinity', 'infinity')",
        (T0, site),
    ).fetchall()
    flips: list[tuple[Any, ...]] = []
    before: bool | None = None
    for slot, up in states:
        if up != before:
            flips.append((slot, before, up))
            before = up
    return flips


@pytest.mark.parametrize("size", [1, 2, 3, 50])
def test_the_writers_states_are_the_readers_states(database: Database, db: Conn, size: int) -> None:
    """The writer decides a batch's slots in one statement (quorum_states), the readers a
    slot at a time (webmon_slot_verdict): both count the rows of a slot the same way, in
    batches that split a slot's regions (1, 2) or hold them together (3, 50)."""
    site = add_site(db)
    rows = rows_of(site, PATTERNS)
    for i in range(0, len(rows), size):
        write_results(database, rows[i : i + size])
    expected = flips_of_states(db, site)
    assert len(expected) >= 4
    assert events(db, site) == expected
    last = db.execute(
        "SELECT scheduled_at - %s, up FROM webmon_site_states(%s, '-infinity', 'infinity')"
        " ORDER BY scheduled_at DESC LIMIT 1",
        (T0, site),
    ).fetchone()
    assert status(db, site) == last
