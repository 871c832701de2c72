"""`webmon tasks list [--status NAME] [--limit 30]` and `webmon tasks show TASK_ID`: the
on-demand checks submitted through the API and the dashboard, and their results."""

from __future__ import annotations

import argparse
import uuid
from typing import Any, TextIO

import orjson

from shared.causes import why_down
from shared.durations import seconds
from shared.task_status import TaskStatus
from webmon.cli.common import CliError
from webmon.cli.format import format_table, format_timestamp
from webmon.core import Core
from webmon.core.tasks import Task


def add_commands(commands: Any) -> None:
    tasks = commands.add_parser("tasks", help="on-demand checks and their results")
    actions = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
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


async def cmd_list(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    status = None if args.status is None else TaskStatus[args.status]
    cells = [
        [
            str(t.task_id), t.status.name, format_timestamp(t.created_at),
            "-" if t.duration_s is None else seconds(t.duration_s), _outcome(t), t.url,
        ]
        for t in await core.tasks.page(status=status, limit=args.limit)
    ]  # fmt: skip
    headers = ["task", "status", "submitted (UTC)", "took", "result", "url"]
    print(format_table(headers, cells, "lllrll"), file=out)
    return 0


async def cmd_show(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    try:
        task_id = uuid.UUID(args.task_id)
    except ValueError:
        raise CliError(f"not a task id: {args.task_id!r}") from None
    task = await core.tasks.get(task_id)
    body = {"task_id": task.task_id, "name": task.name, "url": task.url,
            "status": int(task.status), "status_name": task.status.name,
            "created_at": task.created_at, "started_at": task.started_at,
            "finished_at": task.finished_at, "result": task.result}  # fmt: skip
    print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode(), file=out)
    return 0
