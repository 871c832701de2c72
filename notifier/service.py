"""The notifier's loop: claim due notifications, send each to its channel, record outcomes.

Claims are leases taken with FOR UPDATE SKIP LOCKED (`queries.sql`), so any number of
notifiers share the outbox. A channel has at most `notifier_channel_concurrency` sends in
flight here; once it has, its rows are left for later claims and other channels go on, and
a failed send waits out its backoff in the outbox, not in this process. Outcomes are
written in batches: a row is marked sent only after its channel accepted it, so a crash in
between sends it again (at least once, with the same idempotency key). On stop, sends in
flight get `notifier_grace_s` to finish; what is left is released.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from notifier.backoff import retry_delay
from notifier.channels import describe_error, sender_for
from notifier.channels.base import SendContext
from notifier.metrics import NotifierMetrics
from notifier.payload import Channel, IncidentFacts, Outgoing
from notifier.region_events import RegionOutageFacts
from notifier.secrets import opened
from notifier.settings import NotifierSettings
from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from shared.health import Backoff, DependencyState
from shared.policy_http import policy_connector
from shared.queries import load_queries
from shared.version import version

logger = logging.getLogger("notifier")
QUERIES = load_queries("notifier")
_OUTBOX_SAMPLE_S = 10.0


@dataclass
class NotifierTotals:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    held_released: int = 0


def outgoing(row: tuple[Any, ...]) -> Outgoing:
    (nid, key, kind, event_at, attempts, created_at, ch_id, ch_name, ch_kind, ch_config,
     ch_secret, ch_sealed, site_id, site_url, inc_id, opened_at, opening_at, resolved_at,
     resolving_at, cause, status_code, error, detail, cert_days, outage_id, region,
     outage_start, outage_end, outage_cause, outage_detail, canary_url,
     regions) = row  # fmt: skip
    incident = None
    if inc_id is not None:
        incident = IncidentFacts(
            id=inc_id, opened_at=opened_at, opening_check_at=opening_at,
            resolved_at=resolved_at, resolving_check_at=resolving_at, cause=cause,
            status_code=status_code, error=error, error_detail=detail, regions=regions,
        )  # fmt: skip
    region_outage = None
    if outage_id is not None:
        region_outage = RegionOutageFacts(
            id=outage_id, region=region, started_at=outage_start, ended_at=outage_end,
            cause=outage_cause, detail=outage_detail, canary_url=canary_url,
        )  # fmt: skip
    return Outgoing(
        id=nid, key=key, kind=kind, event_at=event_at, attempts=attempts,
        created_at=created_at,
        channel=Channel(ch_id, ch_name, ch_kind, ch_config, ch_secret, ch_sealed),
        site_id=site_id, site_url=site_url, incident=incident,
        cert_days=cert_days if kind == "certificate" else None, region_outage=region_outage,
    )  # fmt: skip


def open_session(settings: NotifierSettings) -> aiohttp.ClientSession:
    """An HTTP client whose every connection obeys the target policy."""
    connector = policy_connector(
        settings.target_policy(), limit=settings.notifier_concurrency, limit_per_host=0
    )
    return aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    )


class Notifier:
    def __init__(
        self,
        settings: NotifierSettings,
        db: AsyncDatabase,
        metrics: NotifierMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._metrics = metrics if metrics is not None else NotifierMetrics()
        self._me = f"{socket.gethostname()}:{os.getpid()}"
        self.totals = NotifierTotals()
        self._database = DependencyState("db", logger)
        self._heartbeat = self._metrics.health.component("notifier")
        self._heartbeat.watch(self._database)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._per_channel: Counter[int] = Counter()
        self._sent: list[int] = []
        self._retries: list[tuple[int, float, str]] = []
        self._failures: list[tuple[int, str]] = []
        self._wake = asyncio.Event()
        self._ctx: SendContext | None = None
        self._box = settings.secret_box()  # opens the channels' sealed secrets

    async def run(self, stop: asyncio.Event) -> NotifierTotals:
        s = self._settings
        async with open_session(s) as http:
            self._ctx = SendContext(
                http=http, policy=s.target_policy(), timeout_s=s.notifier_request_timeout_s,
                user_agent=f"webmon-notifier/{version()}",
            )  # fmt: skip
            sweeper = asyncio.create_task(self._sweep_loop(stop), name="sweep")
            try:
                await self._claim_loop(stop)
            finally:
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)
                await self._drain()
        return self.totals

    # -- claiming -------------------------------------------------------------------------

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        s = self._settings
        backoff = Backoff()
        while not stop.is_set():
            self._heartbeat.beat()
            claimed = 0
            try:
                await self._write_outcomes()
                room = s.notifier_concurrency - len(self._tasks)
                if room > 0:
                    claimed = await self._claim(room)
                self._database.recovered()
                backoff.succeed()
            except DatabaseError as exc:
                self._metrics.db_errors.inc()
                self._database.lost(exc)
                await _wait(stop, backoff.fail())
                continue
            if claimed and len(self._tasks) < s.notifier_concurrency:
                continue  # more may be due
            self._wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=s.notifier_poll_s, return_when="FIRST_COMPLETED")
            for w in waits:
                w.cancel()

    async def _claim(self, room: int) -> int:
        s = self._settings
        limit = s.notifier_channel_concurrency
        busy = [ch for ch, n in self._per_channel.items() if n >= limit]
        rows = await self._db.fetch(
            QUERIES["claim"],
            {
                "busy": busy, "scan": room, "per_channel": limit, "me": self._me,
                "lease_s": s.notifier_lease_s,
            },
        )  # fmt: skip
        for row in rows:
            n = outgoing(row)
            self._per_channel[n.channel.id] += 1
            self._tasks[n.id] = asyncio.create_task(self._send(n), name=f"send-{n.id}")
        self.totals.claimed += len(rows)
        self._metrics.in_flight.set(len(self._tasks))
        return len(rows)

    # -- sending --------------------------------------------------------------------------

    async def _send(self, n: Outgoing) -> None:
        assert self._ctx is not None
        s = self._settings
        kind = n.channel.kind
        started = time.perf_counter()
        try:
            await sender_for(kind)(replace(n, channel=opened(n.channel, self._box)), self._ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure of a send is the channel's, not ours
            error = describe_error(exc)
            if error.permanent or n.attempts >= s.notifier_max_attempts:
                self._failures.append((n.id, str(error)))
                self._metrics.count(kind, "failed")
                self.totals.failed += 1
                logger.warning(
                    "notify.failed notification_id=%d channel=%s site_id=%s attempts=%d error=%s",
                    n.id, n.channel.name, n.site_id, n.attempts, error,
                )  # fmt: skip
            else:
                delay = retry_delay(n.attempts, s.notifier_backoff_base_s, s.notifier_backoff_cap_s)
                if error.retry_after_s is not None:  # the receiver's wish, within the cap
                    delay = max(delay, min(error.retry_after_s, s.notifier_backoff_cap_s))
                self._retries.append((n.id, delay, str(error)))
                self._metrics.count(kind, "retried")
                self.totals.retried += 1
                logger.info(
                    "notify.retry notification_id=%d channel=%s site_id=%s attempts=%d "
                    "in_s=%.1f error=%s",
                    n.id, n.channel.name, n.site_id, n.attempts, delay, error,
                )  # fmt: skip
        else:
            self._sent.append(n.id)
            self._metrics.count(kind, "sent")
            self.totals.sent += 1
            logger.info(
                "notify.sent notification_id=%d channel=%s site_id=%s event=%s key=%s attempts=%d",
                n.id, n.channel.name, n.site_id, n.kind, n.key, n.attempts,
            )  # fmt: skip
        finally:
            self._metrics.send_seconds.labels(kind).observe(time.perf_counter() - started)
            self._tasks.pop(n.id, None)
            self._per_channel[n.channel.id] -= 1
            if self._per_channel[n.channel.id] <= 0:
                del self._per_channel[n.channel.id]
            self._metrics.in_flight.set(len(self._tasks))
            self._wake.set()

    async def _write_outcomes(self) -> None:
        """The outcomes gathered since the last call, in one round trip each kind; kept for
        the next call if PostgreSQL is away."""
        sent, retries, failures = self._sent, self._retries, self._failures
        if not (sent or retries or failures):
            return
        # Sends that finish meanwhile add to fresh lists.
        self._sent, self._retries, self._failures = [], [], []
        try:
            delivered = await self._record(sent, retries, failures)
        except BaseException:
            self._sent[:0], self._retries[:0], self._failures[:0] = sent, retries, failures
            raise
        now = time.time()
        for _, created_at in delivered:
            self._metrics.delivery_seconds.observe(max(0.0, now - created_at.timestamp()))

    async def _record(
        self,
        sent: list[int],
        retries: list[tuple[int, float, str]],
        failures: list[tuple[int, str]],
    ) -> list[tuple[Any, ...]]:
        delivered: list[tuple[Any, ...]] = []
        async with self._db.connection() as conn, conn.transaction():
            if sent:
                cur = await conn.execute(QUERIES["mark_sent"], {"ids": sent})
                delivered = await cur.fetchall()
            if retries:
                await conn.execute(
                    QUERIES["retry_later"],
                    {
                        "ids": [r[0] for r in retries],
                        "delays": [r[1] for r in retries],
                        "errors": [r[2] for r in retries],
                        "me": self._me,
                    },
                )
            if failures:
                await conn.execute(
                    QUERIES["mark_failed"],
                    {
                        "ids": [f[0] for f in failures],
                        "errors": [f[1] for f in failures],
                        "me": self._me,
                    },
                )
        return delivered

    # -- stopping -------------------------------------------------------------------------

    async def _drain(self) -> None:
        grace = self._settings.notifier_grace_s
        tasks = list(self._tasks.values())
        held = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        unfinished = [nid for nid, t in self._tasks.items() if not t.done()]
        for nid in unfinished:
            self._tasks[nid].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._write_outcomes()
            if unfinished:
                async with self._db.connection() as conn:
                    await conn.execute(QUERIES["release"], {"ids": unfinished, "me": self._me})
        except DatabaseError as exc:
            # The leases expire on their own; whatever was sent is sent again then.
            logger.warning("notifier.release_failed held=%d error=%s", len(held), exc)
            return
        self.totals.released += len(unfinished)

    # -- sweeping -------------------------------------------------------------------------

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        last_sample = 0.0
        while not stop.is_set():
            try:
                released = await self._db.fetch(QUERIES["release_held"])
                for nid, site_id in released:
                    logger.info("notify.window_ended notification_id=%d site_id=%s", nid, site_id)
                self.totals.held_released += len(released)
                async with self._db.connection() as conn:
                    await conn.execute(QUERIES["queue_reminders"])
                if released:
                    self._wake.set()
                if time.monotonic() - last_sample >= _OUTBOX_SAMPLE_S:
                    last_sample = time.monotonic()
                    rows = await self._db.fetch(QUERIES["outbox_counts"])
                    counts: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
                    for state in ("pending", "failed"):
                        self._metrics.outbox.labels(state).set(counts.get(state, 0))
            except DatabaseError as exc:
                self._metrics.db_errors.inc()
                logger.debug("notifier.sweep_failed error=%s", exc)
            await _wait(stop, self._settings.notifier_sweep_s)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
