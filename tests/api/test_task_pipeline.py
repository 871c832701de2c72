"""On-demand tasks through the real pipeline: the API, the scheduler that emits them, a
checker that checks them, the writer that moves their status; local targets only."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest

from checker.settings import CheckerSettings
from checker.writer.tasks import TaskWriter
from shared.db import Database
from shared.kafka import make_producer
from shared.messages import CheckResult, TaskStatus, TaskUpdate
from tests.support.api import Api, running_api
from tests.support.db import Conn, count, scalar
from tests.support.internal import InternalServer
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services
from tests.support.settings import settings_from_env
from tests.support.targets import Targets

pytestmark = pytest.mark.integration

# The checkers may reach the local targets on 127.0.0.1 and nothing else that is not global.
POLICY = {"WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32"}
FINAL = (3, 4)


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db, tasks_in_flight=2000, tasks_per_minute=5000) as a:
        yield a


def pipeline(env: dict[str, str], processes: list[Process], tmp_path: Path) -> Process:
    """A checker (both roles) and a scheduler; returns the scheduler."""
    checker = start(processes, "checker", {**env, **POLICY}, "checker", tmp_path)
    wait_for(lambda: checker.logged("probe.ondemand_assigned"), what="the checker to join")
    return start(processes, "scheduler", env, "scheduler", tmp_path)


def submit(api: Api, body: dict[str, Any]) -> str:
    response = api.post("/api/v1/tasks", body)
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


def final(api: Api, task_id: str, timeout_s: float = 60) -> dict[str, Any]:
    def done() -> bool:
        return bool(api.get(f"/api/v1/tasks/{task_id}").json()["status"] in FINAL)

    wait_for(done, timeout_s=timeout_s, what=f"task {task_id} to end")
    task: dict[str, Any] = api.get(f"/api/v1/tasks/{task_id}").json()
    return task


def test_tasks_end_to_end(
    api: Api, env: dict[str, str], targets: Targets, processes: list[Process], tmp_path: Path
) -> None:
    pipeline(env, processes, tmp_path)
    ok = submit(api, {"name": "ok", "url": targets.url("/ok"), "regex": "hello"})
    error = submit(api, {"name": "500", "url": targets.url("/status/500")})
    slow = submit(
        api,
        {"name": "slow", "url": targets.url("/slow-headers?seconds=5"), "timeout_seconds": 1},
    )
    refused = api.post("/api/v1/tasks", {"name": "re", "url": targets.url("/ok"), "regex": "("})
    assert refused.status_code == 422 and "regex" in refused.json()["detail"]

    done = final(api, ok)
    assert (done["status"], done["status_name"]) == (3, "COMPLETED")
    result = done["result"]
    assert (result["up"], result["status_code"], result["regex_matched"], result["error"]) == (
        True,
        200,
        True,
        None,
    )
    assert result["response_time_ms"] > 0 and result["connect_ms"] is not None
    assert "url" not in result and "site_id" not in result  # the check, not the site
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]

    down = final(api, error)
    assert (down["status_name"], down["result"]["up"], down["result"]["status_code"]) == (
        "COMPLETED",
        False,
        500,
    )
    late = final(api, slow)
    assert (late["status_name"], late["result"]["up"], late["result"]["error"]) == (
        "COMPLETED",
        False,
        "timeout",
    )
    listed = [t["task_id"] for t in api.get("/api/v1/tasks").json()]
    assert listed == [slow, error, ok]  # newest first


def test_a_redirect_to_an_internal_address_is_blocked_and_never_reached(
    api: Api, env: dict[str, str], targets: Targets, processes: list[Process], tmp_path: Path
) -> None:
    pipeline(env, processes, tmp_path)
    with InternalServer() as internal:
        hop = targets.url(f"/to?url={internal.url}")
        task = final(api, submit(api, {"name": "hop", "url": hop}))
        assert (task["status_name"], task["result"]["error"]) == ("ERROR", "blocked")
        # The refusal names no address (issue 25: it named 127.0.0.2 before).
        assert task["result"]["error_detail"] == "refused by the target policy"
        assert internal.accepted == 0
        # The literal address is refused when it is submitted.
        assert api.post("/api/v1/tasks", {"name": "x", "url": internal.url}).status_code == 422
        assert internal.accepted == 0


def test_a_thousand_tasks_posted_at_once_all_end(
    api: Api, db: Conn, env: dict[str, str], targets: Targets, processes: list[Process],
    tmp_path: Path,
) -> None:  # fmt: skip
    pipeline(env, processes, tmp_path)
    body = {"name": "many", "url": targets.url("/ok")}
    with ThreadPoolExecutor(32) as pool:
        ids = list(pool.map(lambda _: submit(api, body), range(1000)))
    assert len(set(ids)) == 1000
    wait_for(
        lambda: count(db, "SELECT count(*) FROM tasks WHERE status IN (3, 4)") == 1000,
        timeout_s=120,
        what="every task to end",
    )
    assert (
        count(db, "SELECT count(*) FROM tasks WHERE status = 3 AND (result->>'up')::bool") == 1000
    )
    assert count(db, "SELECT count(*) FROM tasks WHERE started_at IS NULL") == 0


def test_the_emitter_killed_right_after_a_task_was_accepted(
    api: Api, env: dict[str, str], targets: Targets, processes: list[Process], tmp_path: Path
) -> None:
    scheduler = pipeline(env, processes, tmp_path)
    wait_for(lambda: scheduler.logged("scheduler.started"), what="the scheduler to start")
    scheduler.proc.send_signal(signal.SIGSTOP)  # it cannot emit the task before it dies
    task_id = submit(api, {"name": "crash", "url": targets.url("/ok")})
    scheduler.kill()
    assert api.get(f"/api/v1/tasks/{task_id}").json()["status_name"] == "NEW"
    start(processes, "scheduler", env, "scheduler-2", tmp_path)
    assert final(api, task_id)["status_name"] == "COMPLETED"


def test_a_task_no_scheduler_emits_ends_as_expired(
    db_url: str, db: Conn, env: dict[str, str], processes: list[Process], tmp_path: Path
) -> None:
    """No task stays NEW: one accepted but never emitted in time ends as ERROR."""
    with running_api(db_url, db, task_start_within_s=5) as api:
        task_id = submit(api, {"name": "alone", "url": "http://127.0.0.1:9/"})
        db.execute("UPDATE tasks SET expires_at = now() - interval '1 second'")
        start(processes, "scheduler", env, "scheduler", tmp_path)
        task = final(api, task_id)
    assert (task["status_name"], task["result"]["error"]) == ("ERROR", "expired")


# --- races, on the writer's side ---------------------------------------------------------


def update(task_id: uuid.UUID, status: int, at: datetime) -> bytes:
    result = None
    if status >= 3:
        result = CheckResult(
            site_id=0, task_id=task_id, url="http://127.0.0.1:9/", scheduled_at=at,
            checked_at=at, status_code=200, up=True, response_time_ms=1.0,
        )  # fmt: skip
    return TaskUpdate(task_id=task_id, status=TaskStatus(status), at=at, result=result).encode()


def produce(env: dict[str, str], services: Services, values: list[tuple[uuid.UUID, bytes]]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": services.kafka_bootstrap})
    for task_id, value in values:
        producer.produce(env["WEBMON_ONDEMAND_RESULTS_TOPIC"], value, task_id.bytes)
    assert producer.flush(10) == 0


def run_task_writer(env: dict[str, str], until: Any) -> TaskWriter:
    settings = settings_from_env(CheckerSettings, env)
    stop = threading.Event()
    with Database(settings.database_url.get_secret_value(), max_size=1) as db:
        writer = TaskWriter(settings, db, make_producer(settings), stop)
        writer.start()
        try:
            wait_for(lambda: (writer.poll_once(), until(writer))[1], what="the updates written")
        finally:
            stop.set()
    return writer


def test_a_status_only_moves_forward(env: dict[str, str], services: Services, db: Conn) -> None:
    late, twice, forward = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    db.execute(
        "INSERT INTO tasks (task_id, name, url, timeout_seconds, expires_at, emitted_at) "
        "SELECT t, 'race', 'http://127.0.0.1:9/', 5, now() + interval '1 minute', now() "
        "  FROM unnest(%s::uuid[]) AS t",
        ([late, twice, forward],),
    )
    t0 = datetime.now(UTC)
    produce(
        env,
        services,
        [
            (late, update(late, 3, t0)),  # COMPLETED, then a PROCESSING arrives late
            (late, update(late, 2, t0 - timedelta(seconds=1))),
            (twice, update(twice, 2, t0)),
            (twice, update(twice, 3, t0 + timedelta(seconds=1))),
            (forward, update(forward, 2, t0)),
        ],
    )
    run_task_writer(env, lambda w: w.totals.updates >= 5)
    rows = dict(db.execute("SELECT task_id, status FROM tasks").fetchall())
    assert rows == {late: 3, twice: 3, forward: 2}
    finished = scalar(db, "SELECT finished_at FROM tasks WHERE task_id = %s", twice)
    # The same result delivered again, and a PROCESSING after it: one transition, kept.
    produce(
        env,
        services,
        [
            (twice, update(twice, 3, t0 + timedelta(seconds=9))),
            (twice, update(twice, 2, t0 + timedelta(seconds=9))),
            (forward, update(forward, 3, t0 + timedelta(seconds=2))),
        ],
    )
    run_task_writer(env, lambda w: w.totals.updates >= 3)
    assert scalar(db, "SELECT finished_at FROM tasks WHERE task_id = %s", twice) == finished
    rows = dict(db.execute("SELECT task_id, status FROM tasks").fetchall())
    assert rows == {late: 3, twice: 3, forward: 3}
    started = scalar(db, "SELECT started_at FROM tasks WHERE task_id = %s", forward)
    assert started == t0  # from its PROCESSING, kept when it completed
