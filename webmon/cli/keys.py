"""`webmon keys create --name NAME --scope read|write|admin` (the key is the last line),
`webmon keys list`, `webmon keys revoke KEY` (an id or a name)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from webmon.cli.format import format_table, format_timestamp
from webmon.core import OPERATOR, Core, Scope


def add_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="create, list or revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key; it is shown this once")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--scope", required=True, choices=[s.value for s in Scope])
    create.set_defaults(run=cmd_create)
    actions.add_parser("list", help="every key (never the keys themselves)").set_defaults(
        run=cmd_list
    )
    revoke = actions.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key", metavar="KEY")
    revoke.set_defaults(run=cmd_revoke)


async def cmd_create(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    made, key = await core.keys.create(OPERATOR, args.name, Scope(args.scope))
    print(f"created key {made.id} ({made.name}, scope {made.scope});"
          " it is shown this once, keep it:", file=out)  # fmt: skip
    print(key, file=out)
    return 0


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    cells = [
        [
            str(k.id), k.name, k.scope.value, f"{k.prefix}…", format_timestamp(k.created_at),
            format_timestamp(k.last_used_at),
            "revoked " + format_timestamp(k.revoked_at) if k.revoked_at else "live",
        ]
        for k in await core.keys.every()
    ]  # fmt: skip
    headers = ["id", "name", "scope", "key", "created (UTC)", "last used (UTC)", "state"]
    print(format_table(headers, cells, "rllllll"), file=out)
    return 0


async def cmd_revoke(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    for key in await core.keys.revoke(OPERATOR, args.key):
        print(f"revoked key {key.id} ({key.name})", file=out)
    return 0
