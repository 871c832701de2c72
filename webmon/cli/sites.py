"""`webmon sites …`, `webmon status`, `webmon uptime`, `webmon thresholds`.

    webmon sites add URL [--name NAME] [--tag KEY[:VALUE] ...] [--every 30s] [--timeout 5s]
                         [--regex PATTERN] [--region NAME ...] [--quorum N]
                         [--cert-expiry-days 14] [--option FIELD=VALUE ...] [--restricted]
    webmon sites import FILE.csv     header row: url and any other site fields (name, tags,
                                     regions, quorum)
    webmon sites list [--tag KEY[:VALUE]]
    webmon sites show SITE           its state, regions, quorum and advisories
    webmon sites edit SITE [--name ...] [--tag ... | --no-tags] [--every ...] [--timeout ...]
                           [--regex ...] [--region ...] [--quorum ...]
                           [--cert-expiry-days ...] [--option ...]
    webmon sites disable SITE... / enable SITE... / unrestrict SITE...
    webmon sites auth SITE --basic USER | --bearer | --clear   (the secret: asked on a
                         terminal, else one line of stdin; sealed with WEBMON_SECRET_KEY)
    webmon status [--down]
    webmon uptime SITE [--since 30d] [--region NAME]
    webmon thresholds SITE [--failure 3] [--success 2] [--remind 30m|off] [--tags a,b]
                     [--cert-days 14]

SITE is an id, or a URL that only one site has. On `edit`, the `--tag` flags given replace
the site's tags, `--no-tags` removes them and `--name ""` the name. A site's other fields
(`--option`) are the API's, written as a form or a CSV cell writes them:
`expected_status=200-399,404`, `headers=X-Probe: 1`, `method=POST`, `body=...`. The
operator's sites are checked without the target policy, unless added with `--restricted`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from shared.messages.bounds import DEFAULT_REGION
from webmon.cli.common import (
    CliError,
    duration,
    plural,
    read_secret,
    seconds,
    setting,
    whole_seconds,
)
from webmon.cli.format import format_duration, format_table, format_timestamp
from webmon.cli.site_regions import cmd_show, cmd_uptime, status_advisories
from webmon.core import OPERATOR, Core
from webmon.core.errors import Invalid, invalid_from_validation
from webmon.core.site_import import parse_sites, site_of
from webmon.core.site_rules import DEFAULT_CERT_EXPIRY_DAYS, AuthIn, SitePatch
from webmon.core.site_text import fields_from_text
from webmon.core.site_views import Site

DEFAULT_EVERY = "60s"
DEFAULT_SINCE = "30d"
AUTH: TypeAdapter[AuthIn] = TypeAdapter(AuthIn)


def add_commands(commands: Any) -> None:
    sites = commands.add_parser("sites", help="add, import, list, change, disable or enable sites")
    actions = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register one site")
    add.add_argument("url")
    _field_flags(add, every_default=DEFAULT_EVERY)
    add.add_argument(
        "--restricted", action="store_true", help="check it under the target policy, as an API site"
    )
    add.set_defaults(run=cmd_add)
    import_ = actions.add_parser("import", help="register the sites of a CSV file, all or none")
    import_.add_argument("file", type=Path)
    import_.add_argument(
        "--restricted", action="store_true", help="check them under the target policy"
    )
    import_.set_defaults(run=cmd_import)
    list_ = actions.add_parser("list", help="every registered site")
    list_.add_argument(
        "--tag", metavar="KEY[:VALUE]", help="only the sites with this tag (a key: any value)"
    )
    list_.set_defaults(run=cmd_list)
    show = actions.add_parser("show", help="one site: its state, regions and advisories")
    show.add_argument("site", metavar="SITE")
    show.set_defaults(run=cmd_show)
    edit = actions.add_parser("edit", help="change a site's fields")
    edit.add_argument("site", metavar="SITE")
    _field_flags(edit, every_default=None)
    edit.add_argument("--no-tags", action="store_true", help="remove every tag of the site")
    edit.set_defaults(run=cmd_edit)
    for action, help_ in (
        ("disable", "pause sites"),
        ("enable", "resume sites"),
        ("unrestrict", "check sites without the target policy again (you vouch for them)"),
    ):
        toggle = actions.add_parser(action, help=f"{help_}, by id or URL")
        toggle.add_argument("sites", nargs="+", metavar="SITE")
        toggle.set_defaults(run=cmd_toggle, action=action)
    auth = actions.add_parser(
        "auth",
        help="set or clear a site's basic or bearer auth; the secret is asked on a terminal, "
        "else read as one line of stdin",
    )
    auth.add_argument("site", metavar="SITE")
    kind = auth.add_mutually_exclusive_group(required=True)
    kind.add_argument("--basic", metavar="USER", help="basic auth as USER (password: asked)")
    kind.add_argument("--bearer", action="store_true", help="a bearer token (asked)")
    kind.add_argument("--clear", action="store_true", help="remove the site's auth")
    auth.set_defaults(run=cmd_auth)

    status = commands.add_parser("status", help="the latest result of every enabled site")
    status.add_argument("--down", action="store_true", help="only the sites that are down")
    status.set_defaults(run=cmd_status)

    uptime = commands.add_parser("uptime", help="uptime and latency of one site")
    uptime.add_argument("site", metavar="SITE")
    uptime.add_argument("--since", type=seconds, default=DEFAULT_SINCE, help="period (30d)")
    uptime.add_argument(
        "--region", help="one region's checks (default: the site's, by quorum if several regions)"
    )
    uptime.set_defaults(run=cmd_uptime)

    thresholds = commands.add_parser("thresholds", help="a site's incident thresholds")
    thresholds.add_argument("site", metavar="SITE")
    thresholds.add_argument("--failure", type=int, help="down checks that open an incident")
    thresholds.add_argument("--success", type=int, help="up checks that resolve it")
    thresholds.add_argument("--remind", help="remind every DURATION while open, or 'off'")
    thresholds.add_argument(
        "--tags", help="comma-separated tags (key or key:value), replacing the site's"
    )
    thresholds.add_argument(
        "--cert-days", type=int, help="warn this many days before the TLS certificate expires"
    )
    thresholds.set_defaults(run=cmd_thresholds)


def _field_flags(parser: argparse.ArgumentParser, *, every_default: str | None) -> None:
    parser.add_argument("--name", help="a display name, shown instead of the URL")
    parser.add_argument(
        "--tag", dest="tags", action="append", default=[], metavar="KEY[:VALUE]",
        help="a tag (repeat the flag for more), e.g. env:prod",
    )  # fmt: skip
    parser.add_argument(
        "--every", type=whole_seconds, default=every_default, help="check interval (60s)"
    )
    parser.add_argument("--timeout", type=seconds, help="per check (default: min(10s, every))")
    parser.add_argument("--regex", help="RE2 pattern the page must contain")
    parser.add_argument(
        "--region", dest="regions", action="append", metavar="NAME",
        help="a region to check it from (repeat for several; default: the default region)",
    )  # fmt: skip
    parser.add_argument(
        "--quorum", help="regions that must see it down to be down ('majority': the default)"
    )
    parser.add_argument(
        "--cert-expiry-days", metavar="DAYS",
        help="warn this many days before its TLS certificate expires (default 14)",
    )  # fmt: skip
    parser.add_argument(
        "--option", dest="options", type=setting, action="append", default=[],
        metavar="FIELD=VALUE", help="any other field of a site, as the API names it",
    )  # fmt: skip


def _fields(args: argparse.Namespace) -> dict[str, str]:
    """The site's fields the command line gives, as text."""
    fields: dict[str, str] = {}
    if args.name is not None:
        fields["name"] = args.name
    if args.tags:
        fields["tags"] = ",".join(args.tags)
    elif getattr(args, "no_tags", False):
        fields["tags"] = ""
    if args.every is not None:
        fields["interval_seconds"] = str(args.every)
    if args.timeout is not None:
        fields["timeout_seconds"] = f"{args.timeout:g}"
    if args.regex is not None:
        fields["regex"] = args.regex
    if args.regions:
        fields["regions"] = ", ".join(args.regions)
    if args.quorum is not None:
        # "majority" (or nothing) is the default, null; a number is a fixed quorum.
        fields["quorum"] = "" if args.quorum.strip().lower() == "majority" else args.quorum
    if args.cert_expiry_days is not None:
        fields["cert_expiry_days"] = args.cert_expiry_days
    fields.update(args.options)
    return fields


def _described(site: Site) -> str:
    described = (
        f"every {format_duration(site.interval_seconds)},"
        f" timeout {format_duration(site.timeout_seconds)}"
    )
    if site.regex is not None:
        described += f", regex {site.regex!r}"
    if site.name is not None:
        described += f", name {site.name!r}"
    if site.tags:
        described += f", tags {','.join(site.tags)}"
    if site.regions != [DEFAULT_REGION]:
        described += f", from {', '.join(site.regions)}"
    if site.cert_expiry_days != DEFAULT_CERT_EXPIRY_DAYS:
        described += f", certificate warning {site.cert_expiry_days} days ahead"
    return described


async def cmd_add(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = site_of({"url": args.url, **_fields(args)})
    site_id = await core.sites.add(OPERATOR, site, restricted=args.restricted)
    added = await core.sites.get(site_id)
    described = _described(added)
    print(f"added site {site_id}: {added.url} ({described})", file=out)
    return 0


async def cmd_import(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    path: Path = args.file
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    parsed = parse_sites(text)
    try:
        ids = await core.sites.add_many(OPERATOR, parsed.sites, restricted=args.restricted)
    except Invalid as exc:
        raise parsed.line_of(exc) from None
    print(f"imported {plural(len(ids), 'site')} from {path}", file=out)
    return 0


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    sites = await core.sites.every(tag=args.tag)
    cells = [
        [
            str(s.id),
            "yes" if s.enabled else "no",
            format_duration(s.interval_seconds),
            format_duration(s.timeout_seconds),
            s.regex if s.regex is not None else "-",
            s.name or "-",
            ",".join(s.tags) or "-",
            s.url,
        ]
        for s in sites
    ]
    headers = ["id", "enabled", "every", "timeout", "regex", "name", "tags", "url"]
    print(format_table(headers, cells, "rlrrllll"), file=out)
    enabled = sum(1 for s in sites if s.enabled)
    print(f"{plural(len(sites), 'site')}, {enabled} enabled", file=out)
    return 0


async def cmd_edit(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = await core.sites.find(args.site)
    try:
        patch = SitePatch.model_validate(fields_from_text(_fields(args)))
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    await core.sites.change(OPERATOR, site.id, patch)
    changed = await core.sites.get(site.id)
    described = _described(changed)
    print(f"changed site {site.id}: {changed.url} ({described})", file=out)
    return 0


async def cmd_toggle(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    sites = [await core.sites.find(ref) for ref in args.sites]  # every one, before any change
    if args.action == "unrestrict":
        for site in sites:
            await core.sites.unrestrict(OPERATOR, site.id)
            print(f"site {site.id}: {site.url}: checked without the target policy", file=out)
        return 0
    enabled = args.action == "enable"
    for site in await core.sites.set_enabled(OPERATOR, [s.id for s in sites], enabled):
        print(f"{args.action}d site {site.id}: {site.url}", file=out)
    return 0


async def cmd_auth(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = await core.sites.find(args.site)
    if args.clear:
        await core.sites.set_auth(OPERATOR, site.id, None)
        had = "auth removed" if site.auth_kind else "had no auth"
        print(f"site {site.id}: {site.url}: {had}", file=out)
        return 0
    if not core.sites.can_seal:  # before asking for a secret it could not keep
        raise CliError("WEBMON_SECRET_KEY is not set: it seals the secret for the checkers")
    given: dict[str, str]
    if args.basic is not None:
        given = {"kind": "basic", "username": args.basic, "password": read_secret("Password: ")}
    else:
        given = {"kind": "bearer", "token": read_secret("Token: ")}
    try:  # the API's rules for auth, word for word
        auth: AuthIn = AUTH.validate_python(given)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    await core.sites.set_auth(OPERATOR, site.id, auth)
    who = f" as {args.basic}" if args.basic is not None else ""
    print(f"site {site.id}: {site.url}: {auth.kind} auth{who} set (sealed)", file=out)
    return 0


async def cmd_status(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    sites = await core.sites.every(enabled=True)
    if args.down:
        sites = [s for s in sites if s.status is not None and not s.status.up]
    cells = []
    for s in sites:
        st = s.status
        state = "-" if st is None else ("UP" if st.up else "DOWN")
        cells.append(
            [
                str(s.id),
                state,
                "-" if st is None or st.status_code is None else str(st.status_code),
                "-" if st is None or st.response_time_ms is None else f"{st.response_time_ms:.1f}",
                "-" if st is None or st.regex_matched is None
                else ("match" if st.regex_matched else "no match"),
                format_timestamp(None if st is None else st.checked_at),
                (st.cause if st is not None else None) or "-",
                s.url,
            ]
        )  # fmt: skip
    headers = ["id", "state", "code", "ms", "regex", "last check (UTC)", "why down", "url"]
    print(format_table(headers, cells, "rlrrllll"), file=out)
    up = sum(1 for s in sites if s.status is not None and s.status.up)
    down = sum(1 for s in sites if s.status is not None and not s.status.up)
    if args.down:
        print(f"{down} down", file=out)
    else:
        pending = len(sites) - up - down
        summary = f"{up} up, {down} down, {pending} not checked yet"
        print(f"{plural(len(sites), 'site')}: {summary}", file=out)
    await status_advisories(core, sites, out)
    return 0


async def cmd_thresholds(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    site = await core.sites.find(args.site)
    reminder: int | None = None
    if args.remind is not None and args.remind != "off":
        try:
            reminder = duration(args.remind)
        except argparse.ArgumentTypeError as exc:
            raise CliError(f"--remind: {exc}") from None
    tags = None if args.tags is None else [t.strip() for t in args.tags.split(",") if t.strip()]
    found = await core.sites.set_thresholds(
        OPERATOR, site.id, failure=args.failure, success=args.success,
        reminder=reminder, set_reminder=args.remind is not None, tags=tags,
        cert_days=args.cert_days,
    )  # fmt: skip
    every = "off" if found.reminder_interval_seconds is None else format_duration(
        found.reminder_interval_seconds
    )  # fmt: skip
    print(f"site {found.id}: opens after {found.failure_threshold} down, resolves after"
          f" {found.success_threshold} up, reminders {every}, tags"
          f" {','.join(found.tags) or '-'}, certificate warning"
          f" {found.cert_expiry_days} days ahead", file=out)  # fmt: skip
    return 0
