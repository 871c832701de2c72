"""Checker throughput and memory: the real probe process, through Kafka, against a local target.

In one run:
  - the bare HTTP engine (aiohttp, fresh connection per request, concurrency 256) against
    the target: the ceiling;
  - `python -m checker --role probe` at concurrency 256: tasks produced to the task topic,
    checks/s counted from the results topic between 10 % and 90 % of them (plain HTTP and
    TLS), with the probe's CPU per check beside the bare loop's;
  - the probe's peak RSS with 1,000 checks in flight against a target that answers after 3 s.

The target is bench/http_engines.py's server: separate processes, a 2 KB page, every
request on a fresh connection. TLS uses a throwaway CA the checker trusts via SSL_CERT_FILE.

    .venv/bin/python -m bench.bench_checker [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import confluent_kafka

from bench.common import BenchEnv, bench_env, report, services
from bench.http_engines import AiohttpEngine, Servers, measure
from shared.messages import CheckTask

CONCURRENCY = 256
RSS_CONCURRENCY = 1000
# The probe's rate is taken between these shares of the results: its start (group join,
# first fetch, imports warming) and its tail (the last checks, the producer's linger) are
# not throughput. The bare loop likewise warms up and then counts a fixed window.
STEADY_FROM, STEADY_TO = 0.1, 0.9
SLOW_DELAY_S = 3.0


def produce_tasks(env: BenchEnv, url: str, count: int, regex: str | None) -> None:
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": env.kafka_bootstrap, "linger.ms": 5, "compression.type": "zstd"}
    )
    now = datetime.now(UTC)
    topic = env.variables()["WEBMON_TASKS_TOPIC"]
    for i in range(count):
        producer.produce(
            topic,
            CheckTask(
                site_id=1 + i,
                url=url,
                timeout_s=10.0,
                regex=regex,
                scheduled_at=now,
                expires_at=now + timedelta(minutes=10),
            ).encode(),
            str(1 + i).encode(),
        )
        producer.poll(0)
    producer.flush(30)


class ResultCounter:
    """Counts messages on the results topic as they arrive."""

    def __init__(self, env: BenchEnv) -> None:
        self.topic = env.variables()["WEBMON_RESULTS_TOPIC"]
        self.consumer = confluent_kafka.Consumer(
            {"bootstrap.servers": env.kafka_bootstrap, "group.id": f"bench.{uuid.uuid4().hex}"}
        )
        parts = self.consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
        self.consumer.assign(
            [
                confluent_kafka.TopicPartition(self.topic, p, confluent_kafka.OFFSET_END)
                for p in parts
            ]
        )
        self.consumer.consume(1, timeout=1)  # settle the assignment at the end

    def wait_for(
        self, count: int, timeout_s: float, at: Callable[[int], None] | None = None
    ) -> list[tuple[float, int]]:
        """(perf_counter, results seen) after each poll until `count` results arrived (raises
        on timeout); `at(seen)` is called after each poll."""
        started = time.perf_counter()
        seen = 0
        samples: list[tuple[float, int]] = []
        while seen < count:
            if time.perf_counter() - started > timeout_s:
                raise SystemExit(f"only {seen} of {count} results within {timeout_s:g}s")
            got = sum(1 for m in self.consumer.consume(2000, timeout=0.05) if m.error() is None)
            if got:
                seen += got
                samples.append((time.perf_counter(), seen))
                if at is not None:
                    at(seen)
        return samples

    def close(self) -> None:
        self.consumer.close()


class Probe:
    """The probe role as its own process."""

    def __init__(self, env: BenchEnv, concurrency: int, ca_file: Path, log: Path) -> None:
        self.log = log
        variables = {
            **os.environ,
            **env.variables(),
            "WEBMON_CHECKER_ROLES": "probe",
            "WEBMON_CONCURRENCY": str(concurrency),
            "SSL_CERT_FILE": str(ca_file),
        }
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "checker"], env=variables, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 60
        while b"probe.assigned" not in log.read_bytes():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the probe did not join its group: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass(frozen=True)
class CheckerRun:
    rate: float  # checks/s between STEADY_FROM and STEADY_TO of the results
    whole_rate: float  # checks/s from the first task produced to the last result
    probe_cores: float  # the probe process's CPU over the steady window, in cores

    @property
    def cpu_ms_per_check(self) -> float:
        return self.probe_cores / self.rate * 1000.0


def checker_rate(
    env: BenchEnv, url: str, count: int, ca_file: Path, workdir: Path, name: str
) -> CheckerRun:
    counter = ResultCounter(env)
    probe = Probe(env, CONCURRENCY, ca_file, workdir / f"{name}.log")
    cpu: dict[str, float] = {}

    def note_cpu(seen: int) -> None:
        for mark, share in (("from", STEADY_FROM), ("to", STEADY_TO)):
            if mark not in cpu and seen >= share * count:
                cpu[mark] = probe.cpu_seconds()

    try:
        started = time.perf_counter()
        produce_tasks(env, url, count, "benchmark page")
        samples = counter.wait_for(count, timeout_s=300, at=note_cpu)
    finally:
        probe.stop()
        counter.close()
    t_from, n_from = next((t, n) for t, n in samples if n >= STEADY_FROM * count)
    t_to, n_to = next((t, n) for t, n in samples if n >= STEADY_TO * count)
    steady = t_to - t_from
    return CheckerRun(
        rate=(n_to - n_from) / steady,
        whole_rate=count / (samples[-1][0] - started),
        probe_cores=(cpu["to"] - cpu["from"]) / steady,
    )


SLOW_SERVER = """
import asyncio, sys
async def handle(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        await asyncio.sleep(float(sys.argv[1]))
        writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def peak_rss(env: BenchEnv, ca_file: Path, workdir: Path) -> tuple[float, float]:
    """(idle RSS MB, peak RSS MB) of a probe with 1,000 checks in flight."""
    server = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, str(SLOW_DELAY_S)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        counter = ResultCounter(env)
        probe = Probe(env, RSS_CONCURRENCY, ca_file, workdir / "rss.log")
        try:
            idle = probe.peak_rss_mb()
            produce_tasks(env, f"http://127.0.0.1:{port}/slow", RSS_CONCURRENCY, "ok")
            counter.wait_for(RSS_CONCURRENCY, timeout_s=120)
            return idle, probe.peak_rss_mb()
        finally:
            probe.stop()
            counter.close()
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="bare-loop duration")
    args = parser.parse_args()
    import trustme

    workdir = Path(tempfile.mkdtemp(prefix="webmon-bench-checker-"))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(workdir / "server.pem"))
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)

    with Servers(str(workdir / "server.pem")) as target:
        plain = f"http://127.0.0.1:{target.port}/"
        tls = f"https://127.0.0.1:{target.tls_port}/"
        rows: list[tuple[str, str]] = []
        with services() as (url, bootstrap):
            for scheme, target_url in (("plain", plain), ("TLS", tls)):
                bare, _, bare_cores, _ = measure(
                    AiohttpEngine, ctx, target_url, args.seconds, CONCURRENCY, True, target
                )
                count = max(2000, int(bare * args.seconds))
                with bench_env(url, bootstrap) as env:
                    run = checker_rate(env, target_url, count, workdir / "ca.pem", workdir, scheme)
                rows += [
                    (
                        f"bare aiohttp loop, {scheme}",
                        f"{bare:,.0f} req/s, {bare_cores / bare * 1000:.2f} ms CPU each",
                    ),
                    (
                        f"checker process, {scheme} ({count:,} checks)",
                        f"{run.rate:,.0f} checks/s, {run.cpu_ms_per_check:.2f} ms CPU each"
                        f" ({run.probe_cores:.2f} cores; first task to last result:"
                        f" {run.whole_rate:,.0f}/s)",
                    ),
                    (f"checker / bare, {scheme}", f"{run.rate / bare:.2f}"),
                ]
            with bench_env(url, bootstrap) as env:
                idle, peak = peak_rss(env, workdir / "ca.pem", workdir)
            rows += [
                ("probe RSS idle", f"{idle:.0f} MB"),
                (f"probe peak RSS, {RSS_CONCURRENCY:,} checks in flight", f"{peak:.0f} MB"),
            ]
    report(f"checker: concurrency {CONCURRENCY}, fresh connection per check", rows)


if __name__ == "__main__":
    main()
