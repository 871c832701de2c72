"""What the command groups share: their errors, the types of their arguments, and how a
secret or a password is read."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TextIO

from shared.errors import WebmonError
from webmon.cli.format import parse_duration
from webmon.core import Core

PROGRAM = "webmon"
# A command: what it does with the core, given its arguments; its exit status.
Command = Callable[[Core, argparse.Namespace, TextIO], Awaitable[int]]


class CliError(WebmonError):
    """A mistake on the command line or in an input file (exit status 1)."""


def seconds(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than zero: {text!r}")
    return value


def whole_seconds(text: str) -> int:
    value = seconds(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"whole seconds only: {text!r}")
    return int(value)


def duration(text: str) -> int:
    """Whole seconds, at least one."""
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"whole seconds, at least 1: {text!r}")
    return int(value)


def moment(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"KEY=VALUE expected: {text!r}")
    return key.strip(), value.strip()


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


def read_password(prompt: str = "Password: ") -> str:
    """From the terminal (asked twice, not echoed), or one line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if first != getpass.getpass("Again: "):
            raise CliError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"
