"""Maintenance: partitions ahead, rollups, packing, retention. One scheduler at a time.

Each run, under a session advisory lock that the other schedulers' runs skip:

1. `check_results` partitions for today and the next days exist (an insert never fails:
   the default partition catches the rest, and creating a day moves its strays in).
2. Results of past days waiting in the default partition are kept like any other: a day
   never packed gets its partition (its rows move in, the hours the rollup mark passed
   are queued for a recount) and is then rolled up and packed in turn; the late results
   of an already packed day are folded into it. (Such rows come from writers while
   maintenance could not run, and from `webmon import-results`.)
3. The rollup mark moves to the last hour that closed `ROLLUP_SETTLE` ago, queueing the
   hours it passes; every queued hour (also those a writer queued because a result came
   after its hour was counted) is recounted in the transaction that takes it off the
   queue, and so is each closed day with a recounted hour.
4. Raw days older than `pack_after_days` (and already rolled up) are packed.
5. Days past `retention_days` and rollup months past `rollup_retention_days` are dropped,
   and on-demand tasks finished more than `task_retention_days` ago are deleted.

Every step is its own transaction and can be repeated: a run cut short by a stop or a
lost connection leaves nothing half done that the next run does not finish. `now` comes
from a clock the tests replace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from psycopg import sql

from scheduler.metrics import SchedulerMetrics
from scheduler.settings import SchedulerSettings
from shared import locks
from shared.db import Connection, Database, cancel
from shared.errors import DatabaseError
from shared.queries import load_queries

logger = logging.getLogger(__name__)

QUERIES = load_queries("scheduler")
# An hour is rolled up this long after it closed; results later than that are queued by
# the writer and recounted on the next run.
ROLLUP_SETTLE = timedelta(minutes=10)
HOUR = timedelta(hours=1)

# Partition names end in the first day of their range: YYYYMMDD for days, YYYYMM for months.
_DAY, _MONTH = "%Y%m%d", "%Y%m"


@dataclass
class MaintenanceReport:
    partitions_created: int = 0
    hours_rolled: int = 0
    days_rolled: int = 0
    days_packed: list[date] = field(default_factory=list)
    late_days_folded: list[date] = field(default_factory=list)
    late_days_adopted: list[date] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    finished: bool = False


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class Stopped(Exception):
    """A stop was requested between two steps."""


class Maintenance:
    def __init__(
        self,
        db: Database,
        settings: SchedulerSettings,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = utc_now,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._stop = stop or threading.Event()
        self._clock = clock
        self._metrics = metrics if metrics is not None else SchedulerMetrics()
        self._conn: Connection | None = None

    def cancel(self) -> None:
        """Interrupt the statement in flight (called on stop, from another thread)."""
        conn = self._conn
        if conn is not None:
            cancel(conn)  # if it cannot be sent, the run ends with its connection anyway

    def run(self) -> MaintenanceReport | None:
        """One pass. None when another scheduler holds the maintenance lock."""
        report = MaintenanceReport()
        with self._db.session() as conn:
            lock = {"lock_key": locks.MAINTENANCE}
            if not conn.execute(QUERIES["maintenance_lock"], lock).fetchone()[0]:  # type: ignore[index]
                return None
            self._conn = conn
            try:
                self._run(conn, self._clock(), report)
                report.finished = True
            except Stopped:
                logger.info("maintenance.interrupted")
            finally:
                self._conn = None
                if not conn.broken:
                    conn.execute(QUERIES["maintenance_unlock"], lock)
        return report

    def _step(self) -> None:
        if self._stop.is_set():
            raise Stopped

    def _run(self, conn: Connection, now: datetime, report: MaintenanceReport) -> None:
        s = self._settings
        today = utc_day(now)
        report.partitions_created = conn.execute(
            QUERIES["create_partitions"], {"now": now, "days": s.partitions_ahead_days}
        ).fetchone()[0]  # type: ignore[index]
        if report.partitions_created:
            logger.info("maintenance.partitions_created count=%d", report.partitions_created)

        pack_before = today - timedelta(days=s.pack_after_days)
        packed_days = self._days(conn, "check_results_packed")
        late_days = sorted(
            day
            for (day,) in conn.execute(QUERIES["late_days"], {"before": day_start(today)})
            if day >= today - timedelta(days=s.retention_days)  # (older ones are dropped)
        )
        self._adopt_late(conn, late_days, packed_days, report)
        raw_days = self._days(conn, "check_results")
        self._fold_late(conn, late_days, raw_days, packed_days, report)
        self._roll_up(conn, now, report)
        self._pack(conn, pack_before, raw_days, report)
        self._drop_expired(conn, today, report)

    # -- steps ----------------------------------------------------------------------------

    def _adopt_late(
        self,
        conn: Connection,
        late_days: list[date],
        packed_days: dict[date, str],
        report: MaintenanceReport,
    ) -> None:
        """Past days never packed whose rows wait in the default partition get their own."""
        for day in late_days:
            if day in packed_days:
                continue
            self._step()
            with conn.transaction():
                conn.execute(QUERIES["adopt_day"], {"day": day})
                queued = conn.execute(QUERIES["queue_day_hours"], {"day": day}).rowcount
            report.late_days_adopted.append(day)
            logger.info("maintenance.late_day_adopted day=%s hours_queued=%d", day, queued)

    def _fold_late(
        self,
        conn: Connection,
        late_days: list[date],
        raw_days: dict[date, str],
        packed_days: dict[date, str],
        report: MaintenanceReport,
    ) -> None:
        """Results of packed days that arrived late wait in the default partition."""
        for day in late_days:
            if day in packed_days and day not in raw_days:
                self._step()
                conn.execute(QUERIES["pack_day"], {"day": day})
                report.late_days_folded.append(day)
                logger.info("maintenance.late_results_folded day=%s", day)

    def _roll_up(self, conn: Connection, now: datetime, report: MaintenanceReport) -> None:
        new_mark = hour_floor(now - ROLLUP_SETTLE)
        with conn.transaction():
            conn.execute(QUERIES["rollup_lock"], {"lock_key": locks.ROLLUP})
            old_mark = conn.execute(QUERIES["rollup_state"]).fetchone()[0]  # type: ignore[index]
            first_run = old_mark is None
            if old_mark is None:  # the first run: from the first result on
                first = conn.execute(QUERIES["first_result"]).fetchone()[0]  # type: ignore[index]
                old_mark = hour_floor(first) if first is not None else new_mark
            if new_mark > old_mark or first_run:
                conn.execute(QUERIES["count_up_to"], {"old": old_mark, "new": new_mark})
        mark = max(old_mark, new_mark)
        # Each hour leaves the queue in the transaction that recounts it.
        for (hour,) in conn.execute(QUERIES["queued_hours"], {"mark": mark}).fetchall():
            self._step()
            with conn.transaction():
                conn.execute(QUERIES["take_hour"], {"hour": hour})
                conn.execute(QUERIES["rollup_hour"], {"hour": hour})
            report.hours_rolled += 1
        closed = {"before": utc_day(mark)}
        for (day,) in conn.execute(QUERIES["queued_days"], closed).fetchall():
            self._step()
            with conn.transaction():
                conn.execute(QUERIES["take_day"], {"day": day})
                conn.execute(QUERIES["rollup_day"], {"day": day})
            report.days_rolled += 1
        conn.execute(QUERIES["rolled_up"])
        if report.hours_rolled or report.days_rolled:
            logger.info(
                "maintenance.rolled_up hours=%d days=%d mark=%s",
                report.hours_rolled,
                report.days_rolled,
                mark.isoformat(),
            )

    def _pack(
        self,
        conn: Connection,
        pack_before: date,
        raw_days: dict[date, str],
        report: MaintenanceReport,
    ) -> None:
        """Days older than `pack_before` whose rollups are complete."""
        state = conn.execute(QUERIES["rollup_state"]).fetchone()
        days_rolled_to = state[2] if state else None
        for day in sorted(raw_days):
            if day >= pack_before or days_rolled_to is None or day >= days_rolled_to:
                continue
            if conn.execute(QUERIES["day_pending"], {"day": day}).fetchone()[0]:  # type: ignore[index]
                continue
            self._step()
            packed = conn.execute(QUERIES["pack_day"], {"day": day}).fetchone()[0]  # type: ignore[index]
            report.days_packed.append(day)
            logger.info("maintenance.day_packed day=%s checks=%s", day, packed)

    def _drop_expired(self, conn: Connection, today: date, report: MaintenanceReport) -> None:
        s = self._settings
        keep_from = today - timedelta(days=s.retention_days)
        for parent in ("check_results", "check_results_packed"):
            for day, name in sorted(self._days(conn, parent).items()):
                if day < keep_from:
                    self._drop(conn, name, report)
        conn.execute(QUERIES["delete_stray_results"], {"before": day_start(keep_from)})
        rollups_from = today - timedelta(days=s.rollup_retention_days)
        for parent in ("check_rollups_hourly", "check_rollups_daily"):
            for month, name in sorted(self._months(conn, parent).items()):
                month_end = (month + timedelta(days=32)).replace(day=1)
                if month_end <= rollups_from:
                    self._drop(conn, name, report)
        conn.execute(QUERIES["delete_old_events"], {"before": day_start(rollups_from)})
        tasks_before = self._clock() - timedelta(days=s.task_retention_days)
        deleted = conn.execute(QUERIES["delete_old_tasks"], {"before": tasks_before}).rowcount
        if deleted:
            logger.info("maintenance.tasks_deleted count=%d", deleted)

    def _drop(self, conn: Connection, name: str, report: MaintenanceReport) -> None:
        self._step()
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        report.dropped.append(name)
        logger.info("maintenance.partition_dropped name=%s", name)

    # -- partitions by name ---------------------------------------------------------------

    def _days(self, conn: Connection, parent: str) -> dict[date, str]:
        return self._partitions(conn, parent, _DAY)

    def _months(self, conn: Connection, parent: str) -> dict[date, str]:
        return self._partitions(conn, parent, _MONTH)

    def _partitions(self, conn: Connection, parent: str, stamp: str) -> dict[date, str]:
        """webmon's own partitions of `parent` by the first day of their range."""
        found = {}
        digits = len(datetime(2000, 1, 1).strftime(stamp))
        for (name,) in conn.execute(QUERIES["partitions"], {"parent": parent}).fetchall():
            suffix = name.removeprefix(parent + "_")
            if suffix != name and len(suffix) == digits and suffix.isdigit():
                found[datetime.strptime(suffix, stamp).date()] = name
        return found

    def job(self) -> None:
        """The periodic job: one run, never raises. A failure counts in
        `webmon_scheduler_errors_total{kind="maintenance"}`; a stop's cancel does not."""
        try:
            self.run()
        except DatabaseError as exc:
            if self._stop.is_set():
                logger.info("maintenance.interrupted")
            else:
                self._metrics.error("maintenance")
                logger.warning("maintenance.failed error=%s", exc)
