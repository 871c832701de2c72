"""Regions from the command line: `--region`/`--quorum` on a site, `webmon uptime --region`,
and `webmon regions` telling a region whose checkers keep up from one that has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.cli import webmon
from tests.support.db import Conn
from tests.support.quorum import REGIONS, add_checks, add_site, failing_south, set_state

pytestmark = pytest.mark.integration


def test_a_site_from_three_regions_and_its_uptime_per_region(
    cli_env: dict[str, str], db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = webmon(
        "sites", "add", "http://127.0.0.1:9/a", "--region", "eu-west", "--region", "us-east",
        "--region", "ap-south", "--quorum", "2",
    )  # fmt: skip
    assert (code, out) == (
        0, "added site 1: http://127.0.0.1:9/a (every 1m, timeout 10s, from eu-west, us-east, "
        "ap-south)\n",
    )  # fmt: skip
    assert db.execute("SELECT regions, quorum FROM sites").fetchone() == (
        ["eu-west", "us-east", "ap-south"], 2,
    )  # fmt: skip
    assert webmon("sites", "edit", "1", "--quorum", "majority")[0] == 0
    assert db.execute("SELECT quorum FROM sites").fetchone() == (None,)
    assert webmon("sites", "edit", "1", "--region", "eu-west", "--quorum", "2") == (2, "")
    assert "quorum" in capsys.readouterr().err
    now = datetime.now(UTC)
    for minute in range(1, 4):
        for region in ("eu-west", "us-east", "ap-south"):
            slot = now - timedelta(minutes=minute)
            db.execute(
                "INSERT INTO check_results (site_id, scheduled_at, checked_at, status_code, up,"
                " region) VALUES (1, %s, %s, 200, %s, %s)",
                (slot, slot, region != "ap-south", region),
            )
    code, out = webmon("uptime", "1", "--since", "1h", "--region", "ap-south")
    assert code == 0 and "region   ap-south" in out and "checks   3 (0 up)" in out
    # The site's own: each slot once, by the quorum (ap-south alone is no majority).
    code, out = webmon("uptime", "1", "--since", "1h")
    assert code == 0 and "slots    3 (3 up)" in out and "uptime   100.00%" in out
    assert "counted  each slot once, by the quorum (a majority, 2 of 3)" in out


def test_a_region_below_the_quorum_is_told_by_show_status_and_uptime(
    cli_env: dict[str, str], db: Conn
) -> None:
    site_id = add_site(db)
    plain = add_site(db, ["default"])
    slots = failing_south(db, site_id, 14)
    add_checks(db, plain, slots, {"default": True})
    set_state(db, plain, True, slots[-1])
    since = slots[0].strftime("%H:%M UTC")
    if slots[0].date() != datetime.now(UTC).date():
        since = slots[0].strftime("%Y-%m-%d %H:%M UTC")
    line = f"advisory: ap-south failing since {since}, 14 checks in a row (quorum says up)"
    code, out = webmon("sites", "show", str(site_id))
    assert code == 0 and line in out.splitlines()
    assert "quorum    a majority, 2 of 3" in out and "state     UP" in out
    code, out = webmon("status")
    assert code == 0 and out.splitlines()[-1] == f"site {site_id}: {line}"
    code, out = webmon("uptime", str(site_id), "--since", "1h")
    assert code == 0 and "uptime   100.00%" in out and out.splitlines()[-1] == line
    south = next(row for row in out.splitlines() if row.startswith("ap-south"))
    assert south.split()[:5] == ["ap-south", "16", "2", "12.50%", "0"]
    code, out = webmon("sites", "show", str(plain))
    assert code == 0 and "advisory" not in out and "quorum" not in out
    # Recovered: gone everywhere.
    add_checks(db, site_id, [datetime.now(UTC)], dict.fromkeys(REGIONS, True))
    for argv in (("sites", "show", str(site_id)), ("status",), ("uptime", str(site_id))):
        code, out = webmon(*argv)
        assert code == 0 and "advisory" not in out, argv


def test_regions_lists_each_regions_checkers_health(cli_env: dict[str, str], db: Conn) -> None:
    db.execute(
        "INSERT INTO sites (url, regions) VALUES ('http://127.0.0.1:9/a', '{eu-west,us-east}'),"
        " ('http://127.0.0.1:9/b', '{eu-west}')"
    )
    now = datetime.now(UTC)
    for minute in range(1, 4):  # eu-west checks; us-east has no live checker
        slot = now - timedelta(minutes=minute)
        db.execute(
            "INSERT INTO check_results (site_id, scheduled_at, checked_at, status_code, up,"
            " region) SELECT id, %s, %s, 200, true, 'eu-west' FROM sites",
            (slot, slot),
        )
    code, out = webmon("regions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["region", "sites", "checks", "down", "missed", "last", "check",
                                "(UTC)", "canary", "health"]  # fmt: skip
    assert lines[1].split()[:5] == ["eu-west", "2", "6", "0", "0"]
    assert lines[1].split()[-1] == "ok"
    assert lines[2].split()[:5] == ["us-east", "1", "0", "0", "0"]
    assert lines[2].endswith("no checker")
    assert lines[3] == "2 regions over the last 5m; not keeping up: us-east"
