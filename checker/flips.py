"""Which results of a batch flip their site between up and down.

A flip is defined on each site's results in slot order: a result whose `up` differs from
the result of the slot before it (or the site's first result ever). The writer holds the
batch's `site_status` rows locked, so for a site whose stored latest slot is older than
every slot in the batch, the flips follow from the batch alone, walked in slot order from
the stored state. Anything else (a late or redelivered result, a site with no status yet)
is recounted in SQL from `check_results` around the batch's slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from shared.messages import ResultRow

# (site_id, scheduled_at, checked_at, from_up, to_up, status_code, error, error_detail)
Event = tuple[int, datetime, datetime, bool | None, bool, int | None, str | None, str | None]
# site_id -> (earliest, latest) slot of the batch
Recount = dict[int, tuple[datetime, datetime]]


def site_flips(
    rows: Sequence[ResultRow], stored: Iterable[tuple[int, datetime, bool]]
) -> tuple[list[Event], Recount]:
    """Flips found from the batch alone, and the sites that need a recount in SQL.

    `stored` holds (site_id, scheduled_at, up) of each site's latest stored result.
    """
    latest = {site: (slot, up) for site, slot, up in stored}
    by_site: dict[int, list[ResultRow]] = {}
    for row in rows:
        by_site.setdefault(row[0], []).append(row)
    events: list[Event] = []
    recount: Recount = {}
    for site, site_rows in by_site.items():
        site_rows.sort(key=lambda r: r[2])  # slot order
        first, last = site_rows[0][2], site_rows[-1][2]
        before = latest.get(site)
        if before is None or first <= before[0]:
            recount[site] = (first, last)
            continue
        previous_up: bool = before[1]
        previous_slot = before[0]
        for row in site_rows:
            slot, checked, status, up, error, detail = (
                row[2],
                row[3],
                row[5],
                row[6],
                row[8],
                row[9],
            )
            if slot == previous_slot:  # the same result twice in one batch
                continue
            if up != previous_up:
                events.append((site, slot, checked, previous_up, up, status, error, detail))
            previous_up, previous_slot = up, slot
    return events, recount
