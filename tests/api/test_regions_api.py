"""Regions through the API: a site's `regions` and `quorum` set, shown and refused in the
table's words; results, uptime and series carry the region and take `region=`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.api.test_api import problem
from tests.support.api import Api, running_api
from tests.support.db import Conn

pytestmark = pytest.mark.integration

REGIONS = ["eu-west", "us-east", "ap-south"]


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as a:
        yield a


def _patch(api: Api, site_id: int, body: dict[str, Any]) -> Any:
    return api.client.patch(f"/api/v1/sites/{site_id}", json=body, headers=api.write)


def test_regions_and_quorum_are_stored_shown_and_refused_in_the_tables_words(api: Api) -> None:
    plain = api.post("/api/v1/sites", {"url": "https://a.example/"}).json()
    assert (plain["regions"], plain["quorum"]) == (["default"], None)
    site = api.post("/api/v1/sites", {"url": "https://b.example/", "regions": REGIONS}).json()
    assert (site["regions"], site["quorum"]) == (REGIONS, None)
    changed = _patch(api, site["id"], {"quorum": 3})
    assert changed.status_code == 200, changed.text
    assert changed.json()["quorum"] == 3
    refused = problem(_patch(api, site["id"], {"regions": ["eu-west", "us-east"]}), 422)
    assert "quorum" in refused["detail"]
    problem(_patch(api, site["id"], {"regions": None}), 422)
    problem(_patch(api, site["id"], {"regions": ["eu-west", "eu-west"]}), 422)
    problem(api.post("/api/v1/sites", {"url": "https://c.example/", "quorum": 2}), 422)
    listed = {s["id"]: s for s in api.get("/api/v1/sites").json()}
    assert (listed[site["id"]]["regions"], listed[site["id"]]["quorum"]) == (REGIONS, 3)


def test_history_carries_the_region_and_filters_on_it(api: Api, db_url: str) -> None:
    site = api.post("/api/v1/sites", {"url": "https://b.example/", "regions": REGIONS}).json()
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        CheckResult(site_id=site["id"], url="https://b.example/", region=region,
                    scheduled_at=now - timedelta(minutes=m), checked_at=now - timedelta(minutes=m),
                    status_code=200 if region != "ap-south" else 503, up=region != "ap-south",
                    response_time_ms=float(m), region_count=len(REGIONS))
        for m in range(1, 5) for region in REGIONS
    ]  # fmt: skip
    with Database(db_url) as database:
        write_results(database, rows)
    base = f"/api/v1/sites/{site['id']}"
    every = api.get(f"{base}/results?limit=100").json()
    assert len(every) == 12 and {r["region"] for r in every} == set(REGIONS)
    # Pages of 5 cut through slots (3 regions each) and still give every check once.
    seen: list[tuple[str, str]] = []
    url: str | None = f"{base}/results?limit=5"
    while url is not None:
        page = api.get(url)
        seen += [(r["scheduled_at"], r["region"]) for r in page.json()]
        link = page.headers.get("link")
        url = link.split(";")[0].strip("<>").replace("http://testserver", "") if link else None
    assert sorted(seen) == sorted((r["scheduled_at"], r["region"]) for r in every)
    assert len(set(seen)) == 12
    south = api.get(f"{base}/results?region=ap-south").json()
    assert [r["region"] for r in south] == ["ap-south"] * 4 and not any(r["up"] for r in south)
    # Without a region: the site's slots, each by the quorum (ap-south alone is no majority).
    pooled = api.get(f"{base}/uptime?since=24h").json()
    assert (pooled["region"], pooled["by_quorum"], pooled["checks"], pooled["up_checks"]) == (
        None, True, 4, 4,
    )  # fmt: skip
    assert {r["region"]: r["up_checks"] for r in pooled["regions"]} == {
        "eu-west": 4, "us-east": 4, "ap-south": 0,
    }  # fmt: skip
    one = api.get(f"{base}/uptime?since=24h&region=ap-south").json()
    assert (one["region"], one["checks"], one["up_checks"], one["uptime_pct"]) == (
        "ap-south", 4, 0, 0.0,
    )  # fmt: skip
    series = api.get(f"{base}/series?since=24h&region=eu-west").json()
    assert (series["region"], sum(series["checks"]), sum(series["up_checks"])) == (
        "eu-west", 4, 4,
    )  # fmt: skip
    problem(api.get(f"{base}/uptime?region=Not%20A%20Region"), 422)


def test_the_series_of_a_site_of_several_regions_counts_its_slots_by_the_quorum(
    api: Api, db_url: str
) -> None:
    site = api.post("/api/v1/sites", {"url": "https://b.example/", "regions": REGIONS}).json()
    plain = api.post("/api/v1/sites", {"url": "https://a.example/"}).json()
    now = datetime.now(UTC).replace(microsecond=0)
    slots = [now - timedelta(minutes=m) for m in range(4, 0, -1)]
    rows = [
        CheckResult(site_id=site["id"], url="https://b.example/", region=region,
                    scheduled_at=slot, checked_at=slot,
                    status_code=200 if region != "ap-south" else 503, up=region != "ap-south",
                    response_time_ms=10.0, region_count=len(REGIONS))
        for slot in slots for region in REGIONS
    ] + [
        CheckResult(site_id=plain["id"], url="https://a.example/", scheduled_at=slot,
                    checked_at=slot, status_code=200 if n % 2 else 503, up=bool(n % 2),
                    response_time_ms=10.0)
        for n, slot in enumerate(slots)
    ]  # fmt: skip
    with Database(db_url) as database:
        write_results(database, rows)
    for step in ("hour", "day"):
        base = f"/api/v1/sites/{site['id']}/series?since=24h&step={step}"
        series = api.get(base).json()
        # Its slots, each once, by the quorum: ap-south alone is no majority.
        assert (series["region"], series["by_quorum"]) == (None, True)
        assert (sum(series["checks"]), sum(series["up_checks"])) == (4, 4), step
        assert {p for p in series["uptime_pct"] if p is not None} == {100.0}
        assert datetime.fromisoformat(series["quorum_from"]) == slots[0]
        # One region's checks when asked for it.
        south = api.get(f"{base}&region=ap-south").json()
        assert (south["by_quorum"], sum(south["checks"]), sum(south["up_checks"])) == (
            False, 4, 0,
        )  # fmt: skip
    # A site of one region: its checks, as before.
    single = api.get(f"/api/v1/sites/{plain['id']}/series?since=24h").json()
    assert (single["by_quorum"], single["quorum_from"]) == (False, None)
    assert (sum(single["checks"]), sum(single["up_checks"])) == (4, 2)
