"""The probe role: tasks topic -> concurrent checks (HTTP, TCP, TLS, DNS) -> results topic.

One asyncio loop does everything: it polls the consumer without blocking, starts a check
per task up to the concurrency bound, produces each result (key = site id) and marks the
task finished when the broker acknowledged the result. Task offsets are committed up to
the first unfinished one (`OffsetTracker`), so a crash re-runs, never skips, a check.
Expired tasks (past their next slot) are not checked: each becomes a `missed` result,
stored like any other, and is counted; unparsable ones go to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import confluent_kafka

from checker.metrics import CheckerMetrics
from checker.probe.offsets import OffsetTracker, PartitionKey
from checker.probe.prober import Prober
from checker.settings import CheckerSettings
from shared.errors import KafkaError, MessageError
from shared.kafka import Producer, commit_offsets, dead_letter, ensure_topics, make_consumer
from shared.lifecycle import close_consumers
from shared.logs import log_summary
from shared.messages import (
    NOT_PERFORMED,
    CheckResult,
    CheckTask,
    TaskStatus,
    TaskUpdate,
    decode,
    expired_result,
)

logger = logging.getLogger(__name__)

MAX_CONSUME_BATCH = 500
IDLE_SLEEP_S = 0.02
COMMIT_INTERVAL_S = 1.0
REPRODUCE_DELAY_S = 1.0
EXPIRED_LOG_INTERVAL_S = 10.0
# Of the grace period, what is kept back for flushing results and committing.
FLUSH_RESERVE_S = 1.0


@dataclass
class ProbeTotals:
    checks: int = 0
    expired: int = 0
    dead_lettered: int = 0
    abandoned: int = 0


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ProbeLoop:
    def __init__(
        self,
        settings: CheckerSettings,
        prober: Prober,
        producer: Producer,
        stop: threading.Event,
        metrics: CheckerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._prober = prober
        self._producer = producer
        self._stop = stop
        self._consumer: confluent_kafka.Consumer | None = None
        # On-demand tasks come through a consumer of their own, read before the scheduled
        # one on every pass: a backlog of scheduled checks does not delay them.
        self._ondemand: confluent_kafka.Consumer | None = None
        self._offsets = OffsetTracker()
        self._in_flight: set[asyncio.Task[None]] = set()
        # Set while step() waits for a check to finish; the first one to finish wakes it.
        self._room: asyncio.Future[None] | None = None
        self._last_commit = 0.0
        self._expired_since_log = 0
        self._last_expired_log = 0.0
        self.totals = ProbeTotals()
        self._metrics = metrics if metrics is not None else CheckerMetrics()
        self._metrics.checks_in_flight.set_function(lambda: len(self._in_flight))
        self._heartbeat = self._metrics.health.component("probe")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._ensure_region_topic()
        consumer = make_consumer(
            self._settings,
            self._settings.region_probe_group,
            on_commit=self._on_commit,
            **self._metrics.consumer_config("probe", logger),
            **self._settings.group_membership("probe"),
        )
        consumer.subscribe(
            [self._settings.region_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._consumer = consumer
        ondemand = make_consumer(
            self._settings,
            self._settings.region_ondemand_probe_group,
            on_commit=self._on_commit,
            **self._metrics.consumer_config("probe", logger),
            **self._settings.group_membership("probe-ondemand"),
        )
        ondemand.subscribe(
            [self._settings.ondemand_region_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._ondemand = ondemand

    def _ensure_region_topic(self) -> None:
        """A region's task topics (scheduled and on demand) exist before its checkers
        subscribe: a consumer that subscribed to a missing topic would not see it until its
        next metadata refresh (minutes). Best effort: where the checker may not create
        topics (ACLs), the scheduler or webmon-migrate does."""
        topics = [self._settings.region_topic, self._settings.ondemand_region_topic]
        if topics == [self._settings.tasks_topic, self._settings.ondemand_tasks_topic]:
            return
        try:
            created = ensure_topics(self._settings, topics, self._settings.kafka_partitions)
        except KafkaError as exc:
            logger.warning("probe.region_topic topic=%s error=%s", ",".join(topics), exc)
            return
        logger.info(
            "probe.region region=%s topic=%s%s", self._settings.checker_region, topics[0],
            f" created={','.join(created)}" if created else "",
        )  # fmt: skip

    async def run(self) -> None:
        self.start()
        await self._prober.open()
        try:
            while not self._stop.is_set():
                await self.step()
            await self._finish(time.monotonic() + self._settings.grace_s)
        finally:
            named = {"tasks": self._consumer, "ondemand-tasks": self._ondemand}
            close_consumers({name: c for name, c in named.items() if c is not None})
            self._consumer = self._ondemand = None
            await self._prober.close()
            self._producer.close(FLUSH_RESERVE_S)
        log_summary(logger, "probe.stopped", asdict(self.totals))

    async def step(self) -> None:
        """One pass: take what fits, serve acknowledgements, commit now and then."""
        assert self._consumer is not None and self._ondemand is not None
        self._heartbeat.beat()
        messages: list[confluent_kafka.Message] = []
        for consumer in (self._ondemand, self._consumer):
            free = self._settings.concurrency - len(self._in_flight)
            if free > 0:
                taken = consumer.consume(min(free, MAX_CONSUME_BATCH), timeout=0)
                for msg in taken:
                    self._dispatch(msg)
                messages += taken
        free = self._settings.concurrency - len(self._in_flight)
        self._producer.poll(0)
        now = time.monotonic()
        if now - self._last_commit >= COMMIT_INTERVAL_S:
            self._last_commit = now
            self._commit(asynchronous=True)
            self._log_expired(now)
        if free <= 0:
            await self._wait_for_room()
        elif not messages:
            await asyncio.sleep(IDLE_SLEEP_S)
        else:
            await asyncio.sleep(0)

    async def _finish(self, deadline: float) -> None:
        """Stop taking tasks; let checks finish until the deadline, then abandon the rest."""
        if self._in_flight:
            wait = max(0.0, deadline - FLUSH_RESERVE_S - time.monotonic())
            _, pending = await asyncio.wait(self._in_flight, timeout=wait)
            for task in pending:
                task.cancel()
            self.totals.abandoned += len(pending)
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            self._producer.flush(max(0.1, deadline - time.monotonic()))
        except KafkaError as exc:
            logger.warning("probe.flush_failed error=%s", exc)
        self._producer.poll(0)
        self._commit(asynchronous=False)

    # -- tasks ----------------------------------------------------------------------------

    def _dispatch(self, msg: confluent_kafka.Message) -> None:
        err = msg.error()
        if err is not None:
            logger.warning("probe.consume_error error=%s", err.str())
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None and partition is not None and offset is not None
        key: PartitionKey = (topic, partition)
        self._offsets.started(key, offset)
        try:
            task = decode(CheckTask, msg.value())
        except MessageError as exc:
            self._dead_letter(msg, key, offset, str(exc))
            return
        if task.region != self._settings.checker_region:
            # Another region's task on this region's topic: checking it here would store a
            # row no one scheduled (or a verdict from the wrong place). Set aside, visibly;
            # an on-demand one then ends as expired, with no result from its region.
            reason = (f"a task for region {task.region!r} reached a checker of region "
                      f"{self._settings.checker_region!r}")  # fmt: skip
            self._dead_letter(msg, key, offset, reason)
            return
        now = datetime.now(UTC)
        if now >= task.expires_at:
            # Too late to check: recorded as a missed slot, a result like any other (its
            # offset is finished once that is acknowledged), not checked late. An on-demand
            # task that expired is an ERROR.
            self.totals.expired += 1
            self._metrics.tasks_expired.inc()
            self._expired_since_log += 1
            if task.task_id is None:
                missed = CheckResult.missed(task, now)
                self._produce_result(key, offset, task.site_id, missed.encode())
            else:
                self._task_finished(key, offset, task, expired_result(task, now))
            return
        if task.task_id is not None:
            # Started: best effort (the final update moves the task on even without it).
            started = TaskUpdate(task_id=task.task_id, status=TaskStatus.PROCESSING, at=now)
            self._producer.produce(
                self._settings.ondemand_results_topic, started.encode(), task.task_id.bytes
            )
        check = asyncio.create_task(self._check(key, offset, task))
        self._in_flight.add(check)
        check.add_done_callback(self._check_done)

    async def _wait_for_room(self) -> None:
        """Until a check finishes, or IDLE_SLEEP_S. Not `asyncio.wait(self._in_flight)`: that
        hooks into and out of every check in flight on each call, and a full loop makes about
        one call per finished check: ~0.3 ms of CPU per check at 256 in flight, an eighth of
        a TLS check's cost (bench_checker, A/B in one run)."""
        loop = asyncio.get_running_loop()
        room = self._room = loop.create_future()
        timer = loop.call_later(IDLE_SLEEP_S, _settle, room)
        try:
            await room
        finally:
            timer.cancel()
            self._room = None

    def _check_done(self, check: asyncio.Task[None]) -> None:
        self._in_flight.discard(check)
        if self._room is not None:
            _settle(self._room)
        if not check.cancelled() and check.exception() is not None:
            logger.error("probe.check_crashed error=%r", check.exception())

    async def _check(self, key: PartitionKey, offset: int, task: CheckTask) -> None:
        started = time.perf_counter()
        result = await self._prober.check(task)
        self.totals.checks += 1
        self._metrics.check_done(result, time.perf_counter() - started)
        if task.task_id is None:
            self._produce_result(key, offset, task.site_id, result.encode())
        else:
            self._task_finished(key, offset, task, result)

    def _task_finished(
        self, key: PartitionKey, offset: int, task: CheckTask, result: CheckResult
    ) -> None:
        """An on-demand task's final update: COMPLETED when the check produced a result, up
        or down; ERROR when it could not be performed (blocked, expired)."""
        assert task.task_id is not None
        status = TaskStatus.ERROR if result.error in NOT_PERFORMED else TaskStatus.COMPLETED
        update = TaskUpdate(
            task_id=task.task_id, status=status, at=datetime.now(UTC), result=result
        )
        self._produce_until_acked(
            self._settings.ondemand_results_topic,
            update.encode(),
            task.task_id.bytes,
            None,
            key,
            offset,
        )

    def _produce_result(self, key: PartitionKey, offset: int, site_id: int, value: bytes) -> None:
        self._produce_until_acked(
            self._settings.results_topic, value, str(site_id).encode(), None, key, offset
        )

    def _produce_until_acked(
        self,
        topic: str,
        value: bytes,
        message_key: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        key: PartitionKey,
        offset: int,
    ) -> None:
        """Produce; the task at (key, offset) is finished once the broker acknowledged it.
        Not acknowledged: keep the offset open and produce again; never drop a result."""

        def retry() -> None:
            asyncio.get_running_loop().call_later(
                REPRODUCE_DELAY_S,
                self._produce_until_acked,
                topic,
                value,
                message_key,
                headers,
                key,
                offset,
            )

        def delivered(err: Any, msg: Any) -> None:
            if err is None:
                self._offsets.finished(key, offset)
                return
            logger.warning("probe.delivery_failed topic=%s error=%s", topic, err.str())
            retry()

        try:
            self._producer.produce(topic, value, message_key, headers, on_delivery=delivered)
        except KafkaError as exc:
            logger.warning("probe.produce_failed topic=%s error=%s", topic, exc)
            retry()

    def _dead_letter(
        self, msg: confluent_kafka.Message, key: PartitionKey, offset: int, reason: str
    ) -> None:
        logger.warning(
            "probe.dead_letter topic=%s partition=%d offset=%d reason=%s",
            key[0],
            key[1],
            offset,
            reason,
        )
        self.totals.dead_lettered += 1
        self._metrics.probe_dead_lettered.inc()
        value, message_key, headers = dead_letter(reason, msg)
        self._produce_until_acked(
            self._settings.dead_letter_topic, value, message_key, headers, key, offset
        )

    def _log_expired(self, now: float) -> None:
        if self._expired_since_log and now - self._last_expired_log >= EXPIRED_LOG_INTERVAL_S:
            logger.warning("probe.expired_missed count=%d", self._expired_since_log)
            self._expired_since_log = 0
            self._last_expired_log = now

    # -- offsets --------------------------------------------------------------------------

    def _commit(self, *, asynchronous: bool, keys: set[PartitionKey] | None = None) -> None:
        """Commit each consumer's finished positions to that consumer."""
        for consumer, topic in (
            (self._consumer, self._settings.region_topic),
            (self._ondemand, self._settings.ondemand_region_topic),
        ):
            if consumer is None:
                continue
            positions = {k: o for k, o in self._offsets.to_commit(keys).items() if k[0] == topic}
            if not positions:
                continue
            offsets = [confluent_kafka.TopicPartition(t, p, o) for (t, p), o in positions.items()]
            try:
                commit_offsets(consumer, offsets, asynchronous=asynchronous)
            except KafkaError as exc:
                logger.warning("probe.commit_failed topic=%s error=%s", topic, exc)
                continue
            self._offsets.committed(positions)

    def _on_commit(self, err: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        if err is not None:
            logger.warning("probe.commit_failed error=%s", err.str())

    def _on_assign(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        if consumer is self._ondemand:
            logger.info("probe.ondemand_assigned partitions=%d", len(partitions))
        else:
            logger.info("probe.assigned partitions=%d", len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        """Commit what is durable for the partitions leaving us, within a deadline. (Not
        after a close given up on, `close_consumers`: its late revoke commits nothing.)"""
        if self._consumer is None:
            return
        keys = {(tp.topic, tp.partition) for tp in partitions}
        try:
            self._producer.flush(FLUSH_RESERVE_S)
        except KafkaError as exc:
            logger.warning("probe.flush_failed error=%s", exc)
        self._producer.poll(0)
        self._commit(asynchronous=False, keys=keys)
        # Checks still running for these partitions finish; their results are duplicates
        # the writer ignores, and their offsets are the next owner's to commit.
        self._offsets.forget(keys)

    def _on_lost(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        logger.warning("probe.partitions_lost count=%d", len(partitions))
        self._offsets.forget({(tp.topic, tp.partition) for tp in partitions})
