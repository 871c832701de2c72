"""The result writer's loop: results topic -> lanes -> PostgreSQL -> offsets.

A batch closes by size or age, whichever comes first, and is written by `store` in one
transaction; only after PostgreSQL committed are its offsets committed.

The assigned partitions are split over lanes (`WEBMON_WRITER_LANES`), each with its own
database thread and connection. A site's results all arrive through one partition, so two
lanes never write the same site and their transactions never wait on each other's rows:
PostgreSQL works on two batches at once while the consumer thread reads and decodes the
next ones (bench_writer: two lanes 1.5x one on this two-core machine). Each lane commits
its own partitions' offsets, in order.

While PostgreSQL is down each lane retries its batch with backoff; once a lane's next
batch is full too, the consumer pauses (and keeps polling, so it stays in its group). The
probes are not affected.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from dataclasses import asdict, dataclass
from typing import Any

import confluent_kafka

from checker.metrics import CheckerMetrics
from checker.settings import CheckerSettings
from checker.writer.lanes import Batch, Lane, PartitionKey
from checker.writer.region_health import RegionRules
from checker.writer.store import write_results
from shared.db import Database
from shared.errors import DatabaseError, DatabaseUnavailable, KafkaError, MessageError
from shared.health import DependencyState
from shared.kafka import Producer, commit_offsets, dead_letter, make_consumer
from shared.lifecycle import close_consumers
from shared.logs import log_summary
from shared.messages import CheckResult, decode_result
from shared.thread_names import name_os_thread

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.1
DLQ_FLUSH_TIMEOUT_S = 10.0


@dataclass
class WriterTotals:
    batches: int = 0
    rows: int = 0
    inserted: int = 0
    dead_lettered: int = 0
    db_failures: int = 0


class ResultWriter:
    """Consumes results in its own group. `poll_once()` is one step of `run()`."""

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
        self._region_rules = RegionRules(
            settings.region_min_sites, settings.region_down_ratio, settings.region_canary_failures
        )
        self._producer = producer
        self._stop = stop
        self._consumer: confluent_kafka.Consumer | None = None
        self._assigned: set[PartitionKey] = set()
        self._lanes = [
            Lane(
                ThreadPoolExecutor(
                    max_workers=1,
                    thread_name_prefix=f"writer-db-{n}",
                    initializer=name_os_thread,
                )
            )
            for n in range(settings.writer_lanes)
        ]
        self._lane_of: dict[PartitionKey, int] = {}
        self._paused = False
        self._database = DependencyState("db", logger)
        self._totals_lock = threading.Lock()
        self.totals = WriterTotals()
        self._metrics = metrics if metrics is not None else CheckerMetrics()
        self._heartbeat = self._metrics.health.component("writer")
        self._heartbeat.watch(self._database)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        consumer = make_consumer(
            self._settings,
            self._settings.writer_group,
            **self._metrics.consumer_config("writer", logger),
            **self._settings.group_membership("writer"),
        )
        consumer.subscribe(
            [self._settings.results_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._consumer = consumer

    def run(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                self.poll_once()
            self._flush(time.monotonic() + self._settings.grace_s)
        finally:
            self.close()
        log_summary(
            logger, "writer.stopped", {**asdict(self.totals), "db_outages": self._database.outages}
        )

    def close(self) -> None:
        if self._consumer is not None:
            close_consumers({"results": self._consumer})
            self._consumer = None
        for lane in self._lanes:
            # A batch still queued behind one that gave up is dropped, not started: its
            # offsets were never committed, and the stop stays within the grace period.
            lane.thread.shutdown(wait=True, cancel_futures=True)
        self._producer.close()

    # -- the loop -------------------------------------------------------------------------

    def poll_once(self) -> None:
        assert self._consumer is not None
        self._heartbeat.beat()
        batch_size = self._settings.writer_batch_size
        for lane in self._lanes:
            self._reap(lane)
        self._write_ready()
        if any(lane.blocked(batch_size) for lane in self._lanes):
            if self._database.ok:
                # Wait for the database: for any lane, so that none idles while another
                # one's batch is still being written.
                writing = [lane.in_flight[0][1] for lane in self._lanes if lane.in_flight]
                wait_futures(writing, timeout=POLL_TIMEOUT_S, return_when=FIRST_COMPLETED)
                return
            # PostgreSQL is away: pause (dropping prefetched messages, so only now) and keep
            # polling so that the group does not evict us.
            self._pause()
        fullest = max(lane.open.messages for lane in self._lanes)
        room = max(1, batch_size - fullest)
        for msg in self._consumer.consume(room, timeout=POLL_TIMEOUT_S):
            self._add(msg)
        self._write_ready()

    def _write_ready(self) -> None:
        size, age = self._settings.writer_batch_size, self._settings.writer_batch_age_s
        for lane in self._lanes:
            if lane.ready(size, age):
                self._seal_and_write(lane)

    def _add(self, msg: confluent_kafka.Message) -> None:
        err = msg.error()
        if err is not None:
            logger.warning("writer.consume_error error=%s", err.str())
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None and partition is not None and offset is not None
        try:
            result: CheckResult | None = decode_result(msg.value())
        except MessageError as exc:
            self._dead_letter(msg, str(exc))
            result = None
        key = (topic, partition)
        if key not in self._lane_of:  # consumed before its assignment was seen
            self._place({key})
        self._lanes[self._lane_of[key]].open.add(key, offset, result)

    def _place(self, keys: set[PartitionKey]) -> None:
        """Spread newly assigned partitions over the lanes. One whose earlier batch is still
        in flight (a lost partition assigned back) stays in that lane, so that two
        transactions never write the same sites at once."""
        moving = {key for key in keys if not self._in_flight(key)}
        loads = [0] * len(self._lanes)
        for key in self._assigned - moving:
            if key in self._lane_of:
                loads[self._lane_of[key]] += 1
        for key in sorted(moving):
            lane = loads.index(min(loads))
            self._lane_of[key] = lane
            loads[lane] += 1

    def _in_flight(self, key: PartitionKey) -> bool:
        lane = self._lane_of.get(key)
        return lane is not None and self._lanes[lane].holds(key)

    def _dead_letter(self, msg: confluent_kafka.Message, reason: str) -> None:
        logger.warning(
            "writer.dead_letter topic=%s partition=%d offset=%d reason=%s",
            msg.topic(),
            msg.partition(),
            msg.offset(),
            reason,
        )
        value, key, headers = dead_letter(reason, msg)
        self._producer.produce(self._settings.dead_letter_topic, value, key, headers=headers)
        self.totals.dead_lettered += 1
        self._metrics.writer_dead_lettered.inc()

    # -- durability -----------------------------------------------------------------------

    def _seal_and_write(self, lane: Lane, deadline: float | None = None) -> None:
        batch, lane.open = lane.open, Batch()
        future = lane.thread.submit(self._write_until_durable, lane, batch, deadline)
        lane.in_flight.append((batch, future))

    def _reap(self, lane: Lane, deadline: float | None = None) -> bool:
        """Commit the offsets of the lane's batches that are written, in order; wait for
        them until the deadline, if one is given. True when none is left in flight."""
        while lane.in_flight:
            batch, future = lane.in_flight[0]
            timeout = 0.0 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                durable = future.result(timeout=timeout)
            except FutureTimeout:
                return False
            lane.in_flight.popleft()
            self._resume()
            if not durable:
                lane.gave_up = True
            elif not lane.gave_up:
                self._commit(batch)
        lane.gave_up = False
        return True

    def _reap_all(self, deadline: float) -> bool:
        done = True
        for lane in self._lanes:
            done = self._reap(lane, deadline) and done
        return done

    def _write_until_durable(self, lane: Lane, batch: Batch, deadline: float | None) -> bool:
        """Runs on the lane's thread. False: gave up (stopping, deadline passed)."""
        results = batch.all_results()
        while True:
            started = time.perf_counter()
            try:
                inserted = (
                    write_results(self._db, results, self._region_rules, batch.next_offsets.keys())
                    if results
                    else 0
                )
            except DatabaseError as exc:
                unavailable = isinstance(exc, DatabaseUnavailable)
                self._metrics.db_error("unavailable" if unavailable else "statement")
                with self._totals_lock:
                    self.totals.db_failures += 1
                    if unavailable:
                        self._database.lost(exc)
                if not unavailable:  # a statement failed; a retry may work (a site deleted)
                    logger.error("writer.write_failed rows=%d error=%s", len(results), exc)
                wait = lane.backoff.fail()
                if self._stop.is_set() and deadline is None:
                    deadline = time.monotonic() + self._settings.grace_s
                if deadline is not None and time.monotonic() + wait >= deadline:
                    return False
                time.sleep(wait)
                continue
            lane.backoff.succeed()
            with self._totals_lock:
                self._database.recovered()
                self.totals.batches += 1
                self.totals.rows += len(results)
                self.totals.inserted += inserted
            self._metrics.writer_rows_written.inc(len(results))
            self._metrics.writer_rows_inserted.inc(inserted)
            self._metrics.writer_batch_seconds.observe(time.perf_counter() - started)
            return True

    def _commit(self, batch: Batch) -> None:
        offsets = [
            confluent_kafka.TopicPartition(topic, partition, offset)
            for (topic, partition), offset in batch.next_offsets.items()
            if (topic, partition) in self._assigned
        ]
        if self._consumer is None or not offsets:
            return
        try:
            self._producer.flush(DLQ_FLUSH_TIMEOUT_S)  # dead letters acknowledged first
            commit_offsets(self._consumer, offsets)
        except KafkaError as exc:
            # The rows are stored; a redelivery of this batch adds nothing.
            logger.warning("writer.commit_failed error=%s", exc)

    def _flush(self, deadline: float) -> None:
        """Wait for the batches in flight, then write the open ones, within the deadline."""
        if not self._reap_all(deadline):
            return
        for lane in self._lanes:
            if lane.open.messages:
                self._seal_and_write(lane, deadline)
        self._reap_all(deadline + 1)

    def _pause(self) -> None:
        if self._consumer is not None and not self._paused:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True

    def _resume(self) -> None:
        if self._consumer is not None and self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False

    # -- rebalances -----------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned |= keys
        self._place(keys)
        self._paused = False
        logger.info("writer.assigned partitions=%d", len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        """Make what we hold durable and commit it within the grace period; drop the rest."""
        if not self._stop.is_set():
            self._flush(time.monotonic() + self._settings.grace_s)
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _on_lost(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        """The partitions already belong to another member: commit nothing for them."""
        logger.warning("writer.partitions_lost count=%d", len(partitions))
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, keys: set[PartitionKey]) -> None:
        self._assigned -= keys
        for lane in self._lanes:
            lane.open.drop(keys)
        self._paused = False
