"""Regions end to end on this machine: the scheduler emits one task per (site, slot, region)
to each region's topic; a checker of a region consumes only its region's topic and stamps
its region on the result; the writer stores one row per (site, slot, region), exactly once
through redelivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import confluent_kafka
import msgspec
import orjson
import pytest

from checker.probe.results import check_result
from checker.settings import CheckerSettings
from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult, CheckTask, decode
from tests.integration.test_scheduler import insert_due_sites, make_scheduler, tasks
from tests.support.db import Conn, count
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services
from tests.support.settings import settings_from_env
from tests.support.topics import read_all

pytestmark = pytest.mark.integration

REGIONS = ["eu-west", "us-east", "ap-south"]


def _region_tasks(env: dict[str, str], services: Services, region: str) -> list[dict[str, Any]]:
    topic = f"{env['WEBMON_TASKS_TOPIC']}.{region}"
    return [orjson.loads(m.value() or b"") for m in read_all(services.kafka_bootstrap, topic)]


def test_a_site_of_three_regions_gets_a_task_per_region_on_each_regions_topic(
    env: dict[str, str], services: Services, db: Conn
) -> None:
    insert_due_sites(db, 3, due_at=datetime.now(UTC) - timedelta(seconds=1))
    ids = [r[0] for r in db.execute("SELECT id FROM sites ORDER BY id").fetchall()]
    db.execute("UPDATE sites SET regions = %s WHERE id = %s", (REGIONS, ids[0]))
    db.execute("UPDATE sites SET regions = '{default,us-east}' WHERE id = %s", (ids[1],))
    scheduler, pool = make_scheduler(env)
    try:
        assert scheduler.drain() == 3 + 2 + 1  # tasks, one per (site, slot, region)
    finally:
        pool.close()
    # The default region's tasks stay on the tasks topic, encoded as before regions.
    default = tasks(env, services)
    assert sorted(t["site_id"] for t in default) == [ids[1], ids[2]]
    assert all("region" not in t for t in default)
    # A site of several regions: each task says how many (the writer's quorum path); a
    # site of one region: as before regions, no count.
    counts = {t["site_id"]: t.get("region_count") for t in default}
    assert counts == {ids[1]: 2, ids[2]: None}
    assert {t.get("region_count") for r in REGIONS for t in _region_tasks(env, services, r)
            if t["site_id"] == ids[0]} == {3}  # fmt: skip
    for region in REGIONS:
        found = _region_tasks(env, services, region)
        expected = [ids[0], ids[1]] if region == "us-east" else [ids[0]]
        assert sorted(t["site_id"] for t in found) == expected, region
        assert {t["region"] for t in found} == {region}
        slots = {t["scheduled_at"] for t in found if t["site_id"] == ids[0]}
        assert len(slots) == 1
    # One slot for the site across its regions: the same claim.
    first = {t["scheduled_at"] for r in REGIONS for t in _region_tasks(env, services, r)
             if t["site_id"] == ids[0]}  # fmt: skip
    assert len(first) == 1


def test_a_checker_consumes_its_regions_topic_in_its_regions_group(env: dict[str, str]) -> None:
    plain = settings_from_env(CheckerSettings, env)
    assert (plain.region_topic, plain.region_probe_group) == (
        env["WEBMON_TASKS_TOPIC"], plain.probe_group,
    )  # fmt: skip
    east = settings_from_env(CheckerSettings, env, checker_region="us-east")
    assert east.region_topic == f"{env['WEBMON_TASKS_TOPIC']}.us-east"
    assert east.region_probe_group == f"{plain.probe_group}.us-east"
    with pytest.raises(ValueError, match="checker_region"):
        settings_from_env(CheckerSettings, env, checker_region="US East")


def test_each_region_stores_its_own_row_of_a_slot_once(db_url: str, db: Conn) -> None:
    site = db.execute("INSERT INTO sites (url) VALUES ('http://127.0.0.1:9/') RETURNING id")
    (site_id,) = site.fetchone() or (0,)
    slot = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    task = CheckTask(site_id=site_id, url="http://127.0.0.1:9/", timeout_s=1.0,
                     scheduled_at=slot, expires_at=slot + timedelta(minutes=1))  # fmt: skip
    rows = [
        CheckResult(site_id=site_id, url=task.url, scheduled_at=slot, checked_at=slot,
                    status_code=200, up=True, response_time_ms=1.0, region=region)
        for region in REGIONS
    ]  # fmt: skip
    # A region's miss of the slot, then its check delivered late: the check is kept.
    east_task = decode(CheckTask, msgspec.structs.replace(task, region="us-east").encode())
    missed = CheckResult.missed(east_task, slot + timedelta(minutes=1))
    assert missed.region == "us-east"
    with Database(db_url) as database:
        write_results(database, [missed])
        write_results(database, rows)
        write_results(database, rows)  # redelivered: nothing more
    stored = db.execute(
        "SELECT region, up, error FROM check_results WHERE site_id = %s ORDER BY region",
        (site_id,),
    ).fetchall()
    assert stored == [("ap-south", True, None), ("eu-west", True, None), ("us-east", True, None)]


def test_a_slot_down_in_one_region_only_is_no_state_change(db_url: str, db: Conn) -> None:
    """By quorum (a majority, 2 of 3): a slot one region saw down is up, one all three
    saw down is down; late batches (recounted in SQL) and fresh ones agree."""
    site = db.execute(
        "INSERT INTO sites (url, regions) VALUES ('http://127.0.0.1:9/', %s) RETURNING id",
        (REGIONS,),
    )
    (site_id,) = site.fetchone() or (0,)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    def checks(minute: int, down: set[str]) -> list[CheckResult]:
        slot = start + timedelta(minutes=minute)
        return [
            CheckResult(site_id=site_id, url="http://127.0.0.1:9/", scheduled_at=slot,
                        checked_at=slot, region=region, up=region not in down,
                        status_code=503 if region in down else 200, region_count=3)
            for region in REGIONS
        ]  # fmt: skip

    with Database(db_url) as database:
        # minutes 0-4: ap-south fails alone; 5-7: all three fail; 8-9: all up again
        fresh = [checks(m, {"ap-south"}) for m in range(5)]
        fresh += [checks(m, set(REGIONS)) for m in range(5, 8)]
        fresh += [checks(m, set()) for m in range(8, 10)]
        for batch in fresh:
            write_results(database, batch)
        late = [r for m in range(10, 14) for r in checks(m, {"eu-west"})]
        write_results(database, late[6:])  # minutes 12-13 first,
        write_results(database, late[:6])  # then 10-11: a late batch, recounted in SQL
    events = db.execute(
        "SELECT extract(epoch FROM scheduled_at - %s)::int / 60, to_up FROM site_events"
        " WHERE site_id = %s ORDER BY scheduled_at",
        (start, site_id),
    ).fetchall()
    assert events == [(0, True), (5, False), (8, True)]
    assert db.execute("SELECT count(*) FROM check_results").fetchone() == (42,)
    status = db.execute("SELECT up FROM site_status WHERE site_id = %s", (site_id,)).fetchone()
    assert status == (True,)
    incidents = db.execute(
        "SELECT extract(epoch FROM opened_at - %s)::int / 60,"
        " extract(epoch FROM resolving_slot - %s)::int / 60 FROM incidents WHERE site_id = %s",
        (start, start, site_id),
    ).fetchall()
    assert incidents == [(5, 9)]  # down from the first slot a quorum saw down, 2 up close it


def test_a_checker_copies_the_region_count_onto_its_results() -> None:
    slot = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    task = CheckTask(site_id=1, url="http://127.0.0.1:9/", timeout_s=1.0, scheduled_at=slot,
                     expires_at=slot + timedelta(minutes=1), region="us-east",
                     region_count=3)  # fmt: skip
    task = decode(CheckTask, task.encode())
    assert task.region_count == 3
    assert check_result(task, slot, up=True, status=200).region_count == 3
    missed = CheckResult.missed(task, slot + timedelta(minutes=1))
    assert decode(CheckResult, missed.encode()).region_count == 3
    single = CheckTask(site_id=1, url="http://127.0.0.1:9/", timeout_s=1.0, scheduled_at=slot,
                       expires_at=slot + timedelta(minutes=1))  # fmt: skip
    assert b"region_count" not in check_result(single, slot, up=True, status=200).encode()


def test_a_writer_process_opens_an_incident_when_a_quorum_of_regions_fails(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    """Through Kafka and a real writer process, in small batches and shuffled: three
    regions, us-east failing throughout (alone: nothing), eu-west too for three slots (two
    of three: an incident that names both, in the outbox), then up again (resolved)."""
    db.execute(
        "INSERT INTO channels (name, kind, config, is_default)"
        " VALUES ('hook', 'webhook', '{\"url\": \"http://127.0.0.1:9/\"}', true)"
    )
    site = db.execute(
        "INSERT INTO sites (url, regions) VALUES ('http://127.0.0.1:9/', %s) RETURNING id",
        (REGIONS,),
    ).fetchone()
    assert site is not None
    start_at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    down = {"us-east": range(0, 12), "eu-west": range(4, 7)}
    results = [
        CheckResult(site_id=site[0], url="http://127.0.0.1:9/",
                    scheduled_at=start_at + timedelta(minutes=n),
                    checked_at=start_at + timedelta(minutes=n, seconds=1 + i), region=region,
                    up=n not in down.get(region, ()), region_count=3,
                    status_code=503 if n in down.get(region, ()) else 200)
        for n in range(12) for i, region in enumerate(REGIONS)
    ]  # fmt: skip
    rng = random.Random(5)
    messages = [r.encode() for r in results]
    messages += rng.sample(messages, 6)  # redelivered
    rng.shuffle(messages)
    bootstrap = env["WEBMON_KAFKA_BOOTSTRAP_SERVERS"]
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for value in messages:
        producer.produce(env["WEBMON_RESULTS_TOPIC"], value, str(site[0]).encode())
    assert producer.flush(10) == 0
    writer = start(
        processes, "checker", {**env, "WEBMON_CHECKER_ROLES": "writer",
                               "WEBMON_WRITER_BATCH_SIZE": "4"}, "writer", tmp_path,
    )  # fmt: skip
    stored = "SELECT count(*) FROM check_results WHERE site_id = %s"
    wait_for(lambda: count(db, stored, site[0]) == len(results), 60, "every result stored")
    code, _ = writer.stop()
    assert code == 0
    incidents = db.execute(
        "SELECT extract(epoch FROM opened_at - %s)::int / 60,"
        " extract(epoch FROM opening_slot - %s)::int / 60,"
        " extract(epoch FROM resolving_slot - %s)::int / 60, regions"
        "  FROM incidents WHERE site_id = %s",
        (start_at, start_at, start_at, site[0]),
    ).fetchall()
    assert incidents == [(4, 6, 8, ["eu-west", "us-east"])]
    outbox = db.execute(
        "SELECT n.kind, i.regions FROM notifications n JOIN incidents i ON i.id = n.incident_id"
        " WHERE n.site_id = %s ORDER BY n.event_at",
        (site[0],),
    ).fetchall()
    assert outbox == [("down", ["eu-west", "us-east"]), ("resolved", ["eu-west", "us-east"])]
    status = db.execute("SELECT up FROM site_status WHERE site_id = %s", (site[0],)).fetchone()
    assert status == (True,)
