"""Region health end to end on a real PostgreSQL (and broker, for two writers): a region's
failing canary, or most of its sites failing while another region sees them up, opens one
outage and one notification per default channel; its recovery ends it; while it lasts the
region's checks count for no site's quorum; the CLI and the API show it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checker.writer import write_results
from checker.writer.region_health import RegionRules
from checker.writer.store import QUERIES
from shared.db import Database
from shared.messages import CheckResult
from tests.integration.test_writer import produce, running_writer
from tests.support.alerting import NOTIFIER_FAST, add_channel
from tests.support.api import running_api
from tests.support.cli import webmon
from tests.support.db import Conn, count
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import Receiver

pytestmark = pytest.mark.integration

REGIONS = ["eu-west", "us-east"]
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
# Whether the writer's incident walk asks the quorum (checks of a region in an outage count
# for nothing there): without it, a slot is down only when every region saw it down.
QUORUM_WALK = any(
    rule in q for q in QUERIES.values() for rule in ("webmon_slot_up", "webmon_site_states")
)
FEW = RegionRules(min_sites=3, down_ratio=0.8)
# One failed canary check is enough (the tests of a single failure's outage).
ONE_FAILURE = RegionRules(canary_failures=1)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def add_site(db: Conn, name: str, regions: list[str], quorum: int | None = None) -> int:
    row = db.execute(
        "INSERT INTO sites (url, regions, quorum) VALUES (%s, %s, %s) RETURNING id",
        (f"http://127.0.0.1:9/{name}", regions, quorum),
    ).fetchone()
    assert row is not None
    return int(row[0])


def check(
    site_id: int, minute: int, region: str, up: bool, error: str | None = None,
    when: datetime | None = None,
) -> CheckResult:  # fmt: skip
    slot = when or at(minute)
    return CheckResult(
        site_id=site_id, url=f"http://127.0.0.1:9/{site_id}", scheduled_at=slot,
        checked_at=slot, region=region, up=up,
        status_code=None if error else (200 if up else 503), error=error,
    )  # fmt: skip


def channels(db: Conn) -> list[int]:
    """Two enabled default channels (notified), a disabled default one and one that is not a
    default (not notified); the ids of the two."""
    a = add_channel(db, "ops-a", default=True, config={"url": "http://127.0.0.1:9/a"})
    b = add_channel(db, "ops-b", default=True, config={"url": "http://127.0.0.1:9/b"})
    off = add_channel(db, "off", default=True, config={"url": "http://127.0.0.1:9/c"})
    db.execute("UPDATE channels SET enabled = false WHERE id = %s", (off,))
    add_channel(db, "routed", config={"url": "http://127.0.0.1:9/d"})
    return sorted([a, b])


def outages(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT id, region, started_at, ended_at, cause, detail FROM region_outages ORDER BY id"
    ).fetchall()


def region_notifications(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT idempotency_key, channel_id, kind, region_outage_id, site_id, incident_id,"
        " event_at FROM notifications WHERE kind LIKE 'region%'"
        " ORDER BY region_outage_id, kind = 'region_up', channel_id"
    ).fetchall()


def set_canary(db: Conn, region: str, site_id: int) -> None:
    db.execute("INSERT INTO region_canaries (region, site_id) VALUES (%s, %s)", (region, site_id))


def test_a_failing_canary_opens_one_outage_told_once_per_default_channel(
    db_url: str, db: Conn
) -> None:
    notified = channels(db)
    canary = add_site(db, "canary", REGIONS)
    set_canary(db, "eu-west", canary)
    with Database(db_url) as database:
        # us-east's check of the canary fails too: only eu-west's canary is eu-west's.
        write_results(database, [check(canary, 0, "us-east", False, "connect")])
        assert outages(db) == []
        first = [check(canary, 1, "eu-west", False, "timeout")]
        write_results(database, first)
        write_results(database, first)  # redelivered: still one failure, maybe a flake
        assert outages(db) == []
        # The second in a row (WEBMON_REGION_CANARY_FAILURES, 2): unhealthy from the first.
        write_results(database, [check(canary, 2, "eu-west", False, "timeout")])
        write_results(database, [check(canary, 3, "eu-west", False, "timeout")])  # still down
    [(oid, region, started, ended, cause, detail)] = outages(db)
    assert (region, started, ended, cause, detail) == ("eu-west", at(1), None, "canary", "timeout")
    assert region_notifications(db) == [
        (f"region-outage-{oid}-down", ch, "region_down", oid, None, None, at(1)) for ch in notified
    ]
    with Database(db_url) as database:
        up = [check(canary, 4, "eu-west", True)]
        write_results(database, up)
        write_results(database, up)  # redelivered
        write_results(database, [check(canary, 5, "eu-west", True)])
    assert outages(db) == [(oid, "eu-west", at(1), at(4), "canary", "timeout")]
    assert region_notifications(db)[2:] == [
        (f"region-outage-{oid}-up", ch, "region_up", oid, None, None, at(4)) for ch in notified
    ]


def test_two_writers_that_see_the_canary_fail_open_one_outage(
    env: dict[str, str], db: Conn
) -> None:
    """Two writers in two groups read the same results: each writes the canary's failure in
    its own transaction (the second's is a redelivery); one outage, told once per channel."""
    notified = channels(db)
    canary = add_site(db, "canary", ["eu-west"])
    set_canary(db, "eu-west", canary)
    produce(env, [(canary, check(canary, m, "eu-west", False, "timeout").encode())
                  for m in range(3)])  # fmt: skip
    group = env["WEBMON_WRITER_GROUP"]
    with (
        running_writer(env, writer_group=f"{group}.1") as one,
        running_writer(env, writer_group=f"{group}.2") as two,
    ):
        wait_for(lambda: one.totals.rows >= 3 and two.totals.rows >= 3, what="both writers")
    assert count(db, "SELECT count(*) FROM check_results") == 3
    [(oid, _, started, ended, cause, _)] = outages(db)
    assert (started, ended, cause) == (at(0), None, "canary")
    assert [(n[0], n[1]) for n in region_notifications(db)] == [
        (f"region-outage-{oid}-down", ch) for ch in notified
    ]


def _most_fail(database: Database, sites: list[int], minute: int, down_in: set[str]) -> None:
    """A slot of `sites` from both regions: us-east's checks first, then eu-west's batch."""
    for region in ("us-east", "eu-west"):
        write_results(
            database, [check(s, minute, region, region not in down_in) for s in sites], FEW
        )


def test_most_sites_failing_where_another_region_sees_them_up_opens_and_ends_an_outage(
    db_url: str, db: Conn
) -> None:
    notified = channels(db)
    sites = [add_site(db, f"s{n}", REGIONS) for n in range(4)]
    lone = [add_site(db, f"lone{n}", ["eu-west"]) for n in range(4)]
    with Database(db_url) as database:
        _most_fail(database, sites, 0, {"eu-west", "us-east"})  # the sites' own failure
        write_results(database, [check(s, 0, "eu-west", False) for s in lone], FEW)
        assert outages(db) == []  # nobody else saw them up
        _most_fail(database, sites, 1, {"eu-west"})
        _most_fail(database, sites, 2, {"eu-west"})
        [(oid, region, started, ended, cause, detail)] = outages(db)
        assert (region, started, ended, cause) == ("eu-west", at(1), None, "most_sites")
        assert detail == "4 of 4 checks down while another region saw the site up"
        _most_fail(database, sites, 3, set())  # fine again
    assert outages(db)[0][3] == at(3)
    assert [(n[0], n[1], n[6]) for n in region_notifications(db)] == [
        (f"region-outage-{oid}-down", ch, at(1)) for ch in notified
    ] + [(f"region-outage-{oid}-up", ch, at(3)) for ch in notified]


def test_two_writers_at_once_open_one_most_sites_outage(db_url: str, db: Conn) -> None:
    notified = channels(db)
    halves = [[add_site(db, f"{h}{n}", REGIONS) for n in range(3)] for h in "ab"]
    with Database(db_url) as database:
        for half in halves:
            write_results(database, [check(s, 0, "us-east", True) for s in half], FEW)
    go = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(half: list[int]) -> None:
        try:
            with Database(db_url) as database:
                go.wait()
                write_results(database, [check(s, 0, "eu-west", False) for s in half], FEW)
        except BaseException as exc:  # seen by the test below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    [(oid, *_)] = outages(db)
    assert [(n[0], n[1]) for n in region_notifications(db)] == [
        (f"region-outage-{oid}-down", ch) for ch in notified
    ]


def test_a_quorum_of_one_opens_no_incident_on_the_unhealthy_regions_checks_alone(
    db_url: str, db: Conn
) -> None:
    """Site `spoiled` (quorum 1) fails from eu-west only, whose canary fails too: no incident,
    also for the slots it was walked over before the canary's failure arrived. Site
    `broken` fails from us-east, a healthy region: with a quorum of 1 that is an incident."""
    channels(db)
    canary = add_site(db, "canary", REGIONS)
    set_canary(db, "eu-west", canary)
    spoiled = add_site(db, "spoiled", REGIONS, quorum=1)
    broken = add_site(db, "broken", REGIONS, quorum=1)

    def slot(minute: int, *, with_canary: bool = True) -> list[CheckResult]:
        rows = [check(spoiled, minute, "eu-west", False, "timeout"),
                check(spoiled, minute, "us-east", True),
                check(broken, minute, "eu-west", True),
                check(broken, minute, "us-east", False),
                check(canary, minute, "us-east", True)]  # fmt: skip
        if with_canary:
            rows.append(check(canary, minute, "eu-west", False, "timeout"))
        return rows

    with Database(db_url) as database:
        for minute in range(3):  # walked before the canary's checks of these slots arrive
            write_results(database, slot(minute, with_canary=False))
        write_results(database, [check(canary, m, "eu-west", False, "timeout") for m in range(3)])
        for minute in range(3, 6):
            write_results(database, slot(minute))
    assert [o[1:5] for o in outages(db)] == [("eu-west", at(0), None, "canary")]
    assert count(db, "SELECT count(*) FROM incidents WHERE site_id = %s", spoiled) == 0
    assert count(db, "SELECT count(*) FROM notifications WHERE site_id = %s", spoiled) == 0
    state = db.execute(
        "SELECT down_streak FROM site_alert_state WHERE site_id = %s", (spoiled,)
    ).fetchone()
    assert state in (None, (0,))
    if not QUORUM_WALK:
        pytest.skip("the writer's walk does not ask the quorum yet")
    assert count(db, "SELECT count(*) FROM incidents WHERE site_id = %s", broken) == 1


def test_the_cli_and_the_api_name_the_canary_and_show_the_outage(
    cli_env: dict[str, str], db_url: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    canary = add_site(db, "canary", REGIONS)
    other = add_site(db, "other", ["us-east"])
    refused = "is not checked from eu-west: a region's canary must list the region in its regions"
    assert webmon("regions", "canary", "eu-west", str(other)) == (2, "")
    assert refused in capsys.readouterr().err
    code, out = webmon("regions", "canary", "eu-west", "http://127.0.0.1:9/canary")
    assert (code, out) == (0, f"region eu-west: canary site {canary} (http://127.0.0.1:9/canary)\n")
    assert db.execute("SELECT region, site_id FROM region_canaries").fetchall() == [
        ("eu-west", canary)
    ]
    now = datetime.now(UTC).replace(microsecond=0)
    down = [check(canary, 0, "eu-west", False, "timeout", when=now),
            check(canary, 0, "us-east", True, when=now)]  # fmt: skip
    with Database(db_url) as database:
        write_results(database, down, ONE_FAILURE)
    code, out = webmon("regions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[-2:] == ["canary", "health"]
    assert lines[1].split()[0] == "eu-west" and lines[1].split()[-2:] == [str(canary), "unhealthy"]
    assert lines[2].split()[-2:] == ["-", "ok"]
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    assert lines[3] == (
        f"eu-west: unhealthy since {stamp} UTC: its canary fails (timeout); its checks count "
        "for no site's quorum"
    )
    assert lines[4] == "2 regions over the last 5m; unhealthy: eu-west"
    with running_api(db_url, db) as api:
        listed = {r["region"]: r for r in api.get("/api/v1/regions").json()}
        east = listed["eu-west"]
        assert east["health"] == "unhealthy"
        assert east["canary"] == {
            "site_id": canary,
            "url": "http://127.0.0.1:9/canary",
            "active": True,
        }
        assert (east["outage"]["cause"], east["outage"]["detail"]) == ("canary", "timeout")
        assert listed["us-east"]["outage"] is None and listed["us-east"]["health"] == "ok"
        results = api.get(f"/api/v1/sites/{canary}/results").json()
        assert {(r["region"], r["counted"]) for r in results} == {
            ("eu-west", False), ("us-east", True),
        }  # fmt: skip
        path = "/api/v1/regions/eu-west/canary"
        write = api.client.put(path, json={"site_id": canary}, headers=api.write)
        assert write.status_code == 403
        wrong = api.client.put(path, json={"site_id": other}, headers=api.admin)
        assert wrong.status_code == 422 and refused in wrong.json()["detail"]
        cleared = api.client.put(path, json={"site_id": None}, headers=api.admin)
        assert cleared.status_code == 200, cleared.text
        assert cleared.json() == {"region": "eu-west", "canary": None}
        # Without a canary nothing would end its outage: it ends now, and that is told.
        assert api.get("/api/v1/regions").json()[0]["outage"] is None
    assert db.execute("SELECT count(*) FROM region_outages WHERE ended_at IS NULL").fetchone() == (
        0,
    )
    assert webmon("regions", "canary", "eu-west", "--clear") == (
        0,
        "region eu-west has no canary\n",
    )


def test_the_notifier_tells_a_regions_outage_in_words_and_in_its_payload(
    env: dict[str, str], db_url: str, db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver() as hook, Receiver() as chat:
        add_channel(db, "hook", default=True, config={"url": hook.url()})
        add_channel(db, "chat", "slack", default=True, config={"url": chat.url()})
        canary = add_site(db, "canary", ["eu-west"])
        set_canary(db, "eu-west", canary)
        with Database(db_url) as database:
            write_results(database, [check(canary, 0, "eu-west", False, "timeout")], ONE_FAILURE)
            write_results(database, [check(canary, 5, "eu-west", True)], ONE_FAILURE)
        start(processes, "notifier", {**env, **NOTIFIER_FAST}, "notifier", tmp_path)
        wait_for(lambda: len(hook.accepted()) == 2 and len(chat.accepted()) == 2, 30, "sent")
        bodies = sorted((r.json() for r in hook.accepted()), key=lambda b: b["event"])
        texts = sorted(r.json()["text"] for r in chat.accepted())
    [(oid, *_)] = outages(db)
    assert [b["event"] for b in bodies] == ["region_down", "region_up"]
    assert bodies[0]["idempotency_key"] == f"region-outage-{oid}-down"
    assert bodies[0]["site"] is None and bodies[0]["incident"] is None
    assert bodies[0]["region_outage"]["region"] == "eu-west"
    assert bodies[1]["region_outage"]["ended_at"] == at(5).isoformat()
    since = at(0).strftime("%Y-%m-%d %H:%M UTC")
    assert texts == [
        f"Region eu-west is healthy again since {at(5).strftime('%Y-%m-%d %H:%M UTC')}, after "
        f"5 min unhealthy (since {since}: its canary http://127.0.0.1:9/canary failed "
        "(timeout)). Its checks count for the sites' quorum again.",
        f"Region eu-west is unhealthy since {since}: its canary http://127.0.0.1:9/canary "
        "fails (timeout). Its checks count for no site's quorum until it recovers.",
    ]


def test_a_late_failure_of_the_canary_is_an_outage_that_already_ended(
    db_url: str, db: Conn
) -> None:
    """The canary's check of minute 1 arrives after its up check of minute 3: the region was
    unhealthy from 1 to 3, both told; delivered again, nothing more."""
    notified = channels(db)
    canary = add_site(db, "canary", ["eu-west"])
    set_canary(db, "eu-west", canary)
    late = [check(canary, 1, "eu-west", False, "dns")]
    with Database(db_url) as database:
        for rows in (
            [check(canary, 0, "eu-west", True)],
            [check(canary, 3, "eu-west", True)],
            late,
            late,  # redelivered: the outage covers its slot
            [check(canary, 2, "eu-west", False, "dns")],  # covered too
        ):
            write_results(database, rows, ONE_FAILURE)
    [(oid, region, started, ended, cause, detail)] = outages(db)
    assert (region, started, ended, cause, detail) == ("eu-west", at(1), at(3), "canary", "dns")
    assert [(n[0], n[1], n[6]) for n in region_notifications(db)] == [
        (f"region-outage-{oid}-down", ch, at(1)) for ch in notified
    ] + [(f"region-outage-{oid}-up", ch, at(3)) for ch in notified]


def test_a_canary_that_no_longer_watches_its_region_is_shown_idle(
    cli_env: dict[str, str], db: Conn
) -> None:
    canary = add_site(db, "canary", REGIONS)
    assert webmon("regions", "canary", "eu-west", str(canary))[0] == 0
    db.execute("UPDATE sites SET regions = '{us-east}' WHERE id = %s", (canary,))
    code, out = webmon("regions")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[0] == "eu-west" and f"{canary} (idle)" in lines[1]
    assert lines[3] == (
        f"eu-west: canary site {canary} is disabled or not checked from eu-west: it tells "
        "nothing of the region"
    )
