"""`webmon`: register sites, read their status and uptime, manage keys, users and alerting,
check a configuration. One module per noun, each calling the core (`webmon.core`):

    sites (status, uptime, thresholds)   keys   users   channels   windows
    incidents (notifications)            tasks  doctor   import-results (results)   regions
    status-pages (their incidents and updates)

Every command but `doctor` needs only WEBMON_DATABASE_URL (and WEBMON_SECRET_KEY to set a
site's credentials). Output goes to stdout; an error is one line on stderr, with exit
status 2 for a value the core refused or a bad setting, 1 for anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TextIO

from shared.errors import DatabaseError, WebmonError
from shared.logs import configure_logging
from shared.settings import load_settings
from webmon.cli import (
    channels,
    doctor,
    incidents,
    keys,
    regions,
    results,
    sites,
    status_pages,
    tasks,
    users,
    windows,
)
from webmon.cli.common import PROGRAM, Command
from webmon.core import Core, opened
from webmon.core.errors import Invalid
from webmon.settings import CliSettings

GROUPS = (
    sites, keys, users, channels, windows, incidents, status_pages, tasks, results, regions,
    doctor,
)  # fmt: skip
INVALID = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Register sites and read their checks."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(commands)
    return parser


def refusal(exc: Invalid) -> str:
    """The core's words, with the line of the input they are about."""
    where = f"line {exc.line}: " if exc.line is not None else ""
    return f"{where}{exc}"


async def _run(command: Command, args: argparse.Namespace, out: TextIO) -> int:
    settings = load_settings(CliSettings, PROGRAM)
    core = Core.for_url(
        settings.database_url.get_secret_value(),
        policy=settings.target_policy(),
        box=settings.secret_box(),
        pool_size=1,
        name="webmon-cli",
    )
    async with opened(core):
        return await command(core, args, out)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out if out is not None else sys.stdout
    configure_logging("WARNING")
    try:
        if args.command == "doctor":
            return doctor.cmd_doctor(args, out)
        return asyncio.run(_run(args.run, args, out))
    except BrokenPipeError:
        # `webmon ... | head`: the reader has gone; say nothing more (and let the
        # interpreter's own flush at exit write nowhere), as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Invalid as exc:
        print(f"{PROGRAM}: {refusal(exc)}", file=sys.stderr)
        return INVALID
    except DatabaseError as exc:
        where = f" ({exc.context})" if exc.context else ""
        print(f"{PROGRAM}: {exc}{where}", file=sys.stderr)
    except WebmonError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
