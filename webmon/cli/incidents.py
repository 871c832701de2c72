"""`webmon incidents [--open] [--site SITE] [--limit 50]` and
`webmon notifications failed / retry [ID]`."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from webmon.cli.format import format_duration, format_table, format_timestamp
from webmon.core import OPERATOR, Core


def add_commands(commands: Any) -> None:
    incidents = commands.add_parser("incidents", help="incidents, newest first")
    incidents.add_argument("--open", action="store_true", help="only those not resolved")
    incidents.add_argument("--site", metavar="SITE")
    incidents.add_argument("--limit", type=int, default=50)
    incidents.set_defaults(run=cmd_incidents)

    notifications = commands.add_parser("notifications", help="failed notifications")
    actions = notifications.add_subparsers(
        dest="notifications_command", required=True, metavar="ACTION"
    )
    actions.add_parser("failed", help="those out of retries").set_defaults(run=cmd_failed)
    retry = actions.add_parser("retry", help="send failed ones again (all, or one by id)")
    retry.add_argument("id", type=int, nargs="?")
    retry.set_defaults(run=cmd_retry)


async def cmd_incidents(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site_id = (await core.sites.find(args.site)).id if args.site else None
    found = await core.incidents.page(open_only=args.open, site_id=site_id, limit=args.limit)
    cells = [
        [
            str(i.id), str(i.site_id), format_timestamp(i.opened_at),
            format_timestamp(i.resolved_at) if i.resolved_at else "open",
            format_duration(round(i.lasted.total_seconds())), i.cause, i.url,
        ]
        for i in found
    ]  # fmt: skip
    headers = ["id", "site", "opened (UTC)", "resolved (UTC)", "lasted", "cause", "url"]
    print(format_table(headers, cells, "rrllrll"), file=out)
    return 0


async def cmd_failed(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    cells = [
        [
            str(n.id), n.channel, n.event, str(n.site_id or "-"), str(n.attempts),
            format_timestamp(n.created_at), n.last_error or "",
        ]
        for n in await core.incidents.notifications(state="failed", limit=100)
    ]  # fmt: skip
    headers = ["id", "channel", "event", "site", "attempts", "queued (UTC)", "last error"]
    print(format_table(headers, cells, "rllrrll"), file=out)
    return 0


async def cmd_retry(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    count = await core.incidents.retry_failed(OPERATOR, args.id)
    print(f"{count} notification(s) queued again", file=out)
    return 0
