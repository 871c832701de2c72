"""webmon, curl and blackbox_exporter side by side on the fidelity cases: the verdict each
gives, and why.

    .venv/bin/python -m bench.blackbox_compare --verdicts

Every case of bench/curl_compare.py against the hostile local targets
(tests/support/targets.py, loopback only), checked once by each:

* webmon: `Prober.check` with its defaults; up, or the error class, the status, whether
  the regex was found, and `error_detail`;
* curl: `curl -sS -L --max-redirs 10` (with the case's own arguments, e.g. `--compressed`);
  its exit status and message, the status, and the regex searched in the body it saved;
* blackbox_exporter (Prometheus' prober, the reference): a module per case with its own
  defaults but what the case asks for (the regex as `fail_if_body_not_matches_regexp`,
  the expected statuses, HEAD, the timeout, the targets' CA); `probe_success`,
  `probe_http_status_code`, `probe_failed_due_to_regex`, and the first error of its debug
  log. Its valid statuses are 2xx by default (webmon's 200-399): no case ends in a 3xx.

The Markdown table it prints is docs/fidelity.md's; the verdict on each difference is
written there by hand.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.blackbox_process import BlackboxProcess
from bench.curl_compare import CASES, MAX_REDIRECTS, Case, curl_found, webmon_results
from tests.support.targets import Targets

NONE = "-"
_METRIC = re.compile(r"^(probe_\w+) (\S+)$", re.MULTILINE)
_ERROR = re.compile(r'level=error .*?msg="((?:[^"\\]|\\.)*)"(?:.*? err="((?:[^"\\]|\\.)*)")?')


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, no pipes, at most 140 characters."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= 140 else text[:139] + "…"


def _verdict(up: bool, status: str, found: bool | None) -> str:
    regex = {None: "", True: ", regex ✓", False: ", regex ✗"}[found]
    return f"{'up' if up else 'down'} {status}{regex}"


def webmon_verdict(targets: Targets, url: str, case: Case) -> tuple[str, str]:
    (result,) = webmon_results(targets, url, case, 1)
    status = str(result.status_code) if result.status_code is not None else NONE
    if result.error:
        return f"`{result.error}` {status}", result.error_detail or ""
    return _verdict(bool(result.up), status, result.regex_matched), result.error_detail or ""


def curl_verdict(targets: Targets, url: str, case: Case) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="webmon-curl-") as scratch:
        body = Path(scratch) / "body"
        method = ("-I",) if case.options.get("method") == "HEAD" else ()
        proc = subprocess.run(
            ["curl", "-sS", "-o", str(body), "-L", "--max-redirs", str(MAX_REDIRECTS),
             "--max-time", f"{case.timeout_s:g}", "--cacert", str(targets.ca_pem),
             *method, *case.curl_args, "-w", "%{http_code}", url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        status = proc.stdout.strip() if proc.stdout.strip() not in ("", "000") else NONE
        found = curl_found(body, case.regex) if case.regex and body.exists() else None
    if case.regex is None:
        found = None
    why = proc.stderr.strip().removeprefix("curl: ")
    if proc.returncode:
        return f"exit {proc.returncode} {status}", why
    expected = case.options.get("expected_status") or ((200, 400),)
    up = status != NONE and any(low <= int(status) < high for low, high in expected)
    return _verdict(up and found is not False, status, found), why


def blackbox_config(targets: Targets) -> str:
    """One module per case, `c0`, `c1`, ..."""
    lines = ["modules:"]
    for i, case in enumerate(CASES):
        http: dict[str, Any] = {
            "preferred_ip_protocol": "ip6" if case.name == "IPv6 loopback" else "ip4",
            "tls_config": {"ca_file": str(targets.ca_pem)},
        }
        if case.regex is not None:
            http["fail_if_body_not_matches_regexp"] = [case.regex]
        if case.options.get("method"):
            http["method"] = case.options["method"]
        if case.options.get("expected_status"):
            http["valid_status_codes"] = [
                code for low, high in case.options["expected_status"] for code in range(low, high)
            ]
        lines += [f"  c{i}:", "    prober: http", f"    timeout: {case.timeout_s:g}s",
                  f"    http: {_flow(http)}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    """YAML flow style, strings quoted as JSON strings (valid YAML)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return json.dumps(value)


def blackbox_verdict(base: str, i: int, url: str, case: Case) -> tuple[str, str]:
    query = urllib.parse.urlencode({"module": f"c{i}", "target": url, "debug": "true"})
    with urllib.request.urlopen(f"{base}/probe?{query}", timeout=case.timeout_s + 30) as resp:
        text = resp.read().decode()
    metrics = dict(_METRIC.findall(text))
    status = metrics.get("probe_http_status_code", "0").split(".")[0]
    status = status if status != "0" else NONE
    found: bool | None = None
    if case.regex is not None and status != NONE:
        found = metrics.get("probe_failed_due_to_regex") == "0"
    error = _ERROR.search(text)
    why = ""
    if error is not None:
        why = error.group(1) + (f": {error.group(2)}" if error.group(2) else "")
        why = why.replace('\\"', '"')
    return _verdict(metrics.get("probe_success") == "1", status, found), why


def main(binary: str) -> None:
    version = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=True)
    shown = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    reference = (shown.stdout or shown.stderr).split("\n")[0]
    print(f"<!-- {version.stdout.splitlines()[0]}; {reference} -->")
    print("| case | webmon | webmon's `error_detail` | curl | curl's message"
          " | blackbox_exporter | blackbox_exporter's first error |")  # fmt: skip
    print("|---" * 7 + "|")
    with Targets() as targets, tempfile.TemporaryDirectory(prefix="webmon-bb-") as scratch:
        config = Path(scratch) / "blackbox.yml"
        config.write_text(blackbox_config(targets))
        blackbox = BlackboxProcess.start(binary, config, Path(scratch) / "blackbox.log")
        try:
            for i, case in enumerate(CASES):
                if case.name == "IPv6 loopback" and not targets.ipv6:
                    continue
                url = case.url(targets)
                cells = [
                    case.name,
                    *webmon_verdict(targets, url, case),
                    *curl_verdict(targets, url, case),
                    *blackbox_verdict(blackbox.base, i, url, case),
                ]
                print("| " + " | ".join(_cell(c) for c in cells) + " |", flush=True)
        finally:
            blackbox.stop()
