"""One site read from the command line, its regions beside its quorum: `webmon uptime`,
`webmon sites show`, and the advisory lines `webmon status` adds under its table.

    webmon sites show SITE
    webmon uptime SITE [--since 30d] [--region NAME]

An advisory (a region failing check after check while the quorum says up) reads:

    advisory: us-east failing since 12:01 UTC, 14 checks in a row (quorum says up)
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TextIO

from webmon.cli.common import plural
from webmon.cli.format import format_duration, format_table, format_timestamp
from webmon.core import Core
from webmon.core.site_regions import Advisory, RegionSummary
from webmon.core.site_views import Site


def _moment(value: datetime, now: datetime) -> str:
    """12:01 UTC today, 2026-12-06 23:59 UTC before."""
    value = value.astimezone(UTC)
    if value.date() == now.astimezone(UTC).date():
        return value.strftime("%H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def advisory_line(advisory: Advisory, now: datetime | None = None) -> str:
    since = _moment(advisory.since, now or datetime.now(UTC))
    return (
        f"advisory: {advisory.region} failing since {since},"
        f" {plural(advisory.failures, 'check')} in a row (quorum says up)"
    )


def _quorum(site: Site) -> str:
    if site.quorum is None:
        return f"a majority, {len(site.regions) // 2 + 1} of {len(site.regions)}"
    return f"{site.quorum} of {len(site.regions)}"


def _regions_table(regions: list[RegionSummary]) -> str:
    cells = [
        [
            r.region,
            str(r.checks),
            str(r.up_checks),
            "-" if r.uptime_pct is None else f"{r.uptime_pct:.2f}%",
            str(r.missed),
            "-" if r.p50_ms is None else f"{r.p50_ms:.1f}",
            format_timestamp(r.last_checked_at),
            "out" if r.out else ("-" if r.last_up is None else ("up" if r.last_up else "down")),
        ]
        for r in regions
    ]
    headers = ["region", "checks", "up", "uptime", "missed", "p50 ms", "last check (UTC)", "last"]
    return format_table(headers, cells, "lrrrrrll")


async def cmd_show(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = await core.sites.find(args.site)
    st = site.status
    print(f"site      {site.id} {site.url}", file=out)
    if site.name is not None:
        print(f"name      {site.name}", file=out)
    print(f"every     {format_duration(site.interval_seconds)},"
          f" timeout {format_duration(site.timeout_seconds)}"
          f"{'' if site.enabled else ' (disabled)'}", file=out)  # fmt: skip
    if st is None:
        print("state     not checked yet", file=out)
    else:
        why = f" ({st.cause})" if st.cause else ""
        state = "UP" if st.up else "DOWN"
        print(f"state     {state}{why}, last check {format_timestamp(st.checked_at)} UTC", file=out)
    print(f"regions   {', '.join(site.regions)}", file=out)
    if site.by_quorum:
        print(f"quorum    {_quorum(site)}", file=out)
    for advisory in await core.site_regions.of_site(site.id):
        print(advisory_line(advisory), file=out)
    return 0


async def cmd_uptime(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = await core.sites.find(args.site)
    found = await core.history.uptime(site.id, timedelta(seconds=args.since), args.region)
    print(f"site     {site.id} {site.url}", file=out)
    print(f"period   last {format_duration(args.since)}", file=out)
    if args.region is not None:
        print(f"region   {args.region}", file=out)
    if found.by_quorum:
        start = "" if found.quorum_from is None else (
            f", from {format_timestamp(found.quorum_from)} UTC"
        )  # fmt: skip
        print(f"counted  each slot once, by the quorum ({_quorum(site)}){start}", file=out)
        print(f"slots    {found.checks} ({found.up_checks} up)", file=out)
    else:
        print(f"checks   {found.checks} ({found.up_checks} up)", file=out)
    if found.missed:
        missed = "slots without a verdict" if found.by_quorum else "slots not checked in time"
        print(f"missed   {found.missed} {missed} (not in the uptime)", file=out)
    pct = found.uptime_pct
    print(f"uptime   {'-' if pct is None else f'{pct:.2f}%'}", file=out)
    latency = "-" if found.p50_ms is None else (
        f"p50 {found.p50_ms:.1f} ms, p95 {(found.p95_ms or 0):.1f} ms"
    )  # fmt: skip
    print(f"latency  {latency}", file=out)
    if found.regions:
        print(_regions_table(found.regions), file=out)
    for advisory in found.advisories:
        print(advisory_line(advisory), file=out)
    return 0


async def status_advisories(core: Core, sites: list[Site], out: TextIO) -> None:
    """The advisories of the sites `webmon status` listed, a line each under its table."""
    several = [s.id for s in sites if s.by_quorum]
    for site_id, advisories in (await core.site_regions.of_sites(several)).items():
        for advisory in advisories:
            print(f"site {site_id}: {advisory_line(advisory)}", file=out)
