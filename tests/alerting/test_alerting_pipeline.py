"""Alerting end to end: scheduler, checker and notifier processes, a scripted HTTP target,
and a local webhook receiver; and maintenance windows with the writer and a notifier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checker.writer import write_results
from notifier.payload import verify
from shared.db import Database
from shared.messages import CheckResult
from tests.support.alerting import NOTIFIER_FAST, add_channel, states
from tests.support.db import Conn, add_sites, count
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import Receiver, ScriptedTarget

pytestmark = pytest.mark.integration

DOWN_5_UP_3 = [200, 200, 503, 503, 503, 503, 503, 200, 200, 200]
FLAPPING = [503, 200] * 6


def performed(db: Conn, site: int) -> list[tuple[datetime, datetime, bool]]:
    rows = db.execute(
        "SELECT scheduled_at, checked_at, up FROM check_results"
        " WHERE site_id = %s AND up IS NOT NULL ORDER BY scheduled_at",
        (site,),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_down_5_up_3_notifies_down_and_resolved_once_and_flapping_nothing(
    env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    with (
        ScriptedTarget(DOWN_5_UP_3) as outage,
        ScriptedTarget(FLAPPING) as flapping,
        Receiver() as hook,
    ):
        add_channel(db, "hook", config={"url": hook.url()}, secret="k", default=True)
        [site] = add_sites(db, 1, url=outage.url, interval=1, spread=False)
        [flapper] = add_sites(db, 1, url=flapping.url, interval=1, spread=False)
        for module in ("scheduler", "checker", "notifier"):
            start(processes, module, {**env, **NOTIFIER_FAST}, module, tmp_path)
        wait_for(lambda: len(hook.accepted()) >= 2, 60, "DOWN and RESOLVED")
        # Three more checks of each site after the RESOLVED: nothing else arrives.
        wait_for(
            lambda: (
                outage.answered >= len(DOWN_5_UP_3) + 3 and flapping.answered >= len(FLAPPING) + 3
            ),
            30,
            "three more checks",
        )
        wait_for(lambda: states(db).get("pending", 0) == 0, 10, "an empty outbox")
        received = hook.accepted()
    assert [r.json()["event"] for r in received] == ["down", "resolved"]
    checks = performed(db, site)
    assert [c[2] for c in checks[: len(DOWN_5_UP_3)]] == [s == 200 for s in DOWN_5_UP_3]
    down, resolved = (r.json() for r in received)
    assert all(verify("k", r.body, r.headers["X-Webmon-Signature"]) for r in received)
    assert down["site"]["id"] == site and down["idempotency_key"].endswith("-down")
    incident = resolved["incident"]
    assert incident["cause"] == "HTTP 503" and incident["status_code"] == 503
    assert incident["opened_at"] == checks[2][0].isoformat()  # the first 503
    assert incident["opening_check_at"] == checks[4][1].isoformat()  # the third 503
    assert incident["resolved_at"] == checks[7][0].isoformat()  # the first 200 after
    assert resolved["event_at"] == checks[8][1].isoformat()  # the second 200 after
    assert down["incident"]["resolved_at"] is None
    # The flapping site never reached a threshold.
    assert count(db, "SELECT count(*) FROM incidents WHERE site_id = %s", flapper) == 0
    assert count(db, "SELECT count(*) FROM notifications WHERE site_id = %s", flapper) == 0
    assert count(db, "SELECT count(*) FROM incidents") == 1


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    with Database(db_url, max_size=2) as d:
        yield d


def _results(site: int, pattern: str, start_at: datetime) -> list[CheckResult]:
    return [
        CheckResult(
            site_id=site, url="http://127.0.0.1:9/", scheduled_at=start_at + timedelta(seconds=n),
            checked_at=start_at + timedelta(seconds=n, milliseconds=5), response_time_ms=1.0,
            status_code=200 if ch == "U" else 503, up=ch == "U",
        )
        for n, ch in enumerate(pattern)
    ]  # fmt: skip


WINDOW_S = 6


def test_a_maintenance_window_holds_notifications_and_sends_one_if_still_down(
    env: dict[str, str], db: Conn, database: Database, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver() as hook:
        add_channel(db, "hook", config={"url": hook.url()}, default=True)
        still_down, recovered, elsewhere = add_sites(db, 3)
        db.execute("UPDATE sites SET tags = '{db}' WHERE id = ANY(%s)", ([still_down, recovered],))
        now = datetime.now(UTC)
        db.execute(
            "INSERT INTO maintenance_windows (name, tag, starts_at, duration_seconds)"
            " VALUES ('db upgrade', 'db', %s, %s)",
            (now - timedelta(seconds=1), WINDOW_S),
        )
        start(processes, "notifier", {**env, **NOTIFIER_FAST}, "notifier", tmp_path)
        rows = (
            _results(still_down, "DDDD", now)
            + _results(recovered, "DDDUU", now)
            + _results(elsewhere, "DDD", now)
        )
        write_results(database, rows)
        wait_for(lambda: len(hook.accepted()) == 1, 10, "the DOWN outside the window")
        assert hook.accepted()[0].json()["site"]["id"] == elsewhere
        held = db.execute(
            "SELECT site_id, kind FROM notifications WHERE state = 'suppressed' ORDER BY 1, 2"
        ).fetchall()
        assert held == [(still_down, "down"), (recovered, "down"), (recovered, "resolved")]
        assert len(hook.requests) == 1  # nothing of the window's sites while it lasts
        ends = now - timedelta(seconds=1) + timedelta(seconds=WINDOW_S)
        wait_for(lambda: len(hook.accepted()) == 2, WINDOW_S + 10, "the held DOWN")
        assert datetime.now(UTC) >= ends
        released = hook.accepted()[1].json()
        assert (released["event"], released["site"]["id"]) == ("down", still_down)
        # Still down afterwards: the incident goes on, nothing more is sent.
        write_results(database, _results(still_down, "DD", ends))
        wait_for(lambda: states(db).get("pending", 0) == 0, 5, "an empty outbox")
        assert len(hook.requests) == 2
    assert count(db, "SELECT count(*) FROM incidents") == 3  # recorded all the same
    assert states(db) == {"sent": 2, "suppressed": 2}
