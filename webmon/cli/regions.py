"""`webmon regions [--window 5m]`: the regions sites are checked from and their checkers'
health, as their stored checks show it (docs/regions.md)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any, TextIO

from webmon.cli.common import plural, seconds
from webmon.cli.format import format_duration, format_table, format_timestamp
from webmon.core import Core

DEFAULT_WINDOW = "5m"


def add_commands(commands: Any) -> None:
    regions = commands.add_parser("regions", help="regions and their checkers' health")
    regions.add_argument("--window", type=seconds, default=DEFAULT_WINDOW, help="period read (5m)")
    regions.set_defaults(run=cmd_regions)


async def cmd_regions(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    found = await core.regions.every(timedelta(seconds=args.window))
    cells = [
        [
            r.region, str(r.sites), str(r.checks), str(r.down), str(r.missed),
            format_timestamp(r.last_check) if r.last_check else "-", r.health,
        ]
        for r in found
    ]  # fmt: skip
    headers = ["region", "sites", "checks", "down", "missed", "last check (UTC)", "health"]
    print(format_table(headers, cells, "lrrrrll"), file=out)
    unhealthy = [r.region for r in found if r.health in ("no checker", "behind")]
    summary = f"{plural(len(found), 'region')} over the last {format_duration(args.window)}"
    if unhealthy:
        summary += f"; not keeping up: {', '.join(unhealthy)}"
    print(summary, file=out)
    return 0
