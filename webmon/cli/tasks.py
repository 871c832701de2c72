"""`webmon tasks check SITE [--region NAME|all] [--wait DURATION]`, `webmon tasks list
[--status NAME] [--limit 30]` and `webmon tasks show TASK_ID`: on-demand checks, one task
per region, and their results."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any, TextIO

import orjson

from shared.causes import why_down
from shared.durations import seconds
from shared.task_status import TaskStatus
from webmon.cli.common import CliError
from webmon.cli.common import seconds as seconds_arg
from webmon.cli.format import format_table, format_timestamp
from webmon.core import Core
from webmon.core.actors import OPERATOR
from webmon.core.tasks import Task

# How often `check --wait` reads its tasks again.
WAIT_STEP_S = 0.5


def add_commands(commands: Any) -> None:
    tasks = commands.add_parser("tasks", help="on-demand checks and their results")
    actions = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="check a site now, from one of its regions or from each (a task each)"
    )
    check.add_argument("site", metavar="SITE", help="the site's id or URL")
    check.add_argument(
        "--region", help="one of the site's regions, or all (the default: each of them)"
    )
    check.add_argument(
        "--wait", type=seconds_arg, metavar="DURATION",
        help="wait up to this long (30s, 2m) for the results and print them",
    )  # fmt: skip
    check.set_defaults(run=cmd_check)
    list_ = actions.add_parser("list", help="tasks, newest first")
    list_.add_argument("--status", choices=[s.name for s in TaskStatus])
    list_.add_argument("--limit", type=int, default=30)
    list_.set_defaults(run=cmd_list)
    show = actions.add_parser("show", help="one task and its result, as JSON")
    show.add_argument("task_id")
    show.set_defaults(run=cmd_show)


def _outcome(task: Task) -> str:
    result = task.result
    if result is None:
        return "-"
    if result.get("up"):
        return "up"
    return why_down(result.get("status_code"), result.get("error"), result.get("regex_matched"))


def _table(tasks: list[Task]) -> str:
    cells = [
        [
            str(t.task_id), t.region, t.status.name, format_timestamp(t.created_at),
            "-" if t.duration_s is None else seconds(t.duration_s), _outcome(t), t.url,
        ]
        for t in tasks
    ]  # fmt: skip
    headers = ["task", "region", "status", "submitted (UTC)", "took", "result", "url"]
    return format_table(headers, cells, "llllrll")


async def cmd_check(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    """One task per region asked; with --wait, their results once final (exit status 1
    when the wait ran out first)."""
    site = await core.sites.find(args.site)
    submitted = await core.tasks.check_site(OPERATOR, site, args.region)
    for task_id, region in submitted.tasks:
        print(f"task {task_id}: site {site.id} from {region}", file=out)
    if args.wait is None:
        return 0
    deadline = time.monotonic() + args.wait
    while True:
        tasks = [await core.tasks.get(task_id) for task_id in submitted.task_ids]
        if all(t.final for t in tasks) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(WAIT_STEP_S)
    print(_table(tasks), file=out)
    return 0 if all(t.final for t in tasks) else 1


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    status = None if args.status is None else TaskStatus[args.status]
    print(_table(await core.tasks.page(status=status, limit=args.limit)), file=out)
    return 0


async def cmd_show(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    try:
        task_id = uuid.UUID(args.task_id)
    except ValueError:
        raise CliError(f"not a task id: {args.task_id!r}") from None
    task = await core.tasks.get(task_id)
    body = {"task_id": task.task_id, "name": task.name, "url": task.url,
            "region": task.region, "request_id": task.request_id, "status": int(task.status),
            "status_name": task.status.name,
            "created_at": task.created_at, "started_at": task.started_at,
            "finished_at": task.finished_at, "result": task.result}  # fmt: skip
    print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode(), file=out)
    return 0
