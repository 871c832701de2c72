"""On-demand checks per region, through the real pipeline: a site's "check now" from one of
its regions or from each (a task per region, on that region's on-demand topic, performed
by that region's checker), a URL's task, the refusal of a region the site is not checked
from in the same words in the API and the CLI, and a retried submission."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.api import Api, running_api
from tests.support.cli import webmon
from tests.support.db import Conn, scalar
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services
from tests.support.targets import Targets
from tests.support.topics import read_all

pytestmark = pytest.mark.integration

POLICY = {"WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32"}
REGIONS = ("eu-west", "us-east")
FINAL = (3, 4)
REFUSAL = (
    "region: site {site} is not checked from 'ap-south' (its regions: eu-west, us-east); "
    "name one of them, or all"
)


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as a:
        yield a


def regional_pipeline(env: dict[str, str], processes: list[Process], tmp_path: Path) -> None:
    """A checker in each region (both roles) and a scheduler."""
    checkers = [
        start(processes, "checker", {**env, **POLICY, "WEBMON_CHECKER_REGION": region},
              f"checker-{region}", tmp_path)
        for region in REGIONS
    ]  # fmt: skip
    wait_for(
        lambda: all(c.logged("probe.ondemand_assigned") for c in checkers),
        what="a checker of each region to join",
    )
    start(processes, "scheduler", env, "scheduler", tmp_path)


def final(api: Api, task_id: str, timeout_s: float = 60) -> dict[str, Any]:
    def done() -> bool:
        return bool(api.get(f"/api/v1/tasks/{task_id}").json()["status"] in FINAL)

    wait_for(done, timeout_s=timeout_s, what=f"task {task_id} to end")
    task: dict[str, Any] = api.get(f"/api/v1/tasks/{task_id}").json()
    return task


def ondemand_task_ids(env: dict[str, str], services: Services, region: str) -> set[str]:
    topic = f"{env['WEBMON_ONDEMAND_TASKS_TOPIC']}.{region}"
    return {orjson.loads(m.value() or b"")["task_id"]
            for m in read_all(services.kafka_bootstrap, topic)}  # fmt: skip


def test_check_now_from_each_region_and_from_one(
    api: Api, db: Conn, env: dict[str, str], services: Services, targets: Targets,
    processes: list[Process], tmp_path: Path, cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    site = int(scalar(
        db, "INSERT INTO sites (url, regions, next_check_at) VALUES (%s, %s,"
        " now() + interval '1 day') RETURNING id", targets.url("/status/201"), list(REGIONS),
    ))  # fmt: skip
    regional_pipeline(env, processes, tmp_path)

    # No region asked: a task per region of the site, in its order, one request.
    accepted = api.post(f"/api/v1/sites/{site}/check", None)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert [t["region"] for t in body["tasks"]] == list(REGIONS)
    assert body["task_id"] == body["tasks"][0]["task_id"]
    assert accepted.headers["Location"] == f"/api/v1/tasks/{body['task_id']}"
    each = {t["region"]: final(api, t["task_id"]) for t in body["tasks"]}
    for region, task in each.items():
        assert (task["region"], task["status_name"]) == (region, "COMPLETED")
        assert (task["result"]["up"], task["result"]["status_code"]) == (True, 201)
        assert task["request_id"] == body["task_id"]
    # Each region's task went to its region's on-demand topic, and nowhere else.
    for region in REGIONS:
        ids = ondemand_task_ids(env, services, region)
        assert ids == {t["task_id"] for t in body["tasks"] if t["region"] == region}

    # One region asked: one task, from there.
    one = api.post(f"/api/v1/sites/{site}/check", {"region": "us-east"}).json()
    assert [t["region"] for t in one["tasks"]] == ["us-east"]
    task = final(api, one["task_id"])
    assert (task["region"], task["status_name"], task["result"]["up"]) == (
        "us-east", "COMPLETED", True,
    )  # fmt: skip
    assert task["request_id"] == one["task_id"]

    # `all` is the same as no choice.
    every = api.post(f"/api/v1/sites/{site}/check", {"region": "all"}).json()
    assert [t["region"] for t in every["tasks"]] == list(REGIONS)

    # A region the site is not checked from: refused, in the same words everywhere.
    refused = api.post(f"/api/v1/sites/{site}/check", {"region": "ap-south"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == REFUSAL.format(site=site)
    assert webmon("tasks", "check", str(site), "--region", "ap-south") == (2, "")
    assert capsys.readouterr().err.strip().endswith(REFUSAL.format(site=site))
    tasks_before = scalar(db, "SELECT count(*) FROM tasks")

    # The CLI: one region, waiting for its result.
    code, out = webmon("tasks", "check", str(site), "--region", "eu-west", "--wait", "60s")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("task ") and lines[0].endswith(f": site {site} from eu-west")
    row = next(line for line in lines[1:] if " eu-west " in line)
    assert "COMPLETED" in row and " up " in row
    assert scalar(db, "SELECT count(*) FROM tasks") == tasks_before + 1
    code, out = webmon("tasks", "list")
    header = out.splitlines()[0].split()
    assert code == 0 and header[:3] == ["task", "region", "status"]
    assert sum(" us-east " in line for line in out.splitlines()) == 3


def test_a_urls_task_and_a_retried_submission(
    api: Api, db: Conn, targets: Targets, env: dict[str, str], processes: list[Process],
    tmp_path: Path,
) -> None:  # fmt: skip
    site = int(scalar(
        db, "INSERT INTO sites (url, regions, next_check_at) VALUES (%s, %s,"
        " now() + interval '1 day') RETURNING id", targets.url("/ok"), list(REGIONS),
    ))  # fmt: skip
    url = targets.url("/ok")
    # No site is checked from the default region: a URL is checked from each region.
    both = api.post("/api/v1/tasks", {"name": "u", "url": url}).json()
    assert [t["region"] for t in both["tasks"]] == list(REGIONS)
    east = api.post("/api/v1/tasks", {"name": "u", "url": url, "region": "us-east"}).json()
    assert [t["region"] for t in east["tasks"]] == ["us-east"]
    refused = api.post("/api/v1/tasks", {"name": "u", "url": url, "region": "ap-south"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "region: no site is checked from 'ap-south' (the regions: eu-west, us-east); "
        "name one of them, or all"
    )

    # A retried submission of a check from each region returns the same tasks; the same
    # key for another choice of regions is a conflict.
    key = {"Idempotency-Key": "deploy-7"}
    first = api.post(f"/api/v1/sites/{site}/check", {}, headers=key)
    again = api.post(f"/api/v1/sites/{site}/check", {}, headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and len(first.json()["tasks"]) == 2
    other = api.post(f"/api/v1/sites/{site}/check", {"region": "eu-west"}, headers=key)
    assert other.status_code == 409
    assert scalar(db, "SELECT count(*) FROM tasks WHERE site_id = %s", site) == 2

    regional_pipeline(env, processes, tmp_path)
    for task in both["tasks"] + east["tasks"] + first.json()["tasks"]:
        done = final(api, task["task_id"])
        assert (done["region"], done["status_name"], done["result"]["up"]) == (
            task["region"], "COMPLETED", True,
        )  # fmt: skip
