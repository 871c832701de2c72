"""`webmon import-results FILE.csv`: checks from elsewhere (another monitor's history, a
backup), stored as history like webmon's own (`webmon.core.results`).

The header row names `check_results` columns: `site_id` or `url`, `scheduled_at` and `up`
at least. All rows or none; a refusal names its line. The next maintenance pass rolls the
imported days up and packs them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from webmon.cli.common import CliError
from webmon.cli.format import format_timestamp
from webmon.core import OPERATOR, Core


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "import-results", help="store checks from a CSV file (another monitor's history)"
    )
    parser.add_argument("file", type=Path)
    parser.set_defaults(run=cmd_import_results)


async def cmd_import_results(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    path: Path = args.file
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
        with path.open(encoding="utf-8-sig", newline="") as lines:
            imported = await core.results.import_csv(OPERATOR, lines)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    known = imported.read - imported.stored
    span = ""
    if imported.first is not None and imported.last is not None:
        span = f", {format_timestamp(imported.first)} to {format_timestamp(imported.last)} UTC"
    print(
        f"stored {imported.stored} of {imported.read} checks from {path}{span}"
        f" ({known} stored before); maintenance rolls them up and packs them",
        file=out,
    )
    return 0
