"""webmon's probe beside Prometheus' blackbox_exporter: the same local targets, the same
concurrency, each prober pinned to one core; probes/s and CPU per probe, and their ratio.

Cases: plain HTTP with a regex, HTTPS with a fresh handshake per probe (and a regex), a
TCP connect, a TLS handshake (tls://, blackbox's tcp module with `tls: true`), and a DNS
query over UDP.

    .venv/bin/python -m bench.blackbox_compare [--seconds 4] [--rounds 3] [--concurrency 128]
    .venv/bin/python -m bench.blackbox_compare --verdicts   # what each says, case by case

`--verdicts` checks the fidelity cases of bench/curl_compare.py with webmon, curl and
blackbox_exporter and prints their verdicts side by side (bench/blackbox_verdicts.py).

How it runs:

* The targets are bench/http_engines.py's servers (a 2 KB page, `Connection: close`, a
  trustme certificate for 127.0.0.1) and a UDP DNS responder (`--serve-dns`), pinned to
  the other core with the load generator.
* webmon: a process of its own (`--webmon-worker`) runs `Prober.check` on uvloop, as the
  checker does, with C checks in flight, pinned to core 0. Its figure is the probe alone:
  no Kafka consumer or producer around it (bench/bench_checker.py measures the whole role).
* blackbox_exporter: `prometheus-blackbox-exporter` pinned to core 0 (Go sees one CPU and
  sets GOMAXPROCS=1), driven through its `/probe` endpoint by a load generator
  (`--blackbox-load`, aiohttp, keep-alive) with C requests in flight, as Prometheus
  scrapes it. Its figure includes answering the scrape, which is how it is used.
* CPU per probe is the prober process's CPU time (user + system, /proc) over the window,
  divided by the probes finished in it: the robust figure on a shared machine. Probes/s
  depends on what else runs. Each case runs once per round, rounds in alternating order;
  the median round counts and every round is printed, so the noise shows.

Where blackbox_exporter is not installed (`apt-get install prometheus-blackbox-exporter`),
its lines say so and only webmon's figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.blackbox_process import BLACKBOX, BlackboxProcess
from bench.http_engines import Servers

REGEX = "benchmark page"
DNS_NAME = "bench.test"
PROBER_CORE = 0
OTHERS_CORE = 1


@dataclass(frozen=True)
class Case:
    name: str
    webmon_url: str  # {http}, {tls}, {dns} are the targets' ports
    regex: str | None
    module: str  # blackbox's module
    target: str  # blackbox's target


CASES = (
    Case("plain HTTP, regex", "http://127.0.0.1:{http}/", REGEX, "http_regex",
         "http://127.0.0.1:{http}/"),
    Case("HTTPS, fresh handshake, regex", "https://127.0.0.1:{tls}/", REGEX, "http_regex",
         "https://127.0.0.1:{tls}/"),
    Case("TCP connect", "tcp://127.0.0.1:{http}", None, "tcp_connect", "127.0.0.1:{http}"),
    Case("TLS handshake", "tls://127.0.0.1:{tls}", None, "tls_connect", "127.0.0.1:{tls}"),
    Case("DNS query (UDP)", "dns://127.0.0.1:{dns}/" + DNS_NAME + "?type=A", None, "dns_a",
         "127.0.0.1:{dns}"),
)  # fmt: skip


def blackbox_config(ca_file: Path) -> str:
    return f"""modules:
  http_regex:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ["{REGEX}"]
      tls_config: {{ca_file: "{ca_file}"}}
  tcp_connect:
    prober: tcp
    timeout: 10s
    tcp: {{preferred_ip_protocol: ip4}}
  tls_connect:
    prober: tcp
    timeout: 10s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {{ca_file: "{ca_file}"}}
  dns_a:
    prober: dns
    timeout: 10s
    dns:
      preferred_ip_protocol: ip4
      transport_protocol: udp
      query_name: {DNS_NAME}
      query_type: A
"""


def pin(pid: int, core: int) -> None:
    """Pin a process to one core (the machine's last one if it has fewer)."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(pid, {cores[min(core, len(cores) - 1)]})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the DNS target ---------------------------------------------------------------------


def serve_dns() -> None:
    """A UDP responder: every question gets one A record, 127.0.0.1 (answers are built once
    per distinct question with dnspython, then only the query id changes)."""
    import dns.message
    import dns.rrset
    import uvloop

    templates: dict[bytes, bytes] = {}

    class Responder(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            try:
                end = data.index(b"\x00", 12) + 5  # past the question's name, type, class
            except ValueError:
                return
            key = data[2:4] + data[12:end]
            template = templates.get(key)
            if template is None:
                query = dns.message.from_wire(data)
                response = dns.message.make_response(query)
                question = query.question[0]
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, "IN", "A", "127.0.0.1")
                )
                template = templates[key] = response.to_wire()
            self.transport.sendto(data[:2] + template[2:], addr)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
        print(transport.get_extra_info("sockname")[1], flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    uvloop.run(main())


# --- webmon's side ----------------------------------------------------------------------


async def _load(fn: Any, seconds: float, concurrency: int) -> tuple[int, int]:
    done = ok = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, ok
        while time.perf_counter() < deadline:
            up = await fn()
            done += 1
            ok += bool(up)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, ok


def webmon_worker(url: str, regex: str, ca_file: str, seconds: float, concurrency: int) -> None:
    import uvloop

    from checker.probe import Prober
    from shared.messages import CheckTask

    now = datetime.now(UTC)
    task = CheckTask(
        site_id=1,
        url=url,
        timeout_s=10,
        scheduled_at=now,
        expires_at=now + timedelta(hours=1),
        regex=regex or None,
    )
    ctx = ssl.create_default_context(cafile=ca_file)

    async def main() -> dict[str, float]:
        async with Prober(ssl_context=ctx) as prober:

            async def one() -> bool:
                return bool((await prober.check(task)).up)

            await _load(one, 0.5, concurrency)  # warm-up
            c0, t0 = time.process_time(), time.perf_counter()
            done, ok = await _load(one, seconds, concurrency)
            return {
                "probes": done,
                "ok": ok,
                "seconds": time.perf_counter() - t0,
                "cpu": time.process_time() - c0,
            }

    gc.freeze()  # as the checker does after its startup
    print(json.dumps(uvloop.run(main())), flush=True)


def run_webmon(case: Case, ports: dict[str, int], ca_file: Path, seconds: float, c: int) -> Any:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.blackbox_compare", "--webmon-worker",
         case.webmon_url.format(**ports), case.regex or "", str(ca_file), str(seconds), str(c)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    pin(proc.pid, PROBER_CORE)
    out, _ = proc.communicate(timeout=seconds + 120)
    return json.loads(out)


# --- blackbox_exporter's side -----------------------------------------------------------


def blackbox_load(base: str, module: str, target: str, pid: int, seconds: float, c: int) -> None:
    """Drive blackbox's /probe with `c` requests in flight; its CPU over the window."""
    import aiohttp
    import uvloop

    url = f"{base}/probe"
    params = {"module": module, "target": target}

    async def main() -> dict[str, float]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one() -> bool:
                async with session.get(url, params=params) as resp:
                    body = await resp.text()
                return resp.status == 200 and "\nprobe_success 1" in body

            await _load(one, 0.5, c)
            c0, t0 = cpu_seconds(pid), time.perf_counter()
            done, ok = await _load(one, seconds, c)
            return {
                "probes": done,
                "ok": ok,
                "seconds": time.perf_counter() - t0,
                "cpu": cpu_seconds(pid) - c0,
            }

    print(json.dumps(uvloop.run(main())), flush=True)


class Blackbox(BlackboxProcess):
    """blackbox_exporter on a free loopback port, pinned to the prober's core."""

    @classmethod
    def pinned(cls, binary: str, config: Path, log: Path) -> Blackbox:
        started = cls.start(binary, config, log, {"GOMAXPROCS": "1"})
        pin(started.proc.pid, PROBER_CORE)
        return started

    def run(self, case: Case, ports: dict[str, int], seconds: float, c: int) -> Any:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.blackbox_compare", "--blackbox-load", self.base,
             case.module, case.target.format(**ports), str(self.proc.pid), str(seconds), str(c)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        pin(proc.pid, OTHERS_CORE)
        out, _ = proc.communicate(timeout=seconds + 120)
        return json.loads(out)


# --- the run ----------------------------------------------------------------------------


@dataclass
class Figures:
    rates: list[float]
    cpu_ms: list[float]
    failed: int

    @classmethod
    def of(cls, runs: list[Any]) -> Figures:
        return cls(
            [r["probes"] / r["seconds"] for r in runs],
            [r["cpu"] / max(r["probes"], 1) * 1000 for r in runs],
            sum(r["probes"] - r["ok"] for r in runs),
        )

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)

    def text(self) -> str:
        rounds = "/".join(f"{c:.2f}" for c in self.cpu_ms)
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.rate:>7,.0f}/s {self.cpu:.3f} ms CPU ({rounds}{failed})"


def dns_target() -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.blackbox_compare", "--serve-dns"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-dns":
        serve_dns()
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--webmon-worker":
        url, regex, ca_file, seconds, c = sys.argv[2:7]
        webmon_worker(url, regex, ca_file, float(seconds), int(c))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--verdicts":
        from bench.blackbox_verdicts import main as verdicts

        found = shutil.which(BLACKBOX)
        if found is None:
            raise SystemExit(f"{BLACKBOX} is not installed (apt-get install {BLACKBOX})")
        verdicts(found)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--blackbox-load":
        base, module, target, pid, seconds, c = sys.argv[2:8]
        blackbox_load(base, module, target, int(pid), float(seconds), int(c))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per case, prober and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--only", default="", help="cases whose name contains this, e.g. DNS")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only.lower() in c.name.lower()]

    import trustme

    binary = shutil.which(BLACKBOX)
    workdir = Path(tempfile.mkdtemp(prefix="webmon-bench-blackbox-"))
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(workdir / "server.pem")
    )
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    (workdir / "blackbox.yml").write_text(blackbox_config(workdir / "ca.pem"))

    webmon: dict[str, list[Any]] = {c.name: [] for c in CASES}
    blackbox: dict[str, list[Any]] = {c.name: [] for c in CASES}
    dns = dns_target()
    bb: Blackbox | None = None
    try:
        assert dns.stdout is not None
        dns_port = int(dns.stdout.readline())
        pin(dns.pid, OTHERS_CORE)
        with Servers(str(workdir / "server.pem")) as servers:
            for proc in servers.procs:
                pin(proc.pid, OTHERS_CORE)
            ports = {"http": servers.port, "tls": servers.tls_port, "dns": dns_port}
            if binary is not None:
                bb = Blackbox.pinned(binary, workdir / "blackbox.yml", workdir / "blackbox.log")
            for rnd in range(args.rounds):
                order = cases if rnd % 2 == 0 else cases[::-1]
                for case in order:
                    webmon[case.name].append(
                        run_webmon(case, ports, workdir / "ca.pem", args.seconds, args.concurrency)
                    )
                    if bb is not None:
                        blackbox[case.name].append(
                            bb.run(case, ports, args.seconds, args.concurrency)
                        )
                    print(".", end="", flush=True, file=sys.stderr)
            print(file=sys.stderr)
    finally:
        if bb is not None:
            bb.stop()
        dns.terminate()
        dns.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    version = "absent"
    if binary is not None:
        shown = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        version = (shown.stdout or shown.stderr).split("\n")[0].replace("blackbox_exporter, ", "")
    print(
        f"\n== webmon probe vs blackbox_exporter ({version}): concurrency {args.concurrency}, "
        f"each pinned to one core, {args.rounds} rounds x {args.seconds:g} s, median round; "
        f"CPU per probe (each round)"
    )
    print(f"  {'case':<30} {'webmon':<42} {'blackbox_exporter':<42} per-probe CPU ratio")
    for case in cases:
        ours = Figures.of(webmon[case.name])
        if binary is None:
            print(f"  {case.name:<30} {ours.text():<42} blackbox_exporter not installed: skipped")
            continue
        theirs = Figures.of(blackbox[case.name])
        ratio = theirs.cpu / ours.cpu if ours.cpu else float("nan")
        print(f"  {case.name:<30} {ours.text():<42} {theirs.text():<42} {ratio:.2f}x")
    if binary is None:
        print(f"  ({BLACKBOX} not on PATH: apt-get install prometheus-blackbox-exporter)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
