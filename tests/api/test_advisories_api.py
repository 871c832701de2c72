"""The region below the quorum through the API: a site's JSON (one and the list) carries
its advisories, and its uptime counts slots by the quorum with each region's own beside."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.support.api import Api, running_api
from tests.support.db import Conn
from tests.support.quorum import REGIONS, add_site, failing_south

pytestmark = pytest.mark.integration


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as a:
        yield a


def test_a_sites_json_names_its_region_below_the_quorum(api: Api, db: Conn) -> None:
    site_id = add_site(db)
    plain = add_site(db, ["default"])
    slots = failing_south(db, site_id, 14)
    one = api.get(f"/api/v1/sites/{site_id}")
    assert one.status_code == 200, one.text
    [advisory] = one.json()["advisories"]
    assert (advisory["region"], advisory["failures"]) == ("ap-south", 14)
    assert advisory["since"].startswith(slots[0].strftime("%Y-%m-%dT%H:%M:00"))
    listed = {s["id"]: s["advisories"] for s in api.get("/api/v1/sites").json()}
    assert listed == {site_id: [advisory], plain: []}
    assert api.get(f"/api/v1/sites/{plain}").json()["advisories"] == []


def test_uptime_by_quorum_with_each_regions_own_beside_it(api: Api, db: Conn) -> None:
    site_id = add_site(db)
    failing_south(db, site_id, 10)
    base = f"/api/v1/sites/{site_id}/uptime?since=1h"
    found = api.get(base).json()
    assert (found["by_quorum"], found["checks"], found["up_checks"], found["uptime_pct"]) == (
        True, 12, 12, 100.0,
    )  # fmt: skip
    assert [(r["region"], r["checks"], r["up_checks"]) for r in found["regions"]] == [
        ("eu-west", 12, 12), ("us-east", 12, 12), ("ap-south", 12, 2),
    ]  # fmt: skip
    assert [(a["region"], a["failures"]) for a in found["advisories"]] == [("ap-south", 10)]
    south = api.get(f"{base}&region=ap-south").json()
    assert (south["by_quorum"], south["checks"], south["up_checks"]) == (False, 12, 2)
    assert (south["regions"], south["advisories"]) == ([], [])


def test_the_route_answers_the_uptime_as_the_shortcut_does(db_url: str, db: Conn) -> None:
    site_id = add_site(db)
    failing_south(db, site_id, 4)
    path = f"/api/v1/sites/{site_id}/uptime?since=24h"
    answers = []
    for hot_reads in (True, False):
        with running_api(db_url, db, hot_reads=hot_reads) as api:
            answers.append(api.get(path).json())
    assert answers[0] == answers[1] and answers[0]["advisories"][0]["failures"] == 4


def test_the_openapi_document_names_the_advisories(api: Api) -> None:
    schemas = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert set(schemas["AdvisoryOut"]["properties"]) == {"region", "since", "failures"}
    assert "advisories" in schemas["SiteOut"]["required"]
    assert {"by_quorum", "quorum_from", "regions", "advisories"} <= set(
        schemas["Uptime"]["properties"]
    )


def test_the_writers_quorum_state_carries_the_advisory(api: Api, db_url: str) -> None:
    """Through the result writer, which keeps the state of a site of several regions (its
    results carry `region_count`) by the quorum."""
    site = api.post("/api/v1/sites", {"url": "https://b.example/", "regions": REGIONS}).json()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [
        CheckResult(site_id=site["id"], url="https://b.example/", region=region,
                    scheduled_at=now - timedelta(minutes=m), checked_at=now - timedelta(minutes=m),
                    status_code=503 if region == "ap-south" else 200, up=region != "ap-south",
                    response_time_ms=5.0, region_count=len(REGIONS))
        for m in range(5, 0, -1) for region in REGIONS
    ]  # fmt: skip
    with Database(db_url) as database:
        write_results(database, rows)
    found = api.get(f"/api/v1/sites/{site['id']}").json()
    assert found["status"]["up"] is True
    assert [(a["region"], a["failures"]) for a in found["advisories"]] == [("ap-south", 5)]
    uptime = api.get(f"/api/v1/sites/{site['id']}/uptime").json()
    assert (uptime["uptime_pct"], len(uptime["advisories"])) == (100.0, 1)
