"""The writer's on-demand side: task updates topic -> the `tasks` table.

Its own consumer and group on the on-demand results topic, its own thread and connection,
so that a backlog of scheduled results never delays a task's COMPLETED. Each batch folds
the updates of a task into its latest state and applies them all in one statement, which
only moves a status forward; offsets are committed after PostgreSQL committed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import confluent_kafka
from psycopg.types.json import Jsonb

from checker.metrics import CheckerMetrics
from checker.settings import CheckerSettings
from shared.db import Database
from shared.errors import DatabaseError, DatabaseUnavailable, KafkaError, MessageError
from shared.health import Backoff, DependencyState
from shared.kafka import Producer, commit_offsets, dead_letter, make_consumer
from shared.lifecycle import close_consumers
from shared.logs import log_summary
from shared.messages import TaskUpdate, decode
from shared.queries import load_queries
from shared.task_status import TaskStatus

logger = logging.getLogger(__name__)

QUERIES = load_queries("checker.writer")
BATCH_SIZE = 1000
POLL_TIMEOUT_S = 0.05
DLQ_FLUSH_TIMEOUT_S = 10.0


@dataclass
class TaskState:
    status: TaskStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None


@dataclass
class TaskWriterTotals:
    batches: int = 0
    updates: int = 0
    dead_lettered: int = 0


def fold(updates: list[TaskUpdate]) -> dict[UUID, TaskState]:
    """Each task's latest state in a batch: the highest status, the start from its
    PROCESSING (or, without one, from its result's `checked_at`)."""
    states: dict[UUID, TaskState] = {}
    for update in updates:
        # NEW: below every update's status, so that the first one sets the state.
        state = states.setdefault(update.task_id, TaskState(status=TaskStatus.NEW))
        if update.status == TaskStatus.PROCESSING:
            state.started_at = update.at if state.started_at is None else state.started_at
        elif update.status > state.status or state.result is None:
            state.finished_at = update.at
            state.result = update.stored_result()
            if update.result is not None and state.started_at is None:
                state.started_at = update.result.checked_at
        state.status = max(state.status, update.status)
    return states


def apply_updates(db: Database, states: dict[UUID, TaskState]) -> int:
    """One statement for the batch; the tasks whose status moved."""
    ids = list(states)
    params = {
        "task_ids": ids,
        "statuses": [states[i].status for i in ids],
        "started": [states[i].started_at for i in ids],
        "finished": [states[i].finished_at for i in ids],
        "results": [None if states[i].result is None else Jsonb(states[i].result) for i in ids],
    }
    return db.execute(QUERIES["apply_task_updates"], params)


class TaskWriter:
    """`run()` until a stop; `poll_once()` is one batch."""

    def __init__(
        self,
        settings: CheckerSettings,
        db: Database,
        producer: Producer,
        stop: threading.Event,
        metrics: CheckerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._producer = producer
        self._stop = stop
        self._metrics = metrics if metrics is not None else CheckerMetrics()
        self._consumer: confluent_kafka.Consumer | None = None
        self._database = DependencyState("db", logger)
        self._backoff = Backoff()
        self.totals = TaskWriterTotals()

    def start(self) -> None:
        consumer = make_consumer(
            self._settings,
            self._settings.ondemand_writer_group,
            **self._settings.group_membership("writer-ondemand"),
        )
        consumer.subscribe([self._settings.ondemand_results_topic])
        self._consumer = consumer

    def run(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                self.poll_once()
        finally:
            if self._consumer is not None:
                close_consumers({"ondemand-results": self._consumer})
                self._consumer = None
        log_summary(
            logger,
            "tasks_writer.stopped",
            {**asdict(self.totals), "db_outages": self._database.outages},
        )

    def poll_once(self) -> None:
        assert self._consumer is not None
        messages = self._consumer.consume(BATCH_SIZE, timeout=POLL_TIMEOUT_S)
        if not messages:
            return
        updates: list[TaskUpdate] = []
        offsets: dict[tuple[str, int], int] = {}
        for msg in messages:
            if msg.error() is not None:
                logger.warning("tasks_writer.consume_error error=%s", msg.error())
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            assert topic is not None and partition is not None and offset is not None
            offsets[(topic, partition)] = offset + 1
            try:
                updates.append(decode(TaskUpdate, msg.value()))
            except MessageError as exc:
                self._dead_letter(msg, str(exc))
        states = fold(updates)
        while states and not self._write(states):
            if self._stop.is_set():
                return  # not committed: redelivered to whoever comes next
            self._stop.wait(self._backoff.fail())
        self.totals.batches += 1
        self.totals.updates += len(updates)
        try:
            self._producer.flush(DLQ_FLUSH_TIMEOUT_S)
            commit_offsets(
                self._consumer,
                [confluent_kafka.TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            )
        except KafkaError as exc:
            logger.warning(
                "tasks_writer.commit_failed error=%s", exc
            )  # applied: a redelivery is a no-op

    def _write(self, states: dict[UUID, TaskState]) -> bool:
        try:
            apply_updates(self._db, states)
        except DatabaseError as exc:
            unavailable = isinstance(exc, DatabaseUnavailable)
            self._metrics.db_error("unavailable" if unavailable else "statement")
            self._database.lost(exc)
            return False
        self._backoff.succeed()
        self._database.recovered()
        return True

    def _dead_letter(self, msg: confluent_kafka.Message, reason: str) -> None:
        logger.warning("tasks_writer.dead_letter offset=%s reason=%s", msg.offset(), reason)
        value, key, headers = dead_letter(reason, msg)
        self._producer.produce(self._settings.dead_letter_topic, value, key, headers=headers)
        self.totals.dead_lettered += 1
        self._metrics.writer_dead_lettered.inc()
