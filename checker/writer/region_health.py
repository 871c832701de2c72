"""Region health, in the writer's transaction, before the incident walk (docs/regions.md).

A region is unhealthy while an outage of it lasts (`region_outages`); its checks are stored
as usual but count towards no site's quorum (`webmon_region_out`, which the incident walk
asks). This module opens and ends those outages from what each batch shows:

  - **canary**: `canary_failures` down checks in a row of a region's canary
    (`region_canaries`) from that region open an outage from the first of them, unless one
    is open (a flaky canary's single failure opens none); an up one ends a canary outage at
    its slot. A run of down checks followed by an up one already stored (late results)
    opens an outage that ended at that up check;
  - **most_sites**: of a region's checks in the batch that can be compared with another
    region's (its up checks, and its down checks of a slot another region has a check of:
    sites checked from several regions), when those down while another region saw the
    slot up span at least `min_sites` sites and make at least `down_ratio` of them, the
    region is unhealthy from the earliest such slot; a later batch in which at least
    `down_ratio` of them are fine ends it. Only down checks are looked up, and up ones
    counted only when the down ones call for it: a healthy batch costs little. A
    single-region deployment has only its canary.

Opening is idempotent (the unique index `region_outages_open`, ON CONFLICT DO NOTHING; and
a writer that finds another opening or ending one of the region at that moment, by an
advisory lock it only tries, leaves it to that one rather than wait for it while holding its
own sites): two writers that see one outage at once open it once, and only the one that
opened (or ended) it queues its notification and counts again the region's sites from its
start (or end): their flips, status and incidents, now without (or with) the region's checks
(`outage_recount`). Before it reads them it takes the status rows of the region's sites,
which a writer holds while it writes one (in site order, as the status upsert takes them): a
batch under way that missed the change is committed first, and one that starts later sees
it.

The batch is in `results_staging` and already in `check_results`, so the other regions'
checks of a slot are looked up there by key, this batch's among them. `decide` holds the
rules and no I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, Final

from checker.settings import (
    DEFAULT_REGION_CANARY_FAILURES,
    DEFAULT_REGION_DOWN_RATIO,
    DEFAULT_REGION_MIN_SITES,
)
from checker.writer.outage_recount import recount_region
from shared import locks
from shared.causes import why_down
from shared.queries import load_queries

logger = logging.getLogger(__name__)
QUERIES = load_queries("checker.writer")

CANARY: Final = "canary"
MOST_SITES: Final = "most_sites"


@dataclass(frozen=True, slots=True)
class RegionRules:
    """When most of a region's sites failing makes it unhealthy (WEBMON_REGION_MIN_SITES,
    WEBMON_REGION_DOWN_RATIO), and when its canary does (WEBMON_REGION_CANARY_FAILURES)."""

    min_sites: int = DEFAULT_REGION_MIN_SITES
    down_ratio: float = DEFAULT_REGION_DOWN_RATIO
    canary_failures: int = DEFAULT_REGION_CANARY_FAILURES


DEFAULT_RULES = RegionRules()


@dataclass(frozen=True, slots=True)
class CanaryCheck:
    """A check of a region's canary from that region, in the batch. A down one's run: the
    region's down checks of the canary around it with no up check between, as stored (up to
    the threshold), and the first of them."""

    region: str
    slot: datetime
    up: bool
    detail: str  # why it was down (shared.causes), for the operator
    next_up: datetime | None = None  # a down one's next up check from the region, stored
    failures: int = 1  # a down one's run, counted up to `RegionRules.canary_failures`
    first_failure: datetime | None = None  # its first slot (None: this one's)


@dataclass(frozen=True, slots=True)
class Tally:
    """A region's checks in the batch that another region also checked (`compared`), and of
    those, the ones down while another region saw the slot up (`confirmed`)."""

    region: str
    compared: int
    compared_sites: int
    confirmed: int
    confirmed_sites: int
    first_confirmed: datetime | None
    first_fine: datetime | None  # the earliest compared check that is not confirmed


@dataclass(frozen=True, slots=True)
class Outage:
    """An open outage, as stored."""

    id: int
    region: str
    started_at: datetime
    cause: str


@dataclass(frozen=True, slots=True)
class Opening:
    region: str
    started_at: datetime
    cause: str
    detail: str
    ended_at: datetime | None = None  # a late down canary check, with its up check stored


@dataclass(frozen=True, slots=True)
class Ending:
    outage_id: int
    region: str
    ended_at: datetime


def decide(
    canaries: list[CanaryCheck],
    tallies: list[Tally],
    open_outages: dict[str, Outage],
    rules: RegionRules = DEFAULT_RULES,
) -> tuple[list[Opening], list[Ending]]:
    """The outages a batch opens and ends. Canary checks first, in slot order per region;
    then the tallies, for regions that no outage covers after them."""
    openings: list[Opening] = []
    endings: list[Ending] = []
    state: dict[str, Outage | Opening] = dict(open_outages)
    ordered = sorted(canaries, key=lambda c: (c.region, c.slot))
    for region, checks in groupby(ordered, key=lambda c: c.region):
        covered_until: datetime | None = None  # an opening of this batch that ended already
        for check in checks:
            current = state.get(region)
            if not check.up:
                if current is not None:
                    continue
                if covered_until is not None and check.slot < covered_until:
                    continue
                if check.failures < rules.canary_failures:  # not yet: maybe a flake
                    continue
                start = check.first_failure or check.slot
                opening = Opening(region, start, CANARY, check.detail, check.next_up)
                openings.append(opening)
                if check.next_up is None:
                    state[region] = opening
                else:
                    covered_until = check.next_up
            elif (
                isinstance(current, Outage)
                and current.cause == CANARY
                and check.slot > current.started_at
            ):
                endings.append(Ending(current.id, region, check.slot))
                del state[region]
    for t in tallies:
        current = state.get(t.region)
        if current is None:
            if (
                t.first_confirmed is not None
                and t.confirmed_sites >= rules.min_sites
                and t.confirmed >= rules.down_ratio * t.compared
            ):
                detail = (
                    f"{t.confirmed} of {t.compared} checks down while another region saw the "
                    "site up"
                )
                opening = Opening(t.region, t.first_confirmed, MOST_SITES, detail)
                openings.append(opening)
                state[t.region] = opening
        elif isinstance(current, Outage) and current.cause == MOST_SITES:
            fine = t.compared - t.confirmed
            if (
                t.first_fine is not None
                and t.first_fine > current.started_at
                and t.compared_sites >= rules.min_sites
                and fine >= rules.down_ratio * t.compared
            ):
                endings.append(Ending(current.id, t.region, t.first_fine))
                del state[t.region]
    return openings, endings


def watch_regions(cur: Any, conn: Any, rules: RegionRules = DEFAULT_RULES) -> None:
    """Open and end region outages from the batch in `results_staging`; queue their
    notifications and walk again the sites an opening spoils. Three reads in one round
    trip; a batch with no canary check and no region worth a look writes nothing."""
    with conn.pipeline():
        canary_cur = conn.cursor()
        canary_cur.execute(
            QUERIES["region_canary_checks"], {"canary_failures": rules.canary_failures}
        )
        tally_cur = conn.cursor()
        tally_cur.execute(QUERIES["region_tallies"], {"min_sites": rules.min_sites})
        open_cur = conn.cursor()
        open_cur.execute(QUERIES["region_open_outages"])
    canaries = [
        CanaryCheck(r[0], r[1], r[2], why_down(r[3], r[4], r[5]), r[6], r[8] or 1, r[7])
        for r in canary_cur.fetchall()
    ]
    tallies = [Tally(*r) for r in tally_cur.fetchall()]
    open_outages = {r[1]: Outage(*r) for r in open_cur.fetchall()}
    if not canaries and not tallies:
        return
    openings, endings = decide(canaries, tallies, open_outages, rules)
    for ending in endings:
        _end(cur, conn, ending)
    for opening in openings:
        _open(cur, conn, opening)


def _open(cur: Any, conn: Any, o: Opening) -> None:
    row = cur.execute(
        QUERIES["open_region_outage"],
        {
            "region": o.region, "started_at": o.started_at, "ended_at": o.ended_at,
            "cause": o.cause, "detail": o.detail, "lock_key": locks.REGION_OUTAGE,
        },
    ).fetchone()  # fmt: skip
    if row is None:  # open already (another writer), or this slot is covered
        return
    outage_id = row[0]
    _queue(cur, outage_id, "region_down", o.started_at)
    logger.warning(
        "region.unhealthy region=%s outage_id=%d since=%s cause=%s detail=%s",
        o.region, outage_id, o.started_at.isoformat(), o.cause, o.detail,
    )  # fmt: skip
    if o.ended_at is not None:
        _queue(cur, outage_id, "region_up", o.ended_at)
        _log_recovered(o, outage_id, o.ended_at)
    _recount(cur, conn, o.region, o.started_at)


def _end(cur: Any, conn: Any, e: Ending) -> None:
    row = cur.execute(
        QUERIES["end_region_outage"],
        {"outage_id": e.outage_id, "ended_at": e.ended_at, "lock_key": locks.REGION_OUTAGE},
    ).fetchone()
    if row is None:  # another writer ended it, or is busy with the region
        return
    _queue(cur, e.outage_id, "region_up", e.ended_at)
    _log_recovered(e, e.outage_id, e.ended_at)
    _recount(cur, conn, e.region, e.ended_at)


def _recount(cur: Any, conn: Any, region: str, since: datetime) -> None:
    """The region's sites counted again from `since`, where its checks stopped or started
    counting again (`outage_recount`). Writers walking these sites now (other lanes) commit
    first: what they leave is read below, and what they write next sees the outage's
    change."""
    cur.execute(QUERIES["lock_region_sites"], {"region": region})
    recount_region(cur, conn, region, since)


def _queue(cur: Any, outage_id: int, kind: str, at: datetime) -> None:
    cur.execute(QUERIES["queue_region_event"], {"outage_id": outage_id, "kind": kind, "at": at})


def _log_recovered(event: Opening | Ending, outage_id: int, at: datetime) -> None:
    logger.warning(
        "region.recovered region=%s outage_id=%d at=%s", event.region, outage_id, at.isoformat()
    )
