"""Regions from the command line: `--region`/`--quorum` on a site, `webmon uptime --region`,
and `webmon regions` telling a region whose checkers keep up from one that has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.cli import webmon
from tests.support.db import Conn

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
    code, out = webmon("uptime", "1", "--since", "1h")
    assert code == 0 and "checks   9 (6 up)" in out


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
