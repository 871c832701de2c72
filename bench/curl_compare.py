"""What webmon records for each failure mode, beside what curl reports for the same endpoint.

Starts the hostile local targets (tests/support/targets.py, loopback only), checks every endpoint
with webmon's probe (`Prober.check`, on uvloop as the checker runs it) and with
`curl -w '%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer}
%{time_total}'` (for a case with a regex, the body curl saved is searched with RE2, as a
person would grep it), and prints a Markdown table. Each figure is the median of `--runs` runs.
curl's times are cumulative from the start; the table turns them into phase durations as
webmon stores them (dns = namelookup, connect = connect - namelookup, tls = appconnect -
connect, ttfb = starttransfer, total = total).

    .venv/bin/python -m bench.curl_compare [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import re2

from checker.probe import Prober
from devstack.localstack import free_port
from shared.messages import CheckResult, CheckTask
from tests.support.targets import Targets

MAX_REDIRECTS = 10  # webmon's default (WEBMON_MAX_REDIRECTS)
NONE = "-"


@dataclass(frozen=True)
class Case:
    name: str
    url: Callable[[Targets], str]
    timeout_s: float = 5.0
    regex: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    curl_args: tuple[str, ...] = ()


def _refused(t: Targets) -> str:
    return f"http://127.0.0.1:{free_port()}/"


def _redirect_to(url: Callable[[Targets], str]) -> Callable[[Targets], str]:
    """A 302 on the plain target to `url`."""
    return lambda t: t.url(f"/to?url={quote(url(t))}")


CASES = [
    Case("200, by IP address", lambda t: t.url("/ok")),
    Case("200, by host name (DNS)", lambda t: t.url("/ok").replace("127.0.0.1", "localhost")),
    Case("200 over TLS, valid certificate", lambda t: t.url("/ok", tls="valid")),
    Case("IPv6 loopback", lambda t: t.url("/ok", ipv6=True)),
    Case("200 after 200 ms", lambda t: t.url("/delay?ms=200")),
    Case("body 200 ms after the headers", lambda t: t.url("/slow-body?ms=200")),
    Case("headers after 3 s, timeout 1 s", lambda t: t.url("/slow-headers?seconds=3"), 1.0),
    Case("body dripped forever, timeout 2 s", lambda t: t.url("/drip"), 2.0),
    Case(
        "100 MB body, match at the start",
        lambda t: t.url("/big?mb=100&match=start"),
        regex="MATCHME",
    ),
    Case(
        "100 MB body, match beyond the cap",
        lambda t: t.url("/big?mb=100&match=end"),
        regex="MATCHME",
    ),
    Case(
        "gzip bomb (1 GiB inflated)",
        lambda t: t.url("/gzip-bomb"),
        10.0,
        curl_args=("--compressed",),
    ),
    Case("3 redirects", lambda t: t.url("/redirect/3")),
    Case("6 redirects", lambda t: t.url("/redirect/6")),
    Case("11 redirects, limit 10", lambda t: t.url("/redirect/11")),
    Case("redirect loop", lambda t: t.url("/loop")),
    Case(
        "https → http redirect",
        lambda t: t.url(f"/to?url={quote(t.url('/ok'))}", tls="valid"),
    ),
    Case(
        "404, expected", lambda t: t.url("/status/404"), options={"expected_status": ((404, 405),)}
    ),
    Case("HEAD", lambda t: t.url("/head-only"), options={"method": "HEAD"}, curl_args=("-I",)),
    Case("self-signed certificate", lambda t: t.url("/ok", tls="self_signed")),
    Case("expired certificate", lambda t: t.url("/ok", tls="expired")),
    Case("wrong host name", lambda t: t.url("/ok", tls="wrong_host")),
    Case("connection refused", _refused),
    Case("host does not resolve", lambda t: "http://webmon-curl.invalid/"),
    Case("closed mid-body", lambda t: t.url("/close-mid-body")),
    Case("malformed chunk after a 200 head", lambda t: t.url("/bad-chunk")),
    Case("closed without a byte", lambda t: t.url("/no-response")),
    Case("garbage instead of HTTP", lambda t: t.url("/garbage")),
    Case(
        "cookie set by a redirect, regex on its echo",
        lambda t: t.url("/cookies/set?k=v"),
        regex='"k": "v"',
        curl_args=("-b", ""),  # curl's cookie engine on, no file: cookies within the run
    ),
    Case("redirect to ftp://", lambda t: t.url(f"/to?url={quote('ftp://127.0.0.1:1/file')}")),
    Case("100 KB of headers in 2 fields", lambda t: t.url("/large-head?kb=100&fields=2")),
    Case("one 100 KB header field", lambda t: t.url("/large-head?kb=100&fields=1")),
    Case("300 KB of headers in 6 fields", lambda t: t.url("/large-head?kb=300&fields=6")),
    Case("header bomb: 20 MB in 400 fields", lambda t: t.url("/large-head?kb=20000&fields=400")),
    Case("latin-1 body", lambda t: t.url("/latin1"), regex="café"),
    Case("utf-16 body", lambda t: t.url("/utf16"), regex="wörld"),
    Case("binary body", lambda t: t.url("/binary"), regex="\ufffd"),
    # What a browser would say (docs/fidelity.md): content codings, a late match in a page
    # larger than the old 1 MiB cap, and which hop of a redirect failed.
    Case("br body, regex", lambda t: t.url("/encoded?coding=br"), regex="webmon, enc",
         curl_args=("--compressed",)),
    Case("zstd body, regex", lambda t: t.url("/encoded?coding=zstd"), regex="webmon, enc",
         curl_args=("--compressed",)),
    Case("corrupt br body, no regex", lambda t: t.url("/bad-encoding?coding=br")),
    Case("corrupt br body, regex", lambda t: t.url("/bad-encoding?coding=br"), regex="hello",
         curl_args=("--compressed",)),
    Case("2 MB body, match near the end", lambda t: t.url("/big?mb=2&match=end"),
         regex="MATCHME"),
    Case("20 MB body, match near the end", lambda t: t.url("/big?mb=20&match=end"),
         regex="MATCHME"),
    Case("redirect to a refused port", _redirect_to(_refused)),
    Case("redirect to a name that does not resolve",
         _redirect_to(lambda t: "http://webmon-curl.invalid/")),
    Case("redirect to a self-signed server",
         _redirect_to(lambda t: t.url("/ok", tls="self_signed"))),
]  # fmt: skip


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


def _fmt(ms: float | None) -> str:
    if ms is None:
        return NONE
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


async def _webmon_runs(targets: Targets, url: str, case: Case, runs: int) -> list[CheckResult]:
    async with Prober(
        ssl_context=targets.client_ssl_context(), max_redirects=MAX_REDIRECTS
    ) as prober:
        out = []
        for _ in range(runs):
            now = datetime.now(UTC)
            task = CheckTask(
                site_id=1,
                url=url,
                timeout_s=case.timeout_s,
                scheduled_at=now,
                expires_at=now + timedelta(minutes=1),
                regex=case.regex,
                **case.options,
            )
            out.append(await prober.check(task))
        return out


def _run(main: Coroutine[Any, Any, list[CheckResult]]) -> list[CheckResult]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def webmon_results(targets: Targets, url: str, case: Case, runs: int) -> list[CheckResult]:
    """`runs` checks of `url` by webmon's probe, on uvloop as the checker runs it."""
    return _run(_webmon_runs(targets, url, case, runs))


def webmon(targets: Targets, url: str, case: Case, runs: int) -> list[str]:
    results = webmon_results(targets, url, case, runs)
    last = results[-1]
    outcome = f"`{last.error}`" if last.error else ("up" if last.up else "down")
    matched = {None: "", True: ", regex ✓", False: ", regex ✗"}[last.regex_matched]
    status = f"{last.status_code}{matched}" if last.status_code else NONE
    figures = [
        _fmt(_median([getattr(r, f) for r in results]))
        for f in ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "response_time_ms")
    ]
    hops = NONE if last.redirects is None else str(last.redirects)
    return [outcome, status, *figures, hops, last.tls_version or NONE]


def curl_found(body: Path, regex: str) -> bool:
    """A regex in what curl saved, as a person would grep it (the body decoded as UTF-8)."""
    options = re2.Options()
    options.never_capture = True
    text = body.read_bytes().decode("utf-8", "replace")
    return re2.compile(regex, options).search(text) is not None


def curl(targets: Targets, url: str, case: Case, runs: int) -> list[str]:
    write_out = (
        "%{http_code} %{num_redirects} %{time_namelookup} %{time_connect} %{time_appconnect}"
        " %{time_starttransfer} %{time_total}"
    )
    with tempfile.TemporaryDirectory(prefix="webmon-curl-") as scratch:
        body = Path(scratch) / "body"
        command = [
            "curl", "-s", "-o", str(body) if case.regex else "/dev/null", "-L",
            "--max-redirs", str(MAX_REDIRECTS), "--max-time", f"{case.timeout_s:g}",
            "--cacert", str(targets.ca_pem), *case.curl_args, "-w", write_out, url,
        ]  # fmt: skip
        times: list[list[float | None]] = []
        code = 0
        http_code = hops = NONE
        for _ in range(runs):
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
            code = proc.returncode
            fields = proc.stdout.split()
            http_code = fields[0] if fields[0] != "000" else NONE
            hops = fields[1]
            dns, connect, app, start, total = (float(f) * 1000 for f in fields[2:7])
            times.append(
                [
                    dns or None,
                    connect - dns if connect else None,
                    app - connect if app else None,
                    start or None,
                    total,
                ]
            )
        if case.regex and http_code != NONE:
            found = body.exists() and curl_found(body, case.regex)
            http_code += ", regex ✓" if found else ", regex ✗"
    figures = [_fmt(_median([t[i] for t in times])) for i in range(5)]
    return [f"exit {code}" if code else "ok", http_code, *figures, hops]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed")
    version = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=True)
    print(f"<!-- {version.stdout.splitlines()[0]} -->")
    print(
        "| failure mode | webmon: error/up | status | dns | connect | tls | ttfb | total"
        " | hops | TLS | curl: exit | status | dns | connect | tls | ttfb | total | hops |"
    )
    print("|---" * 19 + "|")
    with Targets() as targets:
        for case in CASES:
            if case.name == "IPv6 loopback" and not targets.ipv6:
                continue
            url = case.url(targets)
            row = [case.name, *webmon(targets, url, case, args.runs)]
            row += curl(targets, url, case, args.runs)
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
