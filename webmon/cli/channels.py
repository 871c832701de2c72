"""`webmon channels …`: where notifications go.

    webmon channels add --name NAME --kind webhook --url URL [--secret S] [--default]
                        [--set KEY=VALUE ...]         (telegram: --set chat_id=..., email:
                                                       --set host=... from=... to=...)
    webmon channels list / remove NAME / test NAME
    webmon channels route SITE NAME... [--replace]   (SITE: an id or a URL)

A channel's secret is stored, never printed: `channels list` says only whether there is one.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from pydantic import ValidationError

from notifier.channels import KINDS
from webmon.cli.common import CliError, setting
from webmon.cli.format import format_table
from webmon.core import OPERATOR, Core
from webmon.core.channels import ChannelIn, config_from_text
from webmon.core.errors import invalid_from_validation


def add_commands(commands: Any) -> None:
    channels = commands.add_parser("channels", help="add, list, remove, test and route channels")
    actions = channels.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a notification channel")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=KINDS)
    add.add_argument("--url", help="where it is sent (webhook, Slack, Discord, ntfy)")
    add.add_argument("--secret", help="HMAC key, bot or access token, SMTP password, apprise URL")
    add.add_argument(
        "--default", action="store_true", help="notify it for every site without own routing"
    )
    add.add_argument(
        "--set", dest="settings", type=setting, action="append", default=[],
        metavar="KEY=VALUE", help="another config value (chat_id, host, port, from, to, ...)",
    )  # fmt: skip
    add.set_defaults(run=cmd_add)
    actions.add_parser("list", help="every channel (never its secret)").set_defaults(run=cmd_list)
    remove = actions.add_parser("remove", help="remove a channel and its queued notifications")
    remove.add_argument("name")
    remove.set_defaults(run=cmd_remove)
    test = actions.add_parser("test", help="send a test notification now, under the target policy")
    test.add_argument("name")
    test.set_defaults(run=cmd_test)
    route = actions.add_parser("route", help="notify these channels for a site (not the defaults)")
    route.add_argument("site", metavar="SITE")
    route.add_argument("names", nargs="*", metavar="NAME")
    route.add_argument("--replace", action="store_true", help="drop the site's other routes")
    route.set_defaults(run=cmd_route)


async def cmd_add(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    fields = {
        "name": args.name, "kind": args.kind,
        "config": config_from_text(args.kind, args.url, args.settings),
        "secret": args.secret, "is_default": args.default,
    }  # fmt: skip
    try:
        channel = ChannelIn.model_validate(fields)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    added = await core.channels.add(OPERATOR, channel)
    default = ", default for every site without routing" if added.is_default else ""
    print(f"added channel {added.id}: {added.name} ({added.kind}{default})", file=out)
    return 0


def _shown(config: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(config.items()))


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    cells = [
        [
            str(c.id), c.name, c.kind, "yes" if c.is_default else "", "on" if c.enabled else "off",
            "set" if c.has_secret else "-", str(c.sites), _shown(c.config),
        ]
        for c in await core.channels.every(OPERATOR)
    ]  # fmt: skip
    headers = ["id", "name", "kind", "default", "state", "secret", "sites", "config"]
    print(format_table(headers, cells, "rllllrrl"), file=out)
    return 0


async def cmd_remove(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    channel = await core.channels.named(args.name, OPERATOR)
    await core.channels.remove(OPERATOR, channel.id)
    print(f"removed channel {args.name}", file=out)
    return 0


async def cmd_test(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    channel = await core.channels.named(args.name, OPERATOR)
    error = await core.channels.test(OPERATOR, channel.id)
    if error is not None:
        raise CliError(f"test notification to {channel.name} failed: {error}")
    print(f"sent a test notification to {channel.name} ({channel.kind})", file=out)
    return 0


async def cmd_route(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = await core.sites.find(args.site)
    routes = await core.channels.route(OPERATOR, site.id, args.names, replace=args.replace)
    print(f"site {site.id} notifies: {', '.join(routes) or 'nothing'}", file=out)
    return 0
