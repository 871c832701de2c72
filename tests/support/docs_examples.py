"""The docs' examples, found in the Markdown by sybil and run against a running webmon.

What runs, and how a page marks it (docs/ and README.md):

- a ```` ```console ```` block: each `$ ` line is a command (`> ` lines and a trailing `\\`
  continue it, a here-document runs to its delimiter), and the lines after it are its
  expected output. The command must exit 0; the output, when one is shown, must match it
  as a doctest does with ELLIPSIS and NORMALIZE_WHITESPACE (`…` and `...` stand for
  anything). Commands of one page run one after another in one folder, and variables one
  sets (`KEY=$(…)`) are seen by the next.
- a ```` ```sql ```` block: its statements run in one transaction on the docs' database,
  rolled back afterwards, so an example neither needs nor leaves rows; `%(name)s`
  parameters get the values of `SQL_PARAMETERS`.
- `<!-- skip: next "why" -->` before a block (sybil's skip directive): not run, for an
  example that needs a service outside the test stack (a managed Kafka, Docker, Slack, …).
- `<!-- xfail: next "why" -->` before a block: run, and expected to fail (strictly: once
  it passes, the test fails until the directive goes), for a page that already shows a
  behaviour another change brings.

The pages show the addresses `make run` uses (the demo server on 127.0.0.1:18080, the API
on 127.0.0.1:8080, PostgreSQL on 54329, the broker on 19092); the test stack runs on free
ports, so `Addresses` maps the documented ones to the real ones in a command and back in
its output.

A guard refuses a command that names a URL off this machine: the docs' commands may only
send traffic to loopback (a URL such as https://example.com belongs in a skipped block or
a rolled-back SQL example).
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sybil import Document, Example, Region
from sybil.parsers.markdown import CodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer
from sybil.typing import Parser

COMMAND_TIMEOUT_S = 90.0
OUTPUT_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# What the documented queries' parameters are bound to: the first demo site, and so on.
SQL_PARAMETERS: dict[str, Any] = {
    "site_id": 1,
    "since": timedelta(days=30),
    "days": 30,
    "limit": 10,
    "down_only": False,
    "url": "http://127.0.0.1:18080/ok",
    "interval_seconds": 60,
    "timeout_seconds": 5,
    "regex": None,
    "region": None,
}
# Where a command may send traffic: this machine only.
LOCAL_HOSTS = re.compile(r"^(127(\.\d{1,3}){3}|localhost|\[::1\])$")
URL = re.compile(r"\b(?:https?|tcp|tls|dns)://(\[[0-9a-fA-F:.]+\]|[^/:\s'\"?#]*)")
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
SHELL_STATE = {"PWD", "OLDPWD", "SHLVL", "_"}


@dataclass
class Addresses:
    """Documented address or name → the test stack's, and back."""

    documented_to_actual: dict[str, str]
    actual_to_documented: dict[str, str] = field(default_factory=dict)

    def to_actual(self, text: str) -> str:
        for documented, actual in self.documented_to_actual.items():
            text = text.replace(documented, actual)
        return text

    def to_documented(self, text: str) -> str:
        pairs = {**self.actual_to_documented}
        pairs.update({a: d for d, a in self.documented_to_actual.items()})
        for actual in sorted(pairs, key=len, reverse=True):  # the longest first
            text = text.replace(actual, pairs[actual])
        return text


@dataclass(repr=False)
class DocsStack:
    """What the examples run against: webmon's variables, the database, the addresses."""

    env: dict[str, str]
    database_url: str
    addresses: Addresses
    venv: Path


@dataclass(frozen=True)
class Command:
    source: str
    expected: str
    line: int  # in the block


def parse_console(text: str) -> list[Command]:
    """`$ ` commands of a console block, each with the output shown after it."""
    commands: list[Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if commands or not line.strip():
                i += 1
                continue
            raise ValueError(f"a console block starts with a `$ ` command, not {line!r}")
        start = i
        source = [line[2:]]
        i += 1
        while i < len(lines) and (lines[i].startswith("> ") or source[-1].endswith("\\")):
            source.append(lines[i][2:] if lines[i].startswith("> ") else lines[i])
            i += 1
        heredoc = HEREDOC.search(" ".join(source))
        if heredoc:
            while i < len(lines):
                source.append(lines[i])
                i += 1
                if source[-1].strip() == heredoc[1]:
                    break
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append(Command("\n".join(source), "\n".join(output).strip("\n"), start + 1))
    return commands


def remote_hosts(command: str) -> list[str]:
    return [host for host in URL.findall(command) if host and not LOCAL_HOSTS.match(host)]


def output_matches(expected: str, got: str) -> bool:
    """As doctest with ELLIPSIS and NORMALIZE_WHITESPACE; `…` alone accepts any output."""
    if expected.strip() in ("…", "..."):
        return True
    want = expected.replace("…", "...") + "\n"
    return doctest.OutputChecker().check_output(want, got, OUTPUT_FLAGS)


def _workdir(example: Example) -> Path:
    """One folder per page, with `.venv` pointing at this venv (the pages say
    `.venv/bin/webmon`, as from a clone)."""
    namespace = example.namespace
    if "workdir" not in namespace:
        stack: DocsStack = namespace["stack"]
        folder = Path(tempfile.mkdtemp(prefix="webmon-docs-"))
        (folder / ".venv").symlink_to(stack.venv)
        namespace["workdir"] = folder
    workdir: Path = namespace["workdir"]
    return workdir


def run_console(example: Example) -> str | None:
    """Evaluator of a console block: each command in turn; a failure says which."""
    stack: DocsStack = example.namespace["stack"]
    env: dict[str, str] = example.namespace.setdefault("env", dict(stack.env))
    workdir = _workdir(example)
    for command in parse_console(example.parsed):
        where = f"line {example.line + command.line} of {example.path}"
        remote = remote_hosts(command.source)
        if remote:
            return (
                f"{where}: sends traffic off this machine ({', '.join(remote)}): {command.source}"
            )
        env_dump = workdir / ".env-after"
        script = (
            f"set -a\n{stack.addresses.to_actual(command.source)}\n"
            f"__status=$?\nenv -0 > {env_dump}\nexit $__status\n"
        )
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        got = stack.addresses.to_documented(done.stdout)
        if done.returncode != 0:
            return f"{where}: `{command.source}` exited {done.returncode}:\n{got}"
        if command.expected and not output_matches(command.expected, got):
            return (
                f"{where}: `{command.source}` printed\n{got}\n"
                f"which does not match what the page shows:\n{command.expected}"
            )
        if env_dump.exists():
            values = env_dump.read_text().split("\0")
            env.clear()
            for pair in values:
                name, _, value = pair.partition("=")
                if name and _ and name not in SHELL_STATE:
                    env[name] = value
            env_dump.unlink()
    return None


def run_sql(example: Example) -> str | None:
    """Evaluator of a sql block: in a transaction on the docs' database, rolled back."""
    stack: DocsStack = example.namespace["stack"]
    text = stack.addresses.to_actual(example.parsed)
    names = set(re.findall(r"%\((\w+)\)s", text))
    unknown = names - set(SQL_PARAMETERS)
    if unknown:
        return f"{example.path}, line {example.line}: no value for {sorted(unknown)}"
    params = {name: SQL_PARAMETERS[name] for name in names} if names else None
    with psycopg.connect(stack.database_url) as conn:
        try:
            conn.execute(text, params)
        except psycopg.Error as exc:
            return f"{example.path}, line {example.line}: {type(exc).__name__}: {exc}"
        finally:
            conn.rollback()
    return None


def note_xfail(example: Example) -> None:
    """An xfail directive does nothing when evaluated: the test reads its reason."""


class XfailParser:
    """`<!-- xfail: next "reason" -->`: the next example is expected to fail."""

    def __init__(self) -> None:
        self.lexer = DirectiveInHTMLCommentLexer("xfail")

    def __call__(self, document: Document) -> Iterator[Region]:
        for region in self.lexer(document):
            action, _, reason = str(region.lexemes["arguments"]).partition(" ")
            if action != "next" or not reason.strip():
                raise ValueError(f'{document.path}: write <!-- xfail: next "why" -->')
            region.parsed = reason.strip().strip('"')
            region.evaluator = note_xfail
            yield region


def xfail_reason(directives: list[Example]) -> str | None:
    reasons = [str(d.parsed) for d in directives if d.region.evaluator is note_xfail]
    return reasons[0] if reasons else None


PARSERS: list[Parser] = [
    CodeBlockParser(language="console", evaluator=run_console),
    CodeBlockParser(language="sql", evaluator=run_sql),
    SkipParser(),
    XfailParser(),
]
RUN_LANGUAGES = ("console", "sql")


@dataclass
class Page:
    """A parsed page and its examples, each with the skip directives just before it."""

    path: Path
    document: Document
    examples: list[tuple[list[Example], Example]]


def parse_page(path: Path) -> Page:
    document = Document.parse(str(path), *PARSERS)
    grouped: list[tuple[list[Example], Example]] = []
    directives: list[Example] = []
    for example in document.examples():
        if _is_directive(example.region):
            directives.append(example)
        else:
            grouped.append((directives, example))
            directives = []
    return Page(path, document, grouped)


def _is_directive(region: Region) -> bool:
    return region.evaluator not in (run_console, run_sql)


def evaluate(stack: DocsStack, directives: list[Example], example: Example) -> None:
    """Run one example (its skip directives first): raises on a failure, SkipTest when
    the page marks it as needing an outside service."""
    __tracebackhide__ = True
    example.namespace["stack"] = stack
    for directive in directives:
        directive.evaluate()
    example.evaluate()


def fenced_blocks(text: str) -> Iterator[tuple[int, str]]:
    """(line, info string) of every fenced block's opening fence."""
    inside: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        fence = re.match(r"(`{3,}|~{3,})(.*)", stripped)
        if fence is None:
            continue
        if inside is None:
            inside = fence[1]
            yield number, fence[2].strip()
        elif fence[1].startswith(inside) and not fence[2].strip():
            inside = None


def environment_without_webmon() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WEBMON_")}
