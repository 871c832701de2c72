"""What an outage's start and end change, counted again by the writer on a real PostgreSQL
(checker/writer/outage_recount.py): once a region's outage opens from slot S, its sites'
status, flips and incidents are as if its checks from S on never counted, those written
before the outage was known included; once it ends at slot E, slots from E on that were
decided without the region are counted with it. And the canary's threshold: a single
failure opens nothing, a run opens the outage from its first failure."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from checker.writer import write_results
from checker.writer.region_health import RegionRules
from shared.db import Database
from shared.messages import CheckResult
from tests.integration.test_region_health import (
    add_site,
    at,
    channels,
    check,
    outages,
    region_notifications,
    set_canary,
)
from tests.support.db import Conn

pytestmark = pytest.mark.integration

TWICE = RegionRules(canary_failures=2)  # the default, said here because the tests rely on it


def status(db: Conn, site: int) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT scheduled_at, up, status_code FROM site_status WHERE site_id = %s", (site,)
    ).fetchone()


def events(db: Conn, site: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT scheduled_at, from_up, to_up FROM site_events WHERE site_id = %s"
        " ORDER BY scheduled_at",
        (site,),
    ).fetchall()


def incidents(db: Conn, site: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT opening_slot, resolving_slot, regions FROM incidents WHERE site_id = %s"
        " ORDER BY opened_at",
        (site,),
    ).fetchall()


def pair_check(site: int, minute: int, west: bool, east: bool) -> list[CheckResult]:
    """A slot of a site checked from eu-west and us-east, as the two regions saw it."""
    return [_of(check(site, minute, "eu-west", west)), _of(check(site, minute, "us-east", east))]


def _of(row: CheckResult, regions: int = 2) -> CheckResult:
    """The row as the task of a site of `regions` regions carries it."""
    return msgspec.structs.replace(row, region_count=regions)


def test_an_outage_counts_again_the_status_and_flips_its_slots_already_had(
    db_url: str, db: Conn
) -> None:
    """eu-west's canary fails from minute 1, but its failures arrive only with minute 4's
    batch (the second in a row opens the outage, from the first). Meanwhile `lone` (eu-west
    alone) was down from 1, which opened an incident at 3, and `pair` (eu-west and us-east,
    quorum 2) was up: eu-west up, us-east down. Without eu-west from 1 on, `lone` has no
    state after minute 0 and `pair` is down from 1, in the batches before the outage was
    known and in the batch that opened it."""
    channels(db)
    canary = add_site(db, "canary", ["eu-west"])
    set_canary(db, "eu-west", canary)
    lone = add_site(db, "lone", ["eu-west"])
    pair = add_site(db, "pair", ["eu-west", "us-east"])
    with Database(db_url) as database:
        write_results(database, [check(canary, 0, "eu-west", True), check(lone, 0, "eu-west", True),
                                 *pair_check(pair, 0, True, True)], TWICE)  # fmt: skip
        for minute in (1, 2, 3):
            rows = [check(lone, minute, "eu-west", False), *pair_check(pair, minute, True, False)]
            write_results(database, rows, TWICE)
        assert status(db, lone) == (at(3), False, 503)
        assert len(incidents(db, lone)) == 1
        assert status(db, pair) == (at(3), True, 200)
        late = [check(canary, m, "eu-west", False, "timeout") for m in (1, 2)]
        write_results(
            database,
            [*late, check(lone, 4, "eu-west", False), *pair_check(pair, 4, True, False)],
            TWICE,
        )
    assert [o[1:5] for o in outages(db)] == [("eu-west", at(1), None, "canary")]
    # lone: its last state is minute 0's; nothing flipped since; its incident withdrawn.
    assert status(db, lone) == (at(0), True, 200)
    assert events(db, lone) == [(at(0), None, True)]
    assert incidents(db, lone) == []
    # pair: us-east alone counts from 1 on (a quorum of one): down from 1, an incident at 3.
    assert status(db, pair) == (at(4), False, 503)
    assert events(db, pair) == [(at(0), None, True), (at(1), True, False)]
    assert incidents(db, pair) == [(at(3), None, ["us-east"])]
    # The checks themselves stay as they were measured.
    assert db.execute(
        "SELECT count(*) FROM check_results WHERE site_id = %s AND NOT up", (lone,)
    ).fetchone() == (4,)


def test_an_outage_whose_every_state_was_the_regions_leaves_no_status(
    db_url: str, db: Conn
) -> None:
    """A site first checked after the canary began to fail, from its region alone: once the
    outage is known it has no state at all, as before its first."""
    canary = add_site(db, "canary", ["eu-west"])
    set_canary(db, "eu-west", canary)
    fresh = add_site(db, "fresh", ["eu-west"])
    with Database(db_url) as database:
        write_results(database, [check(fresh, 1, "eu-west", True)], TWICE)
        assert status(db, fresh) == (at(1), True, 200)
        write_results(
            database, [check(canary, m, "eu-west", False, "timeout") for m in (0, 1)], TWICE
        )
    assert status(db, fresh) is None
    assert events(db, fresh) == []


def test_an_outage_ended_by_a_late_batch_counts_the_region_again_from_its_end(
    db_url: str, db: Conn
) -> None:
    """eu-west is out from minute 0 (its canary failed at 0 and 1). Its sites' checks of
    minutes 2-4 arrive before the canary's up check of minute 2, which ends the outage
    there: the slots from 2 on, decided without eu-west, are counted with it. `lone` (eu-west
    alone, down) gets its states, flips and incident; `pair` (eu-west up, us-east down,
    quorum 2) was down without eu-west and is up with it: its flip and incident go."""
    channels(db)
    canary = add_site(db, "canary", ["eu-west"])
    set_canary(db, "eu-west", canary)
    lone = add_site(db, "lone", ["eu-west"])
    pair = add_site(db, "pair", ["eu-west", "us-east"])
    with Database(db_url) as database:
        for minute in range(5):
            rows = [check(lone, minute, "eu-west", False), *pair_check(pair, minute, True,
                                                                       minute < 2)]  # fmt: skip
            if minute < 2:
                rows.append(check(canary, minute, "eu-west", False, "timeout"))
            write_results(database, rows, TWICE)
        [(oid, _, started, ended, _, _)] = outages(db)
        assert (started, ended) == (at(0), None)
        assert status(db, lone) is None and events(db, lone) == []
        assert incidents(db, pair) == [(at(4), None, ["us-east"])]
        write_results(database, [check(canary, 2, "eu-west", True)], TWICE)  # late
    assert outages(db)[0][3] == at(2)
    assert status(db, lone) == (at(4), False, 503)
    assert events(db, lone) == [(at(2), None, False)]
    assert incidents(db, lone) == [(at(4), None, None)]
    assert status(db, pair) == (at(4), True, 200)
    assert events(db, pair) == [(at(0), None, True)]
    assert incidents(db, pair) == []
    assert [n[2] for n in region_notifications(db)] == ["region_down"] * 2 + ["region_up"] * 2
    assert {n[3] for n in region_notifications(db)} == {oid}


def test_an_outage_ended_in_the_batch_of_its_sites_checks_counts_them(
    db_url: str, db: Conn
) -> None:
    """The canary's up check of minute 2 and `lone`'s down checks of minutes 2-4 in one
    batch: they were counted before the batch ended the outage, and count with eu-west."""
    canary = add_site(db, "canary", ["eu-west"])
    set_canary(db, "eu-west", canary)
    lone = add_site(db, "lone", ["eu-west"])
    with Database(db_url) as database:
        write_results(
            database, [check(canary, m, "eu-west", False, "timeout") for m in (0, 1)], TWICE
        )
        write_results(
            database,
            [check(canary, 2, "eu-west", True),
             *(check(lone, m, "eu-west", False) for m in (2, 3, 4))],
            TWICE,
        )  # fmt: skip
    assert outages(db)[0][2:4] == (at(0), at(2))
    assert status(db, lone) == (at(4), False, 503)
    assert events(db, lone) == [(at(2), None, False)]
    assert incidents(db, lone) == [(at(4), None, None)]


def test_a_flaky_canary_opens_nothing_and_a_run_opens_from_its_first_failure(
    db_url: str, db: Conn
) -> None:
    """The threshold (WEBMON_REGION_CANARY_FAILURES, 2): one failure between up checks
    opens nothing and tells nothing; two in a row open the outage from the first. A missed
    slot neither breaks a run nor extends it, and a run whose checks arrive out of order
    opens it all the same."""
    channels(db)
    west = add_site(db, "west", ["eu-west"])
    east = add_site(db, "east", ["us-east"])
    set_canary(db, "eu-west", west)
    set_canary(db, "us-east", east)
    missed = CheckResult(
        site_id=west, url="http://127.0.0.1:9/", scheduled_at=at(4), checked_at=at(4),
        region="eu-west", up=None, error="missed",
    )  # fmt: skip
    with Database(db_url) as database:
        for rows in ([check(west, 0, "eu-west", True)],
                     [check(west, 1, "eu-west", False, "timeout")],
                     [check(west, 2, "eu-west", True)],
                     [check(west, 3, "eu-west", False, "timeout")],
                     [missed]):  # fmt: skip
            write_results(database, rows)
        assert outages(db) == [] and region_notifications(db) == []
        write_results(database, [check(west, 5, "eu-west", False, "timeout")])
        write_results(database, [check(east, 11, "us-east", False, "dns")])
        assert [o[1:4] for o in outages(db)] == [("eu-west", at(3), None)]
        write_results(database, [check(east, 10, "us-east", False, "dns")])  # late
    assert [o[1:5] for o in outages(db)] == [
        ("eu-west", at(3), None, "canary"), ("us-east", at(10), None, "canary"),
    ]  # fmt: skip
    assert sorted({(n[2], n[6]) for n in region_notifications(db)}) == [
        ("region_down", at(3)), ("region_down", at(10)),
    ]  # fmt: skip
