"""`webmon status-pages …`: the public status pages and the incidents told on them.

webmon status-pages add SLUG --title TITLE [--description D] [--logo-url URL] [--days 90]
                        [--show-urls] [--group "Name: 1, 2, 3" | --group "Name: tag=prod"]…
webmon status-pages list / show SLUG / remove SLUG
webmon status-pages incident SLUG --title T --body B [--status S] [--site ID]… [--from-incident ID]
webmon status-pages update SLUG INCIDENT --status S --body B
webmon status-pages postmortem SLUG INCIDENT --body B
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from pydantic import ValidationError

from webmon.cli.format import format_table, format_timestamp
from webmon.core import OPERATOR, Core
from webmon.core.errors import invalid_from_validation
from webmon.core.status_page_text import groups_from_text, groups_to_text
from webmon.core.status_pages import (
    STATUSES,
    IncidentIn,
    IncidentPatch,
    PageIn,
    UpdateIn,
)


def _model(model: Any, fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None


def add_commands(commands: Any) -> None:
    pages = commands.add_parser("status-pages", help="public status pages and their incidents")
    actions = pages.add_subparsers(dest="status_pages_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a status page (public at /status/SLUG)")
    add.add_argument("slug")
    add.add_argument("--title", required=True)
    add.add_argument("--description", default="")
    add.add_argument("--logo-url")
    add.add_argument("--days", type=int, default=90, help="days each site's bar shows")
    add.add_argument("--show-urls", action="store_true", help="print URLs beside names")
    add.add_argument("--group", action="append", default=[],
                     help="'Name: 1, 2, 3' (site ids) or 'Name: tag=prod'; repeatable")  # fmt: skip
    add.set_defaults(run=cmd_add)
    actions.add_parser("list", help="every status page").set_defaults(run=cmd_list)
    show = actions.add_parser("show", help="a page's groups and its incidents")
    show.add_argument("slug")
    show.set_defaults(run=cmd_show)
    remove = actions.add_parser("remove", help="remove a page and its incidents")
    remove.add_argument("slug")
    remove.set_defaults(run=cmd_remove)
    told = actions.add_parser("incident", help="tell an incident on a page")
    told.add_argument("slug")
    told.add_argument("--title")
    told.add_argument("--body", help="Markdown")
    told.add_argument("--status", choices=STATUSES, default="investigating")
    told.add_argument("--site", type=int, action="append", help="an affected site's id")
    told.add_argument("--from-incident", type=int, help="a detected incident's id")
    told.set_defaults(run=cmd_incident)
    update = actions.add_parser("update", help="post an update of an incident")
    update.add_argument("slug")
    update.add_argument("incident", type=int)
    update.add_argument("--status", choices=STATUSES, required=True)
    update.add_argument("--body", required=True, help="Markdown")
    update.set_defaults(run=cmd_update)
    pm = actions.add_parser("postmortem", help="write a resolved incident's post-mortem")
    pm.add_argument("slug")
    pm.add_argument("incident", type=int)
    pm.add_argument("--body", required=True, help="Markdown")
    pm.set_defaults(run=cmd_postmortem)


async def cmd_add(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    page = _model(PageIn, {
        "slug": args.slug, "title": args.title, "description": args.description,
        "logo_url": args.logo_url, "days_shown": args.days, "show_urls": args.show_urls,
        "groups": groups_from_text("\n".join(args.group)),
    })  # fmt: skip
    added = await core.status_pages.add(OPERATOR, page)
    print(f"added status page {added.slug}: public at /status/{added.slug}", file=out)
    return 0


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    cells = [[p.slug, p.title, str(len(p.groups)), str(p.days_shown)]
             for p in await core.status_pages.every()]  # fmt: skip
    print(format_table(["slug", "title", "groups", "days"], cells, "llrr"), file=out)
    return 0


async def cmd_show(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    page = await core.status_pages.get(args.slug)
    print(f"{page.title} (/status/{page.slug}, {page.days_shown} days)", file=out)
    print(groups_to_text(page.groups), file=out)
    cells = [[str(i.id), i.status, i.title, format_timestamp(i.opened_at),
              format_timestamp(i.resolved_at), str(len(i.updates))]
             for i in await core.status_pages.incidents(args.slug)]  # fmt: skip
    headers = ["id", "status", "title", "opened (UTC)", "resolved (UTC)", "updates"]
    print(format_table(headers, cells, "rlllll"), file=out)
    return 0


async def cmd_remove(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    await core.status_pages.remove(OPERATOR, args.slug)
    print(f"removed status page {args.slug}", file=out)
    return 0


async def cmd_incident(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    told = _model(IncidentIn, {
        "title": args.title, "body": args.body, "status": args.status,
        "site_ids": args.site, "incident_id": args.from_incident,
    })  # fmt: skip
    opened = await core.status_pages.open_incident(OPERATOR, args.slug, told)
    print(f"incident {opened.id} on {args.slug}: {opened.title} ({opened.status})", file=out)
    return 0


async def cmd_update(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    update = _model(UpdateIn, {"status": args.status, "body": args.body})
    changed = await core.status_pages.post_update(OPERATOR, args.slug, args.incident, update)
    print(f"incident {changed.id} on {args.slug} is {changed.status}", file=out)
    return 0


async def cmd_postmortem(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    patch = _model(IncidentPatch, {"postmortem": args.body})
    await core.status_pages.change_incident(OPERATOR, args.slug, args.incident, patch)
    print(f"post-mortem of incident {args.incident} on {args.slug} saved", file=out)
    return 0
