"""`webmon doctor`: can this configuration work? One line per check, exit 1 on any FAIL."""

from __future__ import annotations

import argparse
from itertools import chain
from typing import Any, TextIO

from migrations.settings import MigrateSettings
from shared.settings import load_settings
from webmon.cli.common import PROGRAM
from webmon.core.doctor import Outcome, database_checks, kafka_checks


def add_commands(commands: Any) -> None:
    doctor = commands.add_parser("doctor", help="check PostgreSQL, migrations, Kafka, topics")
    doctor.set_defaults(run=None)


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    settings = load_settings(MigrateSettings, PROGRAM)
    failed = False
    # Each line as soon as its check is done: an unreachable Kafka takes a while.
    database = database_checks(settings.database_url.get_secret_value())
    for check in chain(database, kafka_checks(settings)):
        print(check.line(), file=out, flush=True)
        failed = failed or check.outcome is Outcome.FAIL
    return 1 if failed else 0
