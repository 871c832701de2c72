"""`webmon users add NAME` (the password: asked on a terminal, else one line of stdin; a new
password ends the user's sessions), `webmon users link NAME` (a one-time login path) and
`webmon users disable NAME` (no more logins; every session ended at once)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from webmon.cli.common import read_password
from webmon.core import OPERATOR, Core


def add_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="dashboard users")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add a user (or set a password): asked on a terminal, else one stdin line"
    )
    add.add_argument("name")
    add.set_defaults(run=cmd_add)
    link = actions.add_parser("link", help="print a one-time login path for a user")
    link.add_argument("name")
    link.set_defaults(run=cmd_link)
    disable = actions.add_parser(
        "disable", help="keep a user from logging in and end their sessions (add enables again)"
    )
    disable.add_argument("name")
    disable.set_defaults(run=cmd_disable)


async def cmd_add(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    user_id = await core.users.add(OPERATOR, args.name, read_password())
    print(f"user {args.name} can log in to the dashboard (id {user_id})", file=out)
    return 0


async def cmd_link(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    path = await core.users.login_link(OPERATOR, args.name)
    print(f"a login link for {args.name}, valid once within an hour:", file=out)
    print(path, file=out)
    return 0


async def cmd_disable(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    await core.users.disable(OPERATOR, args.name)
    print(f"user {args.name} can no longer log in; their sessions have ended", file=out)
    return 0
