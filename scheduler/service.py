"""The scheduler: claim due sites, emit their tasks, commit the claim only after the acks.

The claim loop (`Scheduler.run`) looks for due sites when the earliest one is due, when a
change of `sites` wakes it (`scheduler.wakeups`), and at least every `tick_seconds`.

Each batch is one transaction: `claim_due` locks and advances up to a batch of due sites,
their tasks are produced (key = site id), the producer is flushed, and only when every
delivery was confirmed is the claim committed. Any failure rolls the claim back: those
sites stay due and are retried after a backoff. Dying between the flush and the commit
re-emits the same (site, slot) later, which downstream deduplicates.

A site checked from several regions gets one task per region, each to its region's task
topic (`region_tasks_topic`); its identity downstream is (site, slot, region). A region's
topic is created the first time a claimed site names it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from psycopg.rows import TupleRow

from scheduler.metrics import SchedulerMetrics
from scheduler.settings import SchedulerSettings
from scheduler.tasks import REGIONS_COLUMN, claimed_task, region_tasks
from scheduler.wakeups import SiteChanges
from shared.db import Database, Transaction
from shared.errors import DatabaseError, DatabaseUnavailable, KafkaError
from shared.health import Backoff, DependencyState
from shared.kafka import Producer, ensure_topics, make_producer
from shared.messages import CheckTask
from shared.queries import load_queries

logger = logging.getLogger(__name__)

QUERIES = load_queries("scheduler")
# The claim loop's looks are at least a twentieth of the shortest interval apart (a task
# may be that much late; its deadline is its next slot), and never closer than 50 ms.
CLAIM_GAP_SHARE = 0.05
CLAIM_GAP_S = 0.05
# How often the shortest interval of the enabled sites is counted again (a full pass over
# `sites`); a change that wakes the loop counts it at once.
SHORTEST_REFRESH_S = 10.0


def make_scheduler_producer(settings: SchedulerSettings) -> Producer:
    """A producer that gives up within the flush timeout and reports only failures."""
    return make_producer(
        settings,
        **{
            "message.timeout.ms": int(settings.flush_timeout_s * 1000),
            "delivery.report.only.error": True,
        },
    )


@dataclass
class SchedulerTotals:
    emitted: int = 0
    tasks_emitted: int = 0  # on-demand tasks
    batches: int = 0
    failed_batches: int = 0


class Scheduler:
    """Drains due sites into the task topic. `drain()` is the whole job of one tick."""

    def __init__(
        self,
        settings: SchedulerSettings,
        db: Database,
        producer: Producer,
        stop: threading.Event | None = None,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._producer = producer
        self._stop = stop or threading.Event()
        self._claim_query = QUERIES["claim_due"]
        self._claim_params = {"batch_size": settings.claim_batch_size}
        # One thread that claims the next batch while this one is being emitted.
        self._claimer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim")
        self._region_topics: set[str] = {settings.tasks_topic, settings.ondemand_tasks_topic}
        self._backoff = Backoff()
        self._shortest_s: float | None = None
        self._shortest_at = -SHORTEST_REFRESH_S
        self._database = DependencyState("db", logger)
        self._kafka = DependencyState("kafka", logger)
        self.totals = SchedulerTotals()
        self._metrics = metrics if metrics is not None else SchedulerMetrics()
        # A tick may drain batch after batch, each waiting up to the flush timeout.
        max_age = max(30.0, 3 * settings.tick_seconds + 2 * settings.flush_timeout_s)
        self._heartbeat = self._metrics.health.component("scheduler", max_age)
        self._heartbeat.watch(self._database, self._kafka)

    def _claim(self) -> tuple[Transaction, list[TupleRow]]:
        """Open a transaction and claim one batch in it (the locks last until it ends)."""
        tx = self._db.begin()
        try:
            return tx, tx.fetchall(self._claim_query, self._claim_params)
        except BaseException:
            tx.rollback()
            raise

    def _emit(self, rows: list[TupleRow]) -> int:
        """Produce the tasks of the claimed rows (one per row and region) and wait until the
        broker acknowledged them all; return how many."""
        topic = self._settings.tasks_topic
        produce = self._producer.produce
        tasks = 0
        try:
            # claim_due returns the columns in claimed_task's order, site_id first.
            for row in rows:
                regions = row[REGIONS_COLUMN]
                if regions is None:  # the default region alone: the plain path
                    produce(topic, claimed_task(*row).encode(), str(row[0]).encode())
                    tasks += 1
                    continue
                key = str(row[0]).encode()
                for task in region_tasks(claimed_task(*row), regions):
                    produce(self._topic_of(task.region), task.encode(), key)
                    tasks += 1
            self._producer.flush(self._settings.flush_timeout_s)
        except KafkaError:
            self._producer.reset()
            raise
        return tasks

    def _topic_of(self, region: str) -> str:
        """A region's task topic, created the first time this process meets the region."""
        return self._created(region, self._settings.region_tasks_topic(region))

    def _created(self, region: str, topic: str) -> str:
        """`topic`, created (if missing) the first time this process meets it."""
        if topic not in self._region_topics:
            created = ensure_topics(self._settings, [topic], self._settings.kafka_partitions)
            if created:
                logger.info("scheduler.region_topic region=%s topic=%s created", region, topic)
            self._region_topics.add(topic)
        return topic

    def drain(self) -> int:
        """Emit batch after batch until nothing is due or a stop was requested.

        Pipelined: while batch N is produced and flushed, batch N+1 is already being claimed
        on a second connection (SKIP LOCKED keeps them disjoint). Each batch still commits
        only after its own acknowledgements; on any failure every open claim rolls back.
        """
        batch_size = self._settings.claim_batch_size
        emitted = 0
        next_claim: Future[tuple[Transaction, list[TupleRow]]] | None = self._claimer.submit(
            self._claim
        )
        try:
            while next_claim is not None:
                tx, rows = next_claim.result()
                next_claim = None
                if len(rows) == batch_size and not self._stop.is_set():
                    next_claim = self._claimer.submit(self._claim)
                if not rows:
                    tx.commit()
                    break
                started = time.perf_counter()
                try:
                    tasks = self._emit(rows)
                except BaseException:
                    tx.rollback()
                    raise
                tx.commit()
                emitted += tasks
                self.totals.batches += 1
                self.totals.emitted += tasks
                self._metrics.tasks_emitted.inc(tasks)
                self._metrics.claim_batch_seconds.observe(time.perf_counter() - started)
                self._heartbeat.beat()
                logger.debug(
                    "claim.batch sites=%d tasks=%d seconds=%.3f",
                    len(rows), tasks, time.perf_counter() - started,
                )  # fmt: skip
        finally:
            if next_claim is not None:  # a failure left a claim open: give its sites back
                try:
                    next_claim.result()[0].rollback()
                except Exception as exc:
                    logger.debug("claim.abandoned error=%s", exc)
        return emitted

    def close(self) -> None:
        self._claimer.shutdown(wait=True)

    def outages(self) -> dict[str, int]:
        """How often each dependency was lost, for the stop summary."""
        return {"db_outages": self._database.outages, "kafka_outages": self._kafka.outages}

    def run(self, changes: SiteChanges) -> None:
        """The claim loop, until a stop: drain what is due, then wait until the next site is
        due, a change of `sites` wakes it, or `tick_seconds` passed, whichever is first.

        After a look that emitted tasks the next one waits at least `gap_s()`: a twentieth
        of the shortest interval of an enabled site, within [CLAIM_GAP_S, tick_seconds]. A
        stream of due sites is claimed in batches, as many as the shortest deadline allows:
        on a busy machine a claim per site (or per 50 ms) for sites checked every minute
        costs the checkers CPU they need.
        """
        while not self._stop.is_set():
            started = time.monotonic()
            # A look that found work is followed by the gap; after an empty one the next
            # look is when the earliest site is due, to the millisecond.
            gap = self.gap_s() if self.tick() else CLAIM_GAP_S
            if changes.wait(max(self.wait_s(), gap - (time.monotonic() - started))):
                # A site was added or changed: look now (only the 50 ms floor holds back a
                # storm of changes), and count the shortest interval again.
                self._shortest_at = -SHORTEST_REFRESH_S
                gap = CLAIM_GAP_S
            self._stop.wait(max(0.0, gap - (time.monotonic() - started)))

    def gap_s(self) -> float:
        """The least time between two looks, from the shortest interval of an enabled site
        (counted again every SHORTEST_REFRESH_S, and after a change woke the loop)."""
        tick = self._settings.tick_seconds
        if time.monotonic() - self._shortest_at >= SHORTEST_REFRESH_S:
            try:
                rows = self._db.fetch(QUERIES["shortest_interval"])
            except DatabaseError:
                return min(tick, CLAIM_GAP_S)
            self._shortest_at = time.monotonic()
            self._shortest_s = float(rows[0][0]) if rows and rows[0][0] is not None else None
        if self._shortest_s is None:
            return min(tick, CLAIM_GAP_S)
        return min(tick, max(CLAIM_GAP_S, self._shortest_s * CLAIM_GAP_SHARE))

    def wait_s(self) -> float:
        """How long to wait before the next look: until the earliest enabled site is due,
        at most `tick_seconds`; after a failure, until the backoff allows a retry."""
        if not self._backoff.ready():
            return self._backoff.remaining()
        tick = self._settings.tick_seconds
        try:
            rows = self._db.fetch(QUERIES["next_due_in"])
        except DatabaseError:
            return tick  # tick() finds out and backs off
        due_in = rows[0][0] if rows else None
        return tick if due_in is None else min(tick, max(0.0, float(due_in)))

    def drain_tasks(self) -> int:
        """Emit the accepted on-demand tasks to their own topic, batch by batch, each
        committed after its acknowledgements; end those that will never run."""
        self._db.execute(QUERIES["expire_tasks"], {"grace_s": self._settings.task_result_grace_s})
        emitted = 0
        while not self._stop.is_set():
            tx = self._db.begin()
            try:
                rows = tx.fetchall(QUERIES["claim_tasks"], self._claim_params)
                if rows:
                    self._emit_tasks(rows)
            except BaseException:
                tx.rollback()
                raise
            tx.commit()
            emitted += len(rows)
            if len(rows) < self._settings.claim_batch_size:
                break
        if emitted:
            self.totals.tasks_emitted += emitted
            logger.debug("claim.tasks tasks=%d", emitted)
        return emitted

    def _emit_tasks(self, rows: list[TupleRow]) -> None:
        """Each on-demand task to its region's on-demand topic (the default region's is the
        on-demand topic itself), read by that region's checkers only."""
        try:
            for row in rows:
                task_id, url, timeout, regex, created_at, expires_at, method, headers = row[:8]
                region, restricted = row[8], row[9]
                task = CheckTask(
                    site_id=0,
                    task_id=task_id,
                    url=url,
                    timeout_s=timeout,
                    regex=regex,
                    scheduled_at=created_at,
                    expires_at=expires_at,
                    method=method,
                    headers=headers,
                    # A URL from the API or the dashboard: the target policy applies.
                    restricted=restricted,
                    region=region,
                )
                topic = self._ondemand_topic_of(region)
                self._producer.produce(topic, task.encode(), str(task_id).encode())
            self._producer.flush(self._settings.flush_timeout_s)
        except KafkaError:
            self._producer.reset()
            raise

    def _ondemand_topic_of(self, region: str) -> str:
        """A region's on-demand topic, created the first time this process meets it."""
        return self._created(region, self._settings.region_ondemand_topic(region))

    def tick(self) -> int:
        """One look: the on-demand tasks, then the due sites, or back off after a
        failure; the tasks emitted. Never raises."""
        self._heartbeat.beat()
        if not self._backoff.ready():
            return 0
        try:
            emitted = self.drain_tasks()
            emitted += self.drain()
        except DatabaseUnavailable as exc:
            self._failed(self._database, exc)
        except KafkaError as exc:
            self._database.recovered()  # the claim itself worked
            self._failed(self._kafka, exc)
        except DatabaseError as exc:
            self.totals.failed_batches += 1
            self._metrics.error("sql")
            self._backoff.fail()
            logger.error("claim.failed error=%s", exc)
        else:
            self._backoff.succeed()
            self._database.recovered()
            self._kafka.recovered()
            return emitted
        return 0

    def _failed(self, dependency: DependencyState, exc: Exception) -> None:
        self.totals.failed_batches += 1
        self._metrics.error(dependency.name)  # "db" or "kafka"
        dependency.lost(exc)
        wait = self._backoff.fail()
        logger.debug("claim.retry in_s=%.1f", wait)

    def measure_backlog(self) -> None:
        """The periodic job that samples how many enabled sites are due and unclaimed."""
        try:
            rows = self._db.fetch(QUERIES["due_backlog"])
        except DatabaseError as exc:
            self._metrics.error("backlog")
            logger.debug("backlog.failed error=%s", exc)
            return
        self._metrics.due_backlog.set(rows[0][0] if rows else 0)
