"""`webmon`: register sites, read their status and uptime, check a configuration.

    webmon sites add URL [--every 30s] [--timeout 5s] [--regex PATTERN]
    webmon sites import FILE.csv       header row: url[,interval_seconds][,timeout_seconds][,regex]
    webmon sites list
    webmon sites disable SITE... / webmon sites enable SITE...   (SITE: an id or a URL)
    webmon sites auth SITE --basic USER | --bearer | --clear
                                 (the secret: asked on a terminal, else one line of stdin;
                                  sealed with WEBMON_SECRET_KEY, never an argument)
    webmon status [--down]
    webmon uptime SITE [--since 30d]
    webmon keys create --name NAME --scope read|write|admin   (the key is the last line)
    webmon keys list / webmon keys revoke KEY                 (KEY: an id or a name)
    webmon users add NAME        (the password: asked on a terminal, else one line of stdin)
    webmon users link NAME       (a one-time login path)
    webmon doctor
    webmon channels / thresholds / windows / incidents / notifications   (alerting: see
                                                              webmon/cli_alerting.py)

Every command but `doctor` needs only WEBMON_DATABASE_URL; its SQL is the read model's
`sites.sql`, the same statements the README shows (plain SQL stays a first-class way in).
Output goes to stdout; an error is one line on stderr and exit status 1 (2 for a bad
setting).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from psycopg import sql
from pydantic import TypeAdapter, ValidationError

from migrations.settings import MigrateSettings
from shared.db import Connection, connect, translated_errors
from shared.errors import DatabaseError, WebmonError
from shared.logs import configure_logging
from shared.sealing import KEY_VARIABLE
from shared.settings import SecretKeySettings, load_settings
from webmon import cli_alerting, readmodel
from webmon.api.schemas import AuthIn
from webmon.cli_format import format_duration, format_table, format_timestamp, parse_duration
from webmon.doctor import Outcome, database_checks, kafka_checks
from webmon.keys import Scope, key_hash, new_key, shown_part
from webmon.readmodel import KEYS
from webmon.settings import CliSettings
from webmon.sites import auth_params
from webmon.users import add_user, login_link

PROGRAM = "webmon"
QUERIES = readmodel.SITES
# The columns' defaults (migrations/0001_sites.sql): every 60 s; the timeout is filled in
# by the database as min(10 s, interval).
DEFAULT_EVERY = "60s"
DEFAULT_SINCE = "30d"
IMPORT_COLUMNS = ("url", "interval_seconds", "timeout_seconds", "regex")
COPY_CHUNK_CHARS = 1 << 20
MIN_PASSWORD = 8


class CliError(WebmonError):
    """A mistake on the command line or in an input file."""


# -- arguments ----------------------------------------------------------------------------


def _seconds(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than zero: {text!r}")
    return seconds


def _whole_seconds(text: str) -> int:
    seconds = _seconds(text)
    if seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"whole seconds only: {text!r}")
    return int(seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Register sites and read their checks."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sites = commands.add_parser("sites", help="add, import, list, disable or enable sites")
    site_commands = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    add = site_commands.add_parser("add", help="register one site")
    add.add_argument("url")
    add.add_argument(
        "--every", type=_whole_seconds, default=DEFAULT_EVERY, help="check interval (60s)"
    )
    add.add_argument("--timeout", type=_seconds, help="per check (default: min(10s, every))")
    add.add_argument("--regex", help="RE2 pattern the page must contain")
    add.set_defaults(run=cmd_sites_add)
    import_ = site_commands.add_parser("import", help="register the sites of a CSV file")
    import_.add_argument("file", type=Path)
    import_.set_defaults(run=cmd_sites_import)
    list_ = site_commands.add_parser("list", help="every registered site")
    list_.set_defaults(run=cmd_sites_list)
    for action, enabled in (("disable", False), ("enable", True)):
        toggle = site_commands.add_parser(action, help=f"{action} sites by id or URL")
        toggle.add_argument("sites", nargs="+", metavar="SITE")
        toggle.set_defaults(run=cmd_sites_toggle, enabled=enabled)
    auth = site_commands.add_parser(
        "auth",
        help="set or clear a site's basic or bearer auth; the secret is asked on a terminal, "
        "else read as one line of stdin",
    )
    auth.add_argument("site", metavar="SITE")
    kind = auth.add_mutually_exclusive_group(required=True)
    kind.add_argument("--basic", metavar="USER", help="basic auth as USER (password: asked)")
    kind.add_argument("--bearer", action="store_true", help="a bearer token (asked)")
    kind.add_argument("--clear", action="store_true", help="remove the site's auth")
    auth.set_defaults(run=cmd_sites_auth)

    status = commands.add_parser("status", help="the latest result of every enabled site")
    status.add_argument("--down", action="store_true", help="only the sites that are down")
    status.set_defaults(run=cmd_status)

    uptime = commands.add_parser("uptime", help="uptime and latency of one site")
    uptime.add_argument("site", metavar="SITE")
    uptime.add_argument("--since", type=_seconds, default=DEFAULT_SINCE, help="period (30d)")
    uptime.set_defaults(run=cmd_uptime)

    keys = commands.add_parser("keys", help="create, list or revoke API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="make a key; it is shown this once")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--scope", required=True, choices=[s.value for s in Scope])
    create.set_defaults(run=cmd_keys_create)
    key_list = key_commands.add_parser("list", help="every key (never the keys themselves)")
    key_list.set_defaults(run=cmd_keys_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key", metavar="KEY")
    revoke.set_defaults(run=cmd_keys_revoke)

    users = commands.add_parser("users", help="dashboard users")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add_user = user_commands.add_parser(
        "add", help="add a user (or set a password): asked on a terminal, else one stdin line"
    )
    add_user.add_argument("name")
    add_user.set_defaults(run=cmd_users_add)
    link = user_commands.add_parser("link", help="print a one-time login path for a user")
    link.add_argument("name")
    link.set_defaults(run=cmd_users_link)
    cli_alerting.add_commands(commands)

    doctor = commands.add_parser("doctor", help="check PostgreSQL, migrations, Kafka, topics")
    doctor.set_defaults(run=None)
    return parser


def _site_params(site: str) -> dict[str, Any]:
    """SITE is an id when it is all digits, else a URL."""
    if site.isdigit():
        return {"site_id": int(site), "url": None}
    return {"site_id": None, "url": site}


def _no_such_site(site: str) -> CliError:
    return CliError(f"no site with {'id' if site.isdigit() else 'URL'} {site}")


# -- commands -----------------------------------------------------------------------------


def cmd_sites_add(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    params = {
        "url": args.url,
        "interval_seconds": args.every,
        "timeout_seconds": args.timeout,
        "regex": args.regex,
    }
    row = conn.execute(QUERIES["add_site"], params).fetchone()
    assert row is not None
    site_id, every, timeout, regex = row
    described = f"every {format_duration(every)}, timeout {format_duration(timeout)}"
    if regex is not None:
        described += f", regex {regex!r}"
    print(f"added site {site_id}: {args.url} ({described})", file=out)
    return 0


def import_columns(path: Path, header: Sequence[str]) -> list[str]:
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in IMPORT_COLUMNS]
    if unknown:
        raise CliError(
            f"{path}: unknown column {unknown[0]!r} in the header row "
            f"(columns: {', '.join(IMPORT_COLUMNS)})"
        )
    if "url" not in columns:
        raise CliError(f"{path}: the header row has no url column")
    if len(set(columns)) != len(columns):
        raise CliError(f"{path}: a column is named twice in the header row")
    return columns


def cmd_sites_import(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    path: Path = args.file
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), None)
            if header is None:
                raise CliError(f"{path}: empty file (expected a header row)")
            columns = import_columns(path, header)
            f.seek(0)
            copy_sql = sql.SQL(QUERIES["import_sites"]).format(
                columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
            with conn.cursor() as cur:
                with cur.copy(copy_sql) as copy:
                    while chunk := f.read(COPY_CHUNK_CHARS):
                        copy.write(chunk)
                imported = cur.rowcount
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    print(f"imported {imported} site{'s' if imported != 1 else ''} from {path}", file=out)
    return 0


def cmd_sites_list(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(QUERIES["list_sites"]).fetchall()
    cells = [
        [
            str(site_id),
            "yes" if enabled else "no",
            format_duration(every),
            format_duration(timeout),
            regex if regex is not None else "-",
            url,
        ]
        for site_id, enabled, every, timeout, regex, url in rows
    ]
    headers = ["id", "enabled", "every", "timeout", "regex", "url"]
    print(format_table(headers, cells, "rlrrll"), file=out)
    enabled_count = sum(1 for row in rows if row[1])
    print(f"{len(rows)} site{'s' if len(rows) != 1 else ''}, {enabled_count} enabled", file=out)
    return 0


def cmd_sites_toggle(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    verb = "enabled" if args.enabled else "disabled"
    changed = []
    for site in args.sites:
        rows = conn.execute(
            QUERIES["set_enabled"], {"enabled": args.enabled, **_site_params(site)}
        ).fetchall()
        if not rows:
            raise _no_such_site(site)
        changed.extend(rows)
    for site_id, url in changed:
        print(f"{verb} site {site_id}: {url}", file=out)
    return 0


def _one_site(conn: Connection, site: str) -> tuple[int, str]:
    sites = conn.execute(QUERIES["find_sites"], _site_params(site)).fetchall()
    if not sites:
        raise _no_such_site(site)
    if len(sites) > 1:
        ids = ", ".join(str(site_id) for site_id, _ in sites)
        raise CliError(f"{len(sites)} sites have the URL {site} (ids {ids}); give an id")
    return int(sites[0][0]), str(sites[0][1])


AUTH: TypeAdapter[AuthIn] = TypeAdapter(AuthIn)


def read_secret(prompt: str) -> str:
    """From the terminal (not echoed), or one line of standard input: never an argument,
    which other users of the machine could read in the process list."""
    if sys.stdin.isatty():
        secret = getpass.getpass(prompt)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise CliError("an empty secret")
    return secret


def cmd_sites_auth(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    site_id, url = _one_site(conn, args.site)
    if args.clear:
        cleared = conn.execute(QUERIES["clear_site_auth"], {"site_id": site_id}).fetchone()
        print(f"site {site_id}: {url}: {'auth removed' if cleared else 'had no auth'}", file=out)
        return 0
    box = load_settings(SecretKeySettings, PROGRAM).secret_box()
    if box is None:
        raise CliError(f"{KEY_VARIABLE} is not set: it seals the secret for the checkers")
    given: dict[str, str]
    if args.basic is not None:
        given = {"kind": "basic", "username": args.basic, "password": read_secret("Password: ")}
    else:
        given = {"kind": "bearer", "token": read_secret("Token: ")}
    try:  # the API's rules for auth, word for word
        auth: AuthIn = AUTH.validate_python(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"][1:])  # after the kind's tag
        raise CliError(f"auth {where}: {error['msg']}") from None
    conn.execute(QUERIES["set_site_auth"], auth_params(box, site_id, auth))
    who = f" as {args.basic}" if args.basic is not None else ""
    print(f"site {site_id}: {url}: {auth.kind} auth{who} set (sealed)", file=out)
    return 0


def cmd_status(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(QUERIES["status"], {"down_only": args.down}).fetchall()
    cells = []
    for site_id, up, code, ms, matched, checked_at, error, url in rows:
        state = "-" if up is None else ("UP" if up else "DOWN")
        cells.append(
            [
                str(site_id),
                state,
                "-" if code is None else str(code),
                "-" if ms is None else f"{ms:.1f}",
                "-" if matched is None else ("match" if matched else "no match"),
                format_timestamp(checked_at),
                error or "-",
                url,
            ]
        )
    headers = ["id", "state", "code", "ms", "regex", "last check (UTC)", "error", "url"]
    print(format_table(headers, cells, "rlrrllll"), file=out)
    up_count = sum(1 for row in rows if row[1] is True)
    down_count = sum(1 for row in rows if row[1] is False)
    if args.down:
        print(f"{down_count} down", file=out)
    else:
        pending = len(rows) - up_count - down_count
        summary = f"{up_count} up, {down_count} down, {pending} not checked yet"
        print(f"{len(rows)} site{'s' if len(rows) != 1 else ''}: {summary}", file=out)
    return 0


def cmd_uptime(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    site_id, url = _one_site(conn, args.site)
    row = conn.execute(
        QUERIES["uptime"], {"site_id": site_id, "since": timedelta(seconds=args.since)}
    ).fetchone()
    assert row is not None
    checks, up_checks, uptime_pct, p50, p95, missed = row
    print(f"site     {site_id} {url}", file=out)
    print(f"period   last {format_duration(args.since)}", file=out)
    print(f"checks   {checks} ({up_checks} up)", file=out)
    if missed:
        print(f"missed   {missed} slots not checked in time (not in the uptime)", file=out)
    print(f"uptime   {'-' if uptime_pct is None else f'{uptime_pct:.2f}%'}", file=out)
    latency = "-" if p50 is None else f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    print(f"latency  {latency}", file=out)
    return 0


def cmd_keys_create(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    key = new_key()
    params = {
        "name": args.name,
        "scope": args.scope,
        "prefix": shown_part(key),
        "sha256": key_hash(key),
    }
    row = conn.execute(KEYS["create_key"], params).fetchone()
    assert row is not None
    print(f"created key {row[0]} ({args.name}, scope {args.scope});"
          " it is shown this once, keep it:", file=out)  # fmt: skip
    print(key, file=out)
    return 0


def cmd_keys_list(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    rows = conn.execute(KEYS["list_keys"]).fetchall()
    cells = [
        [
            str(key_id),
            name,
            scope,
            f"{prefix}…",
            format_timestamp(created_at),
            format_timestamp(last_used_at),
            "revoked " + format_timestamp(revoked_at) if revoked_at else "live",
        ]
        for key_id, name, scope, prefix, created_at, last_used_at, revoked_at in rows
    ]
    headers = ["id", "name", "scope", "key", "created (UTC)", "last used (UTC)", "state"]
    print(format_table(headers, cells, "rllllll"), file=out)
    return 0


def cmd_keys_revoke(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    key = args.key
    params = {"key_id": int(key) if key.isdigit() else None, "name": None if key.isdigit() else key}
    rows = conn.execute(KEYS["revoke_key"], params).fetchall()
    if not rows:
        raise CliError(f"no live key with {'id' if key.isdigit() else 'name'} {key}")
    conn.execute(KEYS["notify_keys_changed"])
    for key_id, name in rows:
        print(f"revoked key {key_id} ({name})", file=out)
    return 0


def read_password(prompt: str = "Password: ") -> str:
    """From the terminal (asked twice, not echoed), or one line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if first != getpass.getpass("Again: "):
            raise CliError("the two passwords differ")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise CliError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def cmd_users_add(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    user_id = add_user(conn, args.name, read_password())
    print(f"user {args.name} can log in to the dashboard (id {user_id})", file=out)
    return 0


def cmd_users_link(conn: Connection, args: argparse.Namespace, out: TextIO) -> int:
    path = login_link(conn, args.name)
    if path is None:
        raise CliError(f"no user {args.name}")
    print(f"a login link for {args.name}, valid once within an hour:", file=out)
    print(path, file=out)
    return 0


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    settings = load_settings(MigrateSettings, PROGRAM)
    failed = False
    # Each line as soon as its check is done: an unreachable Kafka takes a while.
    database = database_checks(settings.database_url.get_secret_value())
    for check in chain(database, kafka_checks(settings)):
        print(check.line(), file=out, flush=True)
        failed = failed or check.outcome is Outcome.FAIL
    return 1 if failed else 0


# -- entry point --------------------------------------------------------------------------


def _database_command(
    command: Callable[[Connection, argparse.Namespace, TextIO], int],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    settings = load_settings(CliSettings, PROGRAM)
    conn = connect(settings.database_url.get_secret_value(), application_name="webmon-cli")
    with translated_errors(), conn:
        return command(conn, args, out)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out if out is not None else sys.stdout
    configure_logging("WARNING")
    try:
        if args.command == "doctor":
            return cmd_doctor(args, out)
        return _database_command(args.run, args, out)
    except DatabaseError as exc:
        where = f" ({exc.context})" if exc.context else ""
        print(f"{PROGRAM}: {exc}{where}", file=sys.stderr)
    except WebmonError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
