"""`webmon`'s alerting commands: channels, routing, thresholds, windows, incidents.

    webmon channels add --name NAME --kind webhook --url URL [--secret S] [--default]
                        [--set KEY=VALUE ...]         (telegram: --set chat_id=..., email:
                                                       --set host=... from=... to=...)
    webmon channels list / remove NAME / test NAME
    webmon channels route SITE NAME... [--replace]   (SITE: an id or a URL)
    webmon thresholds SITE [--failure 3] [--success 2] [--remind 30m|off] [--tags a,b]
    webmon windows add --name NAME (--site SITE | --tag TAG | --all) --duration 2h
                       [--start 2026-12-24T22:00Z|now] [--every day|week] [--until TIME]
    webmon windows list / remove ID
    webmon incidents [--open] [--site SITE] [--limit 50]
    webmon notifications failed / retry [ID]

A channel's secret is stored, never printed: `channels list` says only whether there is one.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from notifier.channels import KINDS
from notifier.payload import Channel
from notifier.settings import NotifierSettings
from notifier.trial import send_test_notification
from shared.db import Connection
from shared.errors import WebmonError
from shared.settings import load_settings
from webmon.cli_format import format_duration, format_table, format_timestamp, parse_duration
from webmon.readmodel import ALERTING, SITES

PROGRAM = "webmon"
# What each kind needs in its config, beside what --url sets (and the secret).
_REQUIRED = {
    "webhook": ("url",),
    "slack": ("url",),
    "discord": ("url",),
    "ntfy": ("url",),
    "telegram": ("chat_id",),
    "email": ("host", "from", "to"),
    "apprise": (),
}
_SECRET_REQUIRED = ("telegram", "apprise")
_URL_KEY = {"telegram": "api_url"}  # --url for telegram: another Bot API server


class AlertingCliError(WebmonError):
    pass


def _duration(text: str) -> int:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < 1 or seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"whole seconds, at least 1: {text!r}")
    return int(seconds)


def _moment(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"KEY=VALUE expected: {text!r}")
    return key.strip(), value.strip()


def add_commands(commands: Any) -> None:
    """The alerting commands, beside the others of `webmon.cli.build_parser`."""
    channels = commands.add_parser("channels", help="add, list, remove, test and route channels")
    ch = channels.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    add = ch.add_parser("add", help="add a notification channel")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=KINDS)
    add.add_argument("--url", help="where it is sent (webhook, Slack, Discord, ntfy)")
    add.add_argument("--secret", help="HMAC key, bot or access token, SMTP password, apprise URL")
    add.add_argument(
        "--default", action="store_true", help="notify it for every site without own routing"
    )
    add.add_argument(
        "--set", dest="settings", type=_setting, action="append", default=[],
        metavar="KEY=VALUE", help="another config value (chat_id, host, port, from, to, ...)",
    )  # fmt: skip
    add.set_defaults(run=cmd_channels_add)
    ch.add_parser("list", help="every channel (never its secret)").set_defaults(
        run=cmd_channels_list
    )
    remove = ch.add_parser("remove", help="remove a channel and its queued notifications")
    remove.add_argument("name")
    remove.set_defaults(run=cmd_channels_remove)
    test = ch.add_parser("test", help="send a test notification now, under the target policy")
    test.add_argument("name")
    test.set_defaults(run=cmd_channels_test)
    route = ch.add_parser("route", help="notify these channels for a site (not the defaults)")
    route.add_argument("site", metavar="SITE")
    route.add_argument("names", nargs="*", metavar="NAME")
    route.add_argument("--replace", action="store_true", help="drop the site's other routes")
    route.set_defaults(run=cmd_channels_route)

    thresholds = commands.add_parser("thresholds", help="a site's incident thresholds")
    thresholds.add_argument("site", metavar="SITE")
    thresholds.add_argument("--failure", type=int, help="down checks that open an incident")
    thresholds.add_argument("--success", type=int, help="up checks that resolve it")
    thresholds.add_argument("--remind", help="remind every DURATION while open, or 'off'")
    thresholds.add_argument("--tags", help="comma-separated groups (for windows)")
    thresholds.set_defaults(run=cmd_thresholds)

    windows = commands.add_parser("windows", help="maintenance windows")
    w = windows.add_subparsers(dest="windows_command", required=True, metavar="ACTION")
    wadd = w.add_parser("add", help="add a one-off or recurring window")
    wadd.add_argument("--name", required=True)
    scope = wadd.add_mutually_exclusive_group(required=True)
    scope.add_argument("--site", metavar="SITE")
    scope.add_argument("--tag")
    scope.add_argument("--all", action="store_true")
    wadd.add_argument("--start", type=_moment, default="now", help="ISO 8601 (UTC) or now")
    wadd.add_argument("--duration", type=_duration, required=True)
    wadd.add_argument("--every", choices=("day", "week"), help="repeat (UTC)")
    wadd.add_argument("--until", type=_moment, help="no occurrence starts after it")
    wadd.set_defaults(run=cmd_windows_add)
    w.add_parser("list", help="every window, and whether it is on now").set_defaults(
        run=cmd_windows_list
    )
    wremove = w.add_parser("remove", help="remove a window")
    wremove.add_argument("id", type=int)
    wremove.set_defaults(run=cmd_windows_remove)

    incidents = commands.add_parser("incidents", help="incidents, newest first")
    incidents.add_argument("--open", action="store_true", help="only those not resolved")
    incidents.add_argument("--site", metavar="SITE")
    incidents.add_argument("--limit", type=int, default=50)
    incidents.set_defaults(run=cmd_incidents)

    notifications = commands.add_parser("notifications", help="failed notifications")
    n = notifications.add_subparsers(dest="notifications_command", required=True, metavar="ACTION")
    n.add_parser("failed", help="those out of retries").set_defaults(run=cmd_notifications_failed)
    retry = n.add_parser("retry", help="send failed ones again (all, or one by id)")
    retry.add_argument("id", type=int, nargs="?")
    retry.set_defaults(run=cmd_notifications_retry)


# -- helpers ------------------------------------------------------------------------------


def _site_id(conn: Connection, site: str) -> int:
    params = {"site_id": int(site) if site.isdigit() else None, "url": site}
    rows = conn.execute(SITES["find_sites"], params).fetchall()
    if not rows:
        raise AlertingCliError(f"no site with id or URL {site}")
    return int(rows[0][0])


def _channel_config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = dict(args.settings)
    if args.url:
        if not args.url.startswith(("http://", "https://")):
            raise AlertingCliError(f"--url must be an http(s) URL: {args.url!r}")
        config[_URL_KEY.get(args.kind, "url")] = args.url
    if "to" in config:
        config["to"] = [part.strip() for part in str(config["to"]).split(",") if part.strip()]
    if "port" in config:
        config["port"] = int(config["port"])
    missing = [key for key in _REQUIRED[args.kind] if not config.get(key)]
    if missing:
        hint = "--url" if missing[0] == "url" else f"--set {missing[0]}=..."
        raise AlertingCliError(f"a {args.kind} channel needs {hint}")
    if args.kind in _SECRET_REQUIRED and not args.secret:
        raise AlertingCliError(f"a {args.kind} channel needs --secret")
    return config


# -- commands -----------------------------------------------------------------------------


def cmd_channels_add(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    config = _channel_config(args)
    params = {
        "name": args.name, "kind": args.kind, "config": orjson.dumps(config).decode(),
        "secret": args.secret, "is_default": args.default,
    }  # fmt: skip
    row = conn.execute(ALERTING["add_channel"], params).fetchone()
    assert row is not None
    default = ", default for every site without routing" if args.default else ""
    print(f"added channel {row[0]}: {args.name} ({args.kind}{default})", file=out)
    return 0


def _shown_config(kind: str, config: dict[str, Any]) -> str:
    # A Slack or Discord webhook URL is a credential: only its host is shown.
    shown = dict(config)
    if kind in ("slack", "discord") and "url" in shown:
        shown["url"] = str(shown["url"]).split("/", 3)[2] + "/…"
    return " ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def cmd_channels_list(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(ALERTING["list_channels"]).fetchall()
    cells = [
        [
            str(cid), name, kind, "yes" if default else "", "on" if enabled else "off",
            "set" if has_secret else "-", str(sites), _shown_config(kind, config),
        ]
        for cid, name, kind, default, enabled, has_secret, config, sites in rows
    ]  # fmt: skip
    headers = ["id", "name", "kind", "default", "state", "secret", "sites", "config"]
    print(format_table(headers, cells, "rllllrrl"), file=out)
    return 0


def cmd_channels_remove(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    if not conn.execute(ALERTING["remove_channel"], {"name": args.name}).fetchall():
        raise AlertingCliError(f"no channel named {args.name}")
    print(f"removed channel {args.name}", file=out)
    return 0


def cmd_channels_test(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    row = conn.execute(ALERTING["channel_by_name"], {"name": args.name}).fetchone()
    if row is None:
        raise AlertingCliError(f"no channel named {args.name}")
    channel = Channel(row[0], row[1], row[2], row[3], row[4])
    settings = load_settings(NotifierSettings, PROGRAM)
    error = asyncio.run(
        send_test_notification(
            channel, settings.target_policy(), settings.notifier_request_timeout_s
        )
    )
    if error is not None:
        raise AlertingCliError(f"test notification to {channel.name} failed: {error}")
    print(f"sent a test notification to {channel.name} ({channel.kind})", file=out)
    return 0


def cmd_channels_route(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    site_id = _site_id(conn, args.site)
    if args.replace:
        conn.execute(ALERTING["unroute_site"], {"site_id": site_id})
    if args.names:
        known = {r[0] for r in conn.execute("SELECT name FROM channels").fetchall()}
        unknown = [n for n in args.names if n not in known]
        if unknown:
            raise AlertingCliError(f"no channel named {unknown[0]}")
        conn.execute(ALERTING["route_site"], {"site_id": site_id, "names": args.names})
    conn.commit()
    routes = [r[0] for r in conn.execute(ALERTING["site_routes"], {"site_id": site_id})]
    print(f"site {site_id} notifies: {', '.join(routes) or 'nothing'}", file=out)
    return 0


def cmd_thresholds(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    reminder: int | None = None
    if args.remind is not None and args.remind != "off":
        reminder = _duration(args.remind)
    tags = None if args.tags is None else [t.strip() for t in args.tags.split(",") if t.strip()]
    params = {
        "site_id": int(args.site) if args.site.isdigit() else None, "url": args.site,
        "failure": args.failure, "success": args.success,
        "set_reminder": args.remind is not None, "reminder": reminder, "tags": tags,
    }  # fmt: skip
    rows = conn.execute(ALERTING["set_thresholds"], params).fetchall()
    if not rows:
        raise AlertingCliError(f"no site with id or URL {args.site}")
    for site_id, failure, success, remind, site_tags in rows:
        every = "off" if remind is None else format_duration(remind)
        print(f"site {site_id}: opens after {failure} down, resolves after {success} up,"
              f" reminders {every}, tags {','.join(site_tags) or '-'}", file=out)  # fmt: skip
    return 0


def cmd_windows_add(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    params = {
        "name": args.name,
        "site_id": _site_id(conn, args.site) if args.site else None,
        "tag": args.tag,
        "starts_at": args.start,
        "duration": args.duration,
        "recurrence": {"day": "daily", "week": "weekly"}.get(args.every or "", "none"),
        "until": args.until,
    }
    row = conn.execute(ALERTING["add_window"], params).fetchone()
    assert row is not None
    repeat = f", every {args.every}" if args.every else ""
    print(f"added window {row[0]}: {args.name} from {format_timestamp(row[1])} UTC"
          f" for {format_duration(args.duration)}{repeat}", file=out)  # fmt: skip
    return 0


def cmd_windows_list(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(ALERTING["list_windows"]).fetchall()
    cells = [
        [
            str(wid), name, scope, format_timestamp(starts), format_duration(duration),
            {"none": "once", "daily": "daily", "weekly": "weekly"}[recurrence],
            format_timestamp(until), "ON" if active else "",
        ]
        for wid, name, scope, starts, duration, recurrence, until, active in rows
    ]  # fmt: skip
    headers = ["id", "name", "covers", "starts (UTC)", "lasts", "repeats", "until", "now"]
    print(format_table(headers, cells, "rlllrlll"), file=out)
    return 0


def cmd_windows_remove(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    if not conn.execute(ALERTING["remove_window"], {"id": args.id}).fetchall():
        raise AlertingCliError(f"no window {args.id}")
    print(f"removed window {args.id}", file=out)
    return 0


def cmd_incidents(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    params = {
        "open_only": args.open,
        "site_id": _site_id(conn, args.site) if args.site else None,
        "limit": args.limit,
    }
    rows = conn.execute(ALERTING["incidents"], params).fetchall()
    cells = [
        [
            str(iid), str(site_id), format_timestamp(opened), format_timestamp(resolved)
            if resolved else "open", format_duration(round(lasted.total_seconds())), cause, url,
        ]
        for iid, site_id, url, opened, resolved, cause, lasted in rows
    ]  # fmt: skip
    headers = ["id", "site", "opened (UTC)", "resolved (UTC)", "lasted", "cause", "url"]
    print(format_table(headers, cells, "rrllrll"), file=out)
    return 0


def cmd_notifications_failed(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(ALERTING["failed_notifications"], {"limit": 100}).fetchall()
    cells = [
        [str(nid), channel, kind, str(site or "-"), str(attempts), format_timestamp(created),
         error or ""]
        for nid, channel, kind, site, attempts, created, error in rows
    ]  # fmt: skip
    headers = ["id", "channel", "event", "site", "attempts", "queued (UTC)", "last error"]
    print(format_table(headers, cells, "rllrrll"), file=out)
    return 0


def cmd_notifications_retry(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(ALERTING["retry_failed"], {"id": args.id}).fetchall()
    print(f"{len(rows)} notification(s) queued again", file=out)
    return 0
