"""The writer's PostgreSQL work: one batch of results in one transaction.

Incidents and their notifications are written in the same transaction
(`checker.writer.incidents`): only for the sites that are down or alerting, or have a
late result; the rest cost one more column of the status upsert. The sites whose state is
their regions' quorum (several regions, or a region in an outage) get it from SQL
(`checker.writer.quorum`); the usual batch has none.

Every statement is a named block of `queries.sql`, complete as it runs but for the COPY's
column list, which is `CheckResult`'s stored fields (`shared.messages.RESULT_COLUMNS`),
as are the COPY's types and each row (`copy_row`). The usual batch
(no result of it stored before, every site still registered) is staged with COPY, then
inserted into `check_results` and folded into `site_status` by two statements sent in one
pipeline, with no savepoint: few round trips, during each of which the lane's thread must
win the GIL back from the consumer thread. A batch that meets a stored result (a
redelivery) or a deleted site is rolled back and written again the careful way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import sql

from checker.writer.flips import Event, Recount, several_per_site, site_flips
from checker.writer.incidents import sites_to_walk, update_incidents
from checker.writer.outage_recount import recount_events
from checker.writer.quorum import (
    earliest_slot,
    lock_params,
    read_states,
    several_regions,
    site_list,
    split,
)
from checker.writer.region_health import DEFAULT_RULES, RegionRules, watch_regions
from shared import locks
from shared.db import Connection, Database, translated_errors
from shared.errors import FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, DatabaseError
from shared.messages import RESULT_COLUMN_TYPES, RESULT_COLUMNS, CheckResult, copy_row
from shared.queries import load_queries

QUERIES = load_queries("checker.writer")
# The largest threshold a site may have (sites_cert_expiry_days): a certificate further
# from its expiry warns no site.
MAX_CERT_WARNING = timedelta(days=365)
# The staging COPY of a result's stored fields, and their types (binary COPY), in order.
COPY_STAGING = sql.SQL(QUERIES["copy_staging"]).format(
    columns=sql.SQL(", ").join(map(sql.Identifier, RESULT_COLUMNS))
)
COPY_TYPES = list(RESULT_COLUMN_TYPES)
# A batch that fails with these is written again with ON CONFLICT and without the sites
# deleted meanwhile.
_RETRY_CAREFULLY = frozenset({UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION})


def write_results(
    db: Database,
    rows: Sequence[CheckResult],
    regions: RegionRules = DEFAULT_RULES,
    partitions: Iterable[tuple[str, int]] = (),
) -> int:
    """One transaction: stage, insert new checks, update site_status and site_events, watch
    the regions' health, queue late hours for a rollup recount. Returns the rows inserted.
    `partitions`: the (topic, partition)s the rows came from, which the quorum's path locks
    (`lock_quorum_partitions`); none, for a caller that writes alone: one lock for all."""
    locking = lock_params(partitions)
    try:
        with db.transaction() as conn:
            return _write(conn, rows, regions, locking, careful=False)
    except DatabaseError as exc:
        if exc.sqlstate not in _RETRY_CAREFULLY:
            raise
    with db.transaction() as conn:
        return _write(conn, rows, regions, locking, careful=True)


def _write(
    conn: Connection,
    rows: Sequence[CheckResult],
    regions: RegionRules,
    locking: dict[str, Any],
    *,
    careful: bool,
) -> int:
    several = several_regions(rows)
    # BEGIN, the watermark, the staging table and the regions in an outage: one round trip.
    # A batch with sites of several regions takes its partitions' locks first, before any
    # other lock of its transaction: two writers of one partition take turns from the start.
    with conn.pipeline():
        watermark = conn.execute(QUERIES["rollup_watermark"], {"lock_key": locks.ROLLUP})
        if several:
            conn.execute(QUERIES["lock_quorum_partitions"], locking)
        conn.execute(QUERIES["create_staging"])
        outages = conn.execute(QUERIES["outage_regions"], {"earliest": earliest_slot(rows)})
    state = watermark.fetchone()
    counted_to = state[1] if state is not None else None
    out = outages.fetchone()
    # A site's state is its check's, but for the quorum's sites (several regions, or a
    # region in an outage): theirs comes from SQL (`checker.writer.quorum`).
    plain, quorum_rows = split(rows, out[0] if out is not None else (), several)
    # The quorum's sites, as one text; NULL where they are the whole batch.
    quorum = None if not quorum_rows or not plain else site_list(quorum_rows)
    # The status upsert returns the state each replaced row had. With one result per site
    # (the usual batch) its `up` is enough; loading the slot too costs ~10 % of the
    # transaction (measured), so it is asked for only when a site has several results.
    with_slots = several_per_site(plain)
    status: dict[str, Any] = {"with_slots": with_slots, "quorum_sites": quorum}
    states_params = {"site_ids": quorum}
    replaced: list[tuple[Any, ...]] = []
    found: Any = None
    with conn.cursor() as cur:
        with cur.copy(COPY_STAGING) as copy:
            copy.set_types(COPY_TYPES)
            for row in rows:
                copy.write_row(copy_row(row))
        if careful:
            cur.execute(QUERIES["drop_missed_rows_checked_since"])
            inserted = cur.execute(QUERIES["insert_results"]).rowcount
            if plain:
                replaced = _upsert_status(conn, status)
            if quorum_rows:
                with conn.pipeline():
                    if not several:  # (a region in an outage)
                        conn.execute(QUERIES["lock_quorum_partitions"], locking)
                    found = conn.execute(QUERIES["quorum_states"], states_params)
        else:
            # Without ON CONFLICT the insert is ~2x faster; a stored check (a redelivery)
            # makes it fail instead, and the batch is written again carefully.
            upsert = None
            with conn.pipeline():
                cur.execute(QUERIES["insert_new_results"])
                if plain:
                    upsert = conn.execute(QUERIES["upsert_status"], status)
                if quorum_rows:
                    if not several:
                        conn.execute(QUERIES["lock_quorum_partitions"], locking)
                    found = conn.execute(QUERIES["quorum_states"], states_params)
            inserted = len(rows)
            if upsert is not None:
                replaced = upsert.fetchall()
        events, recount = site_flips(plain, replaced)
        walks = sites_to_walk(plain, replaced, several=with_slots)
        if found is not None:  # the quorum's sites: the slots whose state the batch changed
            states, quorum_replaced = read_states(found.fetchall())
            more_events, more_recount = site_flips(states, quorum_replaced)
            events += more_events
            recount.update(more_recount)
            walks.update(sites_to_walk(states, quorum_replaced, several=True))
        hours = [] if counted_to is None else _late_hours(rows, counted_to)
        if events or recount or hours:  # (an empty pipeline would still cost a round trip)
            with conn.pipeline():
                _write_flips(cur, events, recount)
                if hours:
                    cur.execute(QUERIES["queue_late_hours"], {"hours": hours})
        watch_regions(cur, conn, regions)  # outages first: the walk leaves their checks out
        if walks:
            update_incidents(cur, conn, walks, {row.site_id for row in quorum_rows})
        warn = certificates_near_expiry(rows)
        if warn:
            cur.execute(QUERIES["queue_certificate_warnings"], warn)
    return inserted


def certificates_near_expiry(rows: Sequence[CheckResult]) -> dict[str, list[Any]] | None:
    """The batch's certificates that may be within a site's warning threshold (at most
    `MAX_CERT_WARNING`), the latest check's of each site; None when there is none, so
    that a batch without one costs no statement."""
    latest: dict[int, CheckResult] = {}
    for row in rows:
        expires = row.tls_expires_at
        if expires is None or row.site_id == 0:
            continue
        if expires - row.checked_at > MAX_CERT_WARNING:
            continue
        seen = latest.get(row.site_id)
        if seen is None or seen.checked_at < row.checked_at:
            latest[row.site_id] = row
    if not latest:
        return None
    found = list(latest.values())
    return {
        "site_ids": [r.site_id for r in found],
        "expires_at": [r.tls_expires_at for r in found],
        "checked_at": [r.checked_at for r in found],
    }


def _upsert_status(conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The careful path's status upsert. Sites deleted meanwhile leave staging only after
    the foreign key refused them: the check against `sites` costs a pass over it."""
    try:
        with translated_errors(), conn.transaction():
            return conn.execute(QUERIES["upsert_status"], params).fetchall()
    except DatabaseError as exc:
        if exc.sqlstate != FOREIGN_KEY_VIOLATION:
            raise
    conn.execute(QUERIES["drop_unknown_sites"])
    return conn.execute(QUERIES["upsert_status"], params).fetchall()


def _write_flips(cur: Any, events: list[Event], recount: Recount) -> None:
    if events:
        cols = [list(col) for col in zip(*events, strict=True)]
        names = ("site_ids", "slots", "checked", "from_up", "to_up", "status", "error", "detail")
        cur.execute(QUERIES["insert_events"], dict(zip(names, cols, strict=True)))
    if recount:
        recount_events(cur, recount)


def _late_hours(rows: Sequence[CheckResult], counted_to: datetime) -> list[datetime]:
    """Hours already counted that the batch has results for: they are counted again."""
    hours = {
        row.scheduled_at.replace(minute=0, second=0, microsecond=0)
        for row in rows
        if row.scheduled_at < counted_to
    }
    return sorted(hours)
