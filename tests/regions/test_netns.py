"""Three regions as network namespaces (tests/support/netns.py): each region's checkers run
in its own namespace and reach the target, in another, over their own link only; the
scheduler, the broker and PostgreSQL stay in the root namespace. A region's path is broken
with tc netem, or its checker killed, and the stored rows must say so exactly.

Run alone with `pytest tests/regions -s` to see the ledger line.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.support.db import Conn, add_sites
from tests.support.fleet import Fleet
from tests.support.netns import RegionNet
from tests.support.processes import wait_for
from tests.support.receivers import Receiver
from tests.support.services import Services

pytestmark = [pytest.mark.integration, pytest.mark.faults]

REGIONS = ["eu-west", "us-east", "ap-south"]


def grows_by(fleet: Fleet, count: int, timeout_s: float = 90.0) -> None:
    target = fleet.stored() + count
    wait_for(lambda: fleet.stored() >= target, timeout_s=timeout_s, what=f"{target} rows")


def by_region(db: Conn) -> dict[str, tuple[int, int, int]]:
    """Per region: (rows, missed slots, checks that found the target down)."""
    rows = db.execute(
        "SELECT region, count(*), count(*) FILTER (WHERE error = 'missed'),"
        "       count(*) FILTER (WHERE NOT up)"
        "  FROM check_results GROUP BY region"
    ).fetchall()
    return {region: (total, missed, down) for region, total, missed, down in rows}


def test_a_region_reaches_the_target_over_its_own_link_and_the_root_only_by_relay(
    net: RegionNet, db_url: str, services: Services
) -> None:
    """What the harness promises: the target is reachable from every region; the root
    namespace's loopback is not, except PostgreSQL and the broker through the relays; a
    broken path is broken for its region alone, and heals."""
    net.assert_sealed()
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    database = f"127.0.0.1:{info['port']}"
    broker = services.kafka_bootstrap
    target = net.url().removeprefix("http://").split("/")[0]
    with Receiver() as root_only:  # listening on the root namespace's 127.0.0.1 alone
        elsewhere = f"127.0.0.1:{root_only.port}"
        for region in REGIONS:
            assert net.reach(region, target, database, broker, elsewhere) == [
                "open", "open", "open", "ConnectionRefusedError",
            ], region  # fmt: skip
    net.break_path("eu-west")
    assert net.reach("eu-west", target) == ["TimeoutError"]
    assert net.reach("us-east", target) == ["open"]
    net.heal_path("eu-west")
    assert net.reach("eu-west", target) == ["open"]


def test_kill_9_a_regions_checker_under_load(net: RegionNet, fleet: Fleet, db: Conn) -> None:
    """160 sites every 4 s from three regions. Kill -9 one of eu-west's two checkers and
    us-east's only one; start another in us-east two intervals later: every emitted (site,
    slot, region) has exactly one row, checked or missed, and the tasks that expired while
    us-east had no checker are its missed rows."""
    add_sites(db, 160, url=net.url("/ok"), interval=4, timeout=3, spread=True)
    # As if they came through the API: every check passes the target policy, which allows
    # the target's private addresses (RegionNet.checker) and nothing else.
    db.execute("UPDATE sites SET regions = %s, restricted = true", (REGIONS,))
    west = [net.checker(fleet, "eu-west", f"eu-west-{i}") for i in (1, 2)]
    east = net.checker(fleet, "us-east", "us-east-1")
    south = net.checker(fleet, "ap-south", "ap-south-1")
    fleet.wait_joined(*west, east, south)
    scheduler = fleet.scheduler()
    grows_by(fleet, 480)  # an interval of every region's checks
    west[0].kill()
    east.kill()
    grows_by(fleet, 2 * 320)  # two intervals of the others': us-east's first tasks expired
    east_again = net.checker(fleet, "us-east", "us-east-2")
    fleet.wait_joined(east_again)
    grows_by(fleet, 480)
    fleet.stop(scheduler)
    fleet.settle()
    fleet.stop_all([west[1], east_again, south], bound_s=15)
    ledger = fleet.ledger("kill -9 in a region's namespace")
    regions = by_region(db)
    assert set(regions) == set(REGIONS), regions
    assert regions["us-east"][1] > 0, regions  # the slots it had no checker for
    assert ledger.missed == sum(missed for _, missed, _ in regions.values())
    # Every check performed reached the target, allowed by the policy: killing a checker
    # broke no path.
    assert all(down == 0 for _, _, down in regions.values()), regions
