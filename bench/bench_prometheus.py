"""The peer users would pick for many targets, at the same load as webmon: Prometheus
scraping blackbox_exporter, every target an HTTP probe of the same local nginx.

    .venv/bin/python -m bench.bench_prometheus --targets 50000 [--interval 60] [--webmon]

Prometheus (Debian's `prometheus`) scrapes blackbox_exporter (`prometheus-blackbox-exporter`)
once per target per interval with a 10 s timeout, as a user would configure it (the
relabelling of blackbox_exporter's README). After one interval of warm-up, for
`--intervals` intervals it reports:

* targets probed per interval: scrapes that returned `probe_success 1`, and the rest
  (failed probes, scrapes that timed out: `up 0`), per interval;
* interval lateness: how much later than one interval after the previous one each
  scrape of a target happened (from the samples' timestamps), p50 / p99, and the probe's
  own duration (`probe_duration_seconds`) p50 / p99;
* CPU per probe and cores, and memory (PSS), of Prometheus and of blackbox_exporter.

`--webmon` then runs `bench.bench_system` at the same load (the same number of sites at
the same interval, one scheduler, two checkers, the same kind of nginx) for the same
window, so the two are printed one after the other from one session.

Where the packages are not installed (`apt-get install prometheus
prometheus-blackbox-exporter`), it says so and skips, exiting 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.blackbox_process import BLACKBOX, BlackboxProcess
from bench.common import report
from bench.costs import memory_mb, own_cpu
from bench.nginx_target import nginx_target
from devstack.localstack import free_port

PROMETHEUS = "prometheus"
TIMEOUT_S = 10

_BLACKBOX_CONFIG = """
modules:
  http_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
"""

_PROMETHEUS_CONFIG = """
global:
  scrape_interval: {interval}s
  scrape_timeout: {timeout}s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    file_sd_configs:
      - files: [{targets}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: {blackbox}
"""


def _query(base: str, promql: str, at: float) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": at})
    with urllib.request.urlopen(url, timeout=300) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise SystemExit(f"Prometheus query failed: {promql}: {body}")
    return body["data"]["result"]  # type: ignore[no-any-return]


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"Prometheus did not start: {log.read_text()[-800:]}")
        time.sleep(0.2)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def prometheus_rows(
    prometheus: str, blackbox: str, targets: int, interval: int, intervals: int
) -> list[tuple[str, str]]:
    workdir = Path(tempfile.mkdtemp(prefix="webmon-bench-prometheus-"))
    try:
        with nginx_target() as nginx:
            if nginx is None:
                return [("skipped", "nginx is not installed (apt-get install nginx-light)")]
            (workdir / "targets.json").write_text(
                json.dumps([{"targets": [f"{nginx.url}?n={n}" for n in range(targets)]}])
            )
            timeout = min(TIMEOUT_S, interval)  # Prometheus refuses a longer one
            (workdir / "blackbox.yml").write_text(_BLACKBOX_CONFIG.format(timeout=timeout))
            exporter = BlackboxProcess.start(blackbox, workdir / "blackbox.yml", workdir / "bb.log")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            (workdir / "prometheus.yml").write_text(
                _PROMETHEUS_CONFIG.format(
                    interval=interval,
                    timeout=timeout,
                    targets=workdir / "targets.json",
                    blackbox=exporter.base.removeprefix("http://"),
                )
            )
            log = workdir / "prometheus.log"
            with log.open("wb") as out:
                server = subprocess.Popen(
                    [prometheus, f"--config.file={workdir / 'prometheus.yml'}",
                     f"--storage.tsdb.path={workdir / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}"],
                    stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                )  # fmt: skip
            try:
                _wait_ready(base, server, log)
                time.sleep(interval + 5)  # warm-up: every target's first scrape
                seconds = interval * intervals
                pids = {"Prometheus": server.pid, "blackbox_exporter": exporter.proc.pid}
                cpu0 = {k: own_cpu(p) for k, p in pids.items()}
                time.sleep(seconds)
                end = time.time()
                cpu = {k: own_cpu(p) - cpu0[k] for k, p in pids.items()}
                memory = {k: memory_mb(p) for k, p in pids.items()}
                time.sleep(5)  # the last scrapes are written
                rows, scrapes = _scrape_rows(base, end, seconds, interval, targets)
            finally:
                server.terminate()
                server.wait(60)
                exporter.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    probes = max(1, scrapes)  # the probes made, not those due: a collapse makes few
    for name, spent in cpu.items():
        rows.append(
            (
                name,
                f"{1e6 * spent / probes:7.1f} µs/probe  {spent / seconds:5.2f} cores"
                f"  {memory[name]:6.0f} MiB",
            )
        )
    return rows


def _scrape_rows(
    base: str, end: float, seconds: int, interval: int, targets: int
) -> tuple[list[tuple[str, str]], int]:
    """The rows about the scrapes, and how many scrapes there were in the window."""
    window = f"[{seconds}s]"
    ok = _query(base, f"sum(sum_over_time(probe_success{window}))", end)
    scrapes = _query(base, f"sum(count_over_time(up{window}))", end)
    up = _query(base, f"sum(sum_over_time(up{window}))", end)
    ok_n = float(ok[0]["value"][1]) if ok else 0.0
    scrapes_n = float(scrapes[0]["value"][1]) if scrapes else 0.0
    down_n = scrapes_n - (float(up[0]["value"][1]) if up else 0.0)
    # Every target's scrape timestamps in the window (and one before): lateness is how far
    # past one interval after the previous scrape each one came.
    late: list[float] = []
    for series in _query(base, f"up[{seconds + interval}s]", end):
        stamps = [float(t) for t, _ in series["values"]]
        late += [max(0.0, b - a - interval) for a, b in itertools.pairwise(stamps)]
    durations = [
        float(v)
        for series in _query(base, f"probe_duration_seconds[{seconds}s]", end)
        for _, v in series["values"]
    ]
    intervals = seconds / interval
    return [
        ("targets", f"{targets:,} every {interval} s ({targets / interval:,.0f} probes/s due)"),
        ("probed and up, per interval", f"{ok_n / intervals:,.0f} of {targets:,}"),
        ("scrapes per interval", f"{scrapes_n / intervals:,.0f}"),
        ("scrapes failed (up 0: timed out)", f"{down_n / intervals:,.0f} per interval"),
        (
            "interval lateness p50 / p99",
            f"{_percentile(late, 0.5):.3f} s / {_percentile(late, 0.99):.3f} s",
        ),
        (
            "probe duration p50 / p99",
            f"{statistics.median(durations) if durations else float('nan'):.3f} s"
            f" / {_percentile(durations, 0.99):.3f} s",
        ),
    ], int(scrapes_n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--intervals", type=int, default=2, help="intervals measured")
    parser.add_argument("--webmon", action="store_true", help="then webmon at the same load")
    args = parser.parse_args()
    prometheus, blackbox = shutil.which(PROMETHEUS), shutil.which(BLACKBOX)
    if prometheus is None or blackbox is None:
        missing = " and ".join(
            n for n, b in ((PROMETHEUS, prometheus), (BLACKBOX, blackbox)) if b is None
        )
        print(f"skipped: {missing} not installed (apt-get install prometheus {BLACKBOX})")
        return
    load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    rows = prometheus_rows(prometheus, blackbox, args.targets, args.interval, args.intervals)
    after = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    report(
        f"Prometheus + blackbox_exporter: {args.targets:,} targets every {args.interval} s,"
        f" {min(TIMEOUT_S, args.interval)} s timeout, {args.intervals} intervals measured",
        [("machine", f"{os.cpu_count()} cores; before: {load}; after: {after}"), *rows],
    )
    if args.webmon:
        subprocess.run(
            [sys.executable, "-m", "bench.bench_system", "--sites", str(args.targets),
             "--interval", str(args.interval), "--seconds", str(args.interval * args.intervals),
             "--checkers", "2", "--bare-seconds", "0"],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
