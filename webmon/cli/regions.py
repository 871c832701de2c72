"""`webmon regions [--window 5m]`: the regions sites are checked from, their checkers' health
as their stored checks show it, each region's canary and its outage if one lasts; and
`webmon regions canary REGION SITE|--clear` (docs/regions.md)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any, TextIO

from webmon.cli.common import plural, seconds
from webmon.cli.format import format_duration, format_table, format_timestamp
from webmon.core import OPERATOR, Core
from webmon.core.regions import Region

DEFAULT_WINDOW = "5m"


def add_commands(commands: Any) -> None:
    regions = commands.add_parser("regions", help="regions, their checkers' health, canaries")
    regions.add_argument("--window", type=seconds, default=DEFAULT_WINDOW, help="period read (5m)")
    regions.set_defaults(run=cmd_regions)
    actions = regions.add_subparsers(dest="regions_command", metavar="ACTION")
    canary = actions.add_parser(
        "canary",
        help="name the site whose failure from a region says the region itself is unhealthy",
    )
    canary.add_argument("region", metavar="REGION")
    which = canary.add_mutually_exclusive_group(required=True)
    which.add_argument("site", metavar="SITE", nargs="?", help="by id or URL")
    which.add_argument("--clear", action="store_true", help="the region has no canary")
    canary.set_defaults(run=cmd_canary)


async def cmd_regions(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    found = await core.regions.every(timedelta(seconds=args.window))
    cells = [
        [
            r.region, str(r.sites), str(r.checks), str(r.down), str(r.missed),
            format_timestamp(r.last_check) if r.last_check else "-",
            _canary(r), r.health,
        ]
        for r in found
    ]  # fmt: skip
    headers = ["region", "sites", "checks", "down", "missed", "last check (UTC)", "canary",
               "health"]  # fmt: skip
    print(format_table(headers, cells, "lrrrrlrl"), file=out)
    for r in found:
        if r.outage is not None:
            why = "its canary fails" if r.outage.cause == "canary" else "most of its sites fail"
            detail = f" ({r.outage.detail})" if r.outage.detail else ""
            print(
                f"{r.region}: unhealthy since {format_timestamp(r.outage.since)} UTC: {why}"
                f"{detail}; its checks count for no site's quorum",
                file=out,
            )
    for r in found:
        if r.canary is not None and not r.canary.active:
            print(
                f"{r.region}: canary site {r.canary.site_id} is disabled or not checked from "
                f"{r.region}: it tells nothing of the region",
                file=out,
            )
    lagging = [r.region for r in found if r.health in ("no checker", "behind")]
    unhealthy = [r.region for r in found if r.outage is not None]
    summary = f"{plural(len(found), 'region')} over the last {format_duration(args.window)}"
    if unhealthy:
        summary += f"; unhealthy: {', '.join(unhealthy)}"
    if lagging:
        summary += f"; not keeping up: {', '.join(lagging)}"
    print(summary, file=out)
    return 0


def _canary(r: Region) -> str:
    if r.canary is None:
        return "-"
    return str(r.canary.site_id) if r.canary.active else f"{r.canary.site_id} (idle)"


async def cmd_canary(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site_id = None if args.clear else (await core.sites.find(args.site)).id
    done = await core.regions.set_canary(OPERATOR, args.region, site_id)
    if done.canary is None:
        print(f"region {done.region} has no canary", file=out)
    else:
        print(
            f"region {done.region}: canary site {done.canary.site_id} ({done.canary.url})",
            file=out,
        )
    return 0
