"""`webmon windows …`: maintenance windows.

webmon windows add --name NAME (--site SITE | --tag TAG | --all) --duration 2h
                   [--start 2026-12-24T22:00Z|now] [--every day|week] [--until TIME]
webmon windows list / remove ID
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from pydantic import ValidationError

from webmon.cli.common import duration, moment
from webmon.cli.format import format_duration, format_table, format_timestamp
from webmon.core import OPERATOR, Core
from webmon.core.errors import invalid_from_validation
from webmon.core.windows import WindowIn

RECURRENCE = {"day": "daily", "week": "weekly"}


def add_commands(commands: Any) -> None:
    windows = commands.add_parser("windows", help="maintenance windows")
    actions = windows.add_subparsers(dest="windows_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a one-off or recurring window")
    add.add_argument("--name", required=True)
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--site", metavar="SITE")
    scope.add_argument("--tag")
    scope.add_argument("--all", action="store_true")
    add.add_argument("--start", type=moment, default="now", help="ISO 8601 (UTC) or now")
    add.add_argument("--duration", type=duration, required=True)
    add.add_argument("--every", choices=tuple(RECURRENCE), help="repeat (UTC)")
    add.add_argument("--until", type=moment, help="no occurrence starts after it")
    add.set_defaults(run=cmd_add)
    actions.add_parser("list", help="every window, and whether it is on now").set_defaults(
        run=cmd_list
    )
    remove = actions.add_parser("remove", help="remove a window")
    remove.add_argument("id", type=int)
    remove.set_defaults(run=cmd_remove)


async def cmd_add(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site_id = (await core.sites.find(args.site)).id if args.site else None
    fields = {
        "name": args.name, "site_id": site_id, "tag": args.tag, "starts_at": args.start,
        "duration_seconds": args.duration, "recurrence": RECURRENCE.get(args.every or "", "none"),
        "until": args.until,
    }  # fmt: skip
    try:
        window = WindowIn.model_validate(fields)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    added = await core.windows.add(OPERATOR, window)
    repeat = f", every {args.every}" if args.every else ""
    print(f"added window {added.id}: {added.name} from {format_timestamp(added.starts_at)} UTC"
          f" for {format_duration(added.duration_seconds)}{repeat}", file=out)  # fmt: skip
    return 0


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    cells = [
        [
            str(w.id), w.name, w.covers, format_timestamp(w.starts_at),
            format_duration(w.duration_seconds),
            {"none": "once", "daily": "daily", "weekly": "weekly"}[w.recurrence],
            format_timestamp(w.until), "ON" if w.active else "",
        ]
        for w in await core.windows.every()
    ]  # fmt: skip
    headers = ["id", "name", "covers", "starts (UTC)", "lasts", "repeats", "until", "now"]
    print(format_table(headers, cells, "rlllrlll"), file=out)
    return 0


async def cmd_remove(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    await core.windows.remove(OPERATOR, args.id)
    print(f"removed window {args.id}", file=out)
    return 0
