"""The result writer: results topic -> PostgreSQL, one transaction per batch.

A batch closes by size or age, whichever comes first. It is COPYed into a staging table,
inserted into `check_results` ignoring (site, slot) duplicates, and folded into
`site_status` where it is newer; only after PostgreSQL committed are its offsets
committed. One batch is written on a database thread while the consumer thread reads and
decodes the next, so Python and PostgreSQL work at the same time.

While PostgreSQL is down the database thread retries the same batch with backoff; once
the next batch is full too, the consumer pauses (and keeps polling, so it stays in its
group). The probes are not affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import confluent_kafka
import psycopg

from checker.flips import Event, Recount, site_flips
from shared import locks
from shared.db import Connection, Database, insert_or_fallback
from shared.errors import DatabaseError, DatabaseUnavailable, KafkaError, MessageError
from shared.health import Backoff, DependencyState
from shared.kafka import Producer, commit_offsets, dead_letter, make_consumer
from shared.messages import ResultRow, decode_result_row
from shared.metrics import CheckerMetrics
from shared.queries import load_queries
from shared.settings import CheckerSettings

logger = logging.getLogger(__name__)

QUERIES = load_queries("checker")
COPY_TYPES = [
    "int8", "text", "timestamptz", "timestamptz", "float8", "int2", "bool", "bool", "text", "text",
    "float4", "float4", "float4", "float4", "int2", "text", "timestamptz",
]  # fmt: skip
# What the status upsert returns: the state each replaced row had. With one result per
# site (the usual batch) its `up` is enough; loading the slot too costs ~10 % of the
# writer's transaction (measured).
RETURNING_UP = "\nRETURNING site_id, previous_up"
RETURNING_UP_AND_SLOT = "\nRETURNING site_id, previous_up, previous_scheduled_at"
POLL_TIMEOUT_S = 0.1
DLQ_FLUSH_TIMEOUT_S = 10.0

Row = ResultRow
PartitionKey = tuple[str, int]


@dataclass
class WriterTotals:
    batches: int = 0
    rows: int = 0
    inserted: int = 0
    dead_lettered: int = 0
    db_failures: int = 0


@dataclass
class Batch:
    """Rows and the offsets they came from, per partition."""

    rows: dict[PartitionKey, list[Row]] = field(default_factory=dict)
    next_offsets: dict[PartitionKey, int] = field(default_factory=dict)
    counts: dict[PartitionKey, int] = field(default_factory=dict)
    messages: int = 0
    opened_at: float = 0.0

    def add(self, key: PartitionKey, offset: int, row: Row | None) -> None:
        if not self.messages:
            self.opened_at = time.monotonic()
        if row is not None:
            self.rows.setdefault(key, []).append(row)
        self.next_offsets[key] = offset + 1
        self.counts[key] = self.counts.get(key, 0) + 1
        self.messages += 1

    def all_rows(self) -> list[Row]:
        return [row for rows in self.rows.values() for row in rows]

    def drop(self, keys: set[PartitionKey]) -> None:
        for key in keys:
            self.rows.pop(key, None)
            self.next_offsets.pop(key, None)
            self.messages -= self.counts.pop(key, 0)


def write_results(db: Database, rows: Sequence[Row]) -> int:
    """One transaction: stage, insert new checks, update site_status and site_events, queue
    late hours for a rollup recount. Returns rows inserted."""
    with db.transaction() as conn:
        _, counted_to = conn.execute(
            QUERIES["rollup_watermark"], {"lock_key": locks.ROLLUP}
        ).fetchone() or (None, None)
        conn.execute(QUERIES["create_staging"])
        with conn.cursor() as cur:
            with cur.copy(QUERIES["copy_staging"]) as copy:
                copy.set_types(COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
            inserted = insert_or_fallback(
                conn, QUERIES["insert_new_results"], QUERIES["insert_results"]
            )
            one_per_site = len(rows) == len({row[0] for row in rows})
            returning = RETURNING_UP if one_per_site else RETURNING_UP_AND_SLOT
            replaced = _upsert_status(conn, returning)
            _write_flips(cur, *site_flips(rows, replaced))
            if counted_to is not None:
                _queue_late_hours(cur, rows, counted_to)
    return inserted


def _upsert_status(conn: Connection, returning: str) -> list[tuple[Any, ...]]:
    try:
        with conn.transaction():
            return conn.execute(QUERIES["upsert_status"] + returning).fetchall()
    except psycopg.errors.ForeignKeyViolation:  # a site was deleted meanwhile
        conn.execute(QUERIES["drop_unknown_sites"])
        return conn.execute(QUERIES["upsert_status"] + returning).fetchall()


def _write_flips(cur: Any, events: list[Event], recount: Recount) -> None:
    if events:
        cols = [list(col) for col in zip(*events, strict=True)]
        names = ("site_ids", "slots", "checked", "from_up", "to_up", "status", "error", "detail")
        cur.execute(QUERIES["insert_events"], dict(zip(names, cols, strict=True)))
    if recount:
        sites = list(recount)
        spans = cur.execute(
            QUERIES["recount_spans"],
            {
                "site_ids": sites,
                "los": [recount[s][0] for s in sites],
                "his": [recount[s][1] for s in sites],
            },
        ).fetchall()
        params = {
            "site_ids": [s[0] for s in spans],
            "afters": [s[1] for s in spans],
            "uptos": [s[2] for s in spans],
        }
        cur.execute(QUERIES["delete_span_events"], params)
        cur.execute(QUERIES["insert_span_events"], params)


def _queue_late_hours(cur: Any, rows: Sequence[Row], counted_to: datetime) -> None:
    """Results for hours already counted: their hours are counted again."""
    hours = {
        row[2].replace(minute=0, second=0, microsecond=0) for row in rows if row[2] < counted_to
    }
    if hours:
        cur.execute(QUERIES["queue_late_hours"], {"hours": sorted(hours)})


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
        self._producer = producer
        self._stop = stop
        self._consumer: confluent_kafka.Consumer | None = None
        self._assigned: set[PartitionKey] = set()
        self._open = Batch()
        self._sealed: Batch | None = None
        self._writing: Future[bool] | None = None
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer-db")
        self._paused = False
        self._backoff = Backoff()
        self._database = DependencyState("db", logger)
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
            self._finish(time.monotonic() + self._settings.grace_s)
        finally:
            self.close()
        t = self.totals
        logger.info(
            "writer.stopped batches=%d rows=%d inserted=%d dead_lettered=%d db_failures=%d",
            t.batches,
            t.rows,
            t.inserted,
            t.dead_lettered,
            t.db_failures,
        )

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._db_thread.shutdown(wait=True)
        self._producer.close()

    # -- the loop -------------------------------------------------------------------------

    def poll_once(self) -> None:
        assert self._consumer is not None
        self._heartbeat.beat()
        self._reap()
        batch_size = self._settings.writer_batch_size
        full = self._open.messages >= batch_size
        if full and self._writing is not None:
            if self._database.ok:
                self._reap(timeout=POLL_TIMEOUT_S)  # both batches full: wait for the database
                return
            # PostgreSQL is away: pause (dropping prefetched messages, so only now) and keep
            # polling so that the group does not evict us.
            self._pause()
        room = max(1, batch_size - self._open.messages)
        for msg in self._consumer.consume(room, timeout=POLL_TIMEOUT_S):
            self._add(msg)
        aged = time.monotonic() - self._open.opened_at >= self._settings.writer_batch_age_s
        if self._open.messages and (full or aged) and self._writing is None:
            self._seal_and_write()

    def _add(self, msg: confluent_kafka.Message) -> None:
        err = msg.error()
        if err is not None:
            logger.warning("writer.consume_error error=%s", err.str())
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None and partition is not None and offset is not None
        try:
            row: Row | None = decode_result_row(msg.value())
        except MessageError as exc:
            self._dead_letter(msg, str(exc))
            row = None
        self._open.add((topic, partition), offset, row)

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

    def _seal_and_write(self, deadline: float | None = None) -> None:
        self._sealed, self._open = self._open, Batch()
        self._writing = self._db_thread.submit(self._write_until_durable, self._sealed, deadline)

    def _reap(self, timeout: float = 0) -> bool:
        """If the batch in flight is done, commit its offsets. True when nothing is in flight."""
        if self._writing is None:
            return True
        try:
            durable = self._writing.result(timeout=timeout)
        except FutureTimeout:
            return False
        batch, self._sealed, self._writing = self._sealed, None, None
        self._resume()
        if durable and batch is not None:
            self._commit(batch)
        return True

    def _write_until_durable(self, batch: Batch, deadline: float | None) -> bool:
        """Runs on the database thread. False: gave up (stopping, deadline passed)."""
        rows = batch.all_rows()
        while True:
            started = time.perf_counter()
            try:
                inserted = write_results(self._db, rows) if rows else 0
            except DatabaseError as exc:
                self.totals.db_failures += 1
                unavailable = isinstance(exc, DatabaseUnavailable)
                self._metrics.db_error("unavailable" if unavailable else "statement")
                if unavailable:
                    self._database.lost(exc)
                else:  # a statement failed; retrying may work (a site deleted mid-batch)
                    logger.error("writer.write_failed rows=%d error=%s", len(rows), exc)
                wait = self._backoff.fail()
                if self._stop.is_set() and deadline is None:
                    deadline = time.monotonic() + self._settings.grace_s
                if deadline is not None and time.monotonic() + wait >= deadline:
                    return False
                time.sleep(wait)
                continue
            self._backoff.succeed()
            self._database.recovered()
            self.totals.batches += 1
            self.totals.rows += len(rows)
            self.totals.inserted += inserted
            self._metrics.writer_rows_written.inc(len(rows))
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

    def _finish(self, deadline: float) -> None:
        """On stop: wait for the batch in flight, write the open one, within the deadline."""
        if not self._reap(timeout=max(0.0, deadline - time.monotonic())):
            return
        if self._open.messages:
            self._seal_and_write(deadline)
            self._reap(timeout=max(0.0, deadline - time.monotonic()) + 1)

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
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        self._paused = False
        logger.info("writer.assigned partitions=%d", len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        """Make what we hold durable and commit it within the grace period; drop the rest."""
        keys = {(tp.topic, tp.partition) for tp in partitions}
        if not self._stop.is_set():
            deadline = time.monotonic() + self._settings.grace_s
            if self._reap(timeout=self._settings.grace_s) and self._open.messages:
                self._seal_and_write(deadline)
                self._reap(timeout=max(0.0, deadline - time.monotonic()) + 1)
        self._forget(keys)

    def _on_lost(self, consumer: Any, partitions: list[confluent_kafka.TopicPartition]) -> None:
        """The partitions already belong to another member: commit nothing for them."""
        logger.warning("writer.partitions_lost count=%d", len(partitions))
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, keys: set[PartitionKey]) -> None:
        self._assigned -= keys
        self._open.drop(keys)
        self._paused = False
