"""Regions' tasks: a topic per region (what webmon does) against partitions of one topic.

Three regions at the same rate of real encoded `CheckTask`s (one task per site and region,
keyed by the site id as the scheduler keys them), against the project's broker:

* (a) a topic per region: 3 topics x 12 partitions; each task to its region's topic; one
  consumer group per region, its one consumer `subscribe()`d to its topic;
* (b) partitions of one topic: 1 topic x 36 partitions; region R's task goes to partition
  crc32(key) % 12 + 12 R (crc32: what librdkafka's default partitioner hashes); each
  region's consumer `assign()`s its 12 partitions. A group member that subscribes is given
  partitions by the group's assignor, from all the topic's partitions: it cannot keep to a
  region's, so (b) has no group rebalancing at all.

The producer runs as the scheduler's (configured by `shared.kafka`, flushed every 50 ms
batch); each consumer as a probe's (batches of up to 500, its offsets committed
asynchronously every second and synchronously at the end). Each is a process of its own,
so that its CPU (user + system, from /proc as bench/costs.py reads it) is its own. The
phases alternate (a, b, a, b, ...) on one broker, each with fresh topics (deleted after it)
and groups.

    .venv/bin/python -m bench.bench_task_topics [--rate 1500] [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import textwrap
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

import confluent_kafka
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from bench.common import report, services
from bench.costs import listener_pid, own_cpu, tree_cpu
from scheduler.service import make_scheduler_producer
from scheduler.settings import SchedulerSettings
from shared.kafka import client_config, commit_offsets, ensure_topics, make_consumer
from shared.messages import CheckTask

REGIONS = ("eu-west", "us-east", "ap-south")
PARTITIONS = 12  # per region: bench/common.py's BENCH_PARTITIONS, as webmon's default
TICK_S = 0.05  # the producer's batch: produced, then flushed (the scheduler's claim gap)
COMMIT_INTERVAL_S = 1.0  # as the probe
CONSUME_BATCH = 500  # as the probe
JOIN_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 60.0
NOT_SHOWN = (
    "(a): a lagging or stopped region holds back nothing of the others': its topic, its "
    "partitions and its group are its own; a region is added by creating a topic (the "
    "scheduler does, at its first task) and removed by deleting one.",
    "(b): adding a region means adding 12 partitions to the topic in use, and every "
    "producer and consumer must learn the new count and the same region-to-partitions "
    "map; a region removed leaves its partitions behind (a topic's cannot be removed).",
    "(b): a region's consumers assign() their partitions (a subscriber takes what the "
    "group's assignor gives it, from every partition of the topic), so there is no group "
    "rebalancing: a second checker in a region, or one that dies, needs the region's "
    "partitions split again by hand.",
    "(b): the regions share one topic's retention and ACLs (an ACL names a topic, not "
    "partitions): a region's credentials can read every region's tasks.",
)


def settings(bootstrap: str) -> SchedulerSettings:
    # Never connects to a database: only the Kafka settings are used.
    return SchedulerSettings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=SecretStr("postgresql://unused@127.0.0.1/unused"),
        kafka_bootstrap_servers=bootstrap,
        kafka_session_timeout_ms=6000,
    )


def encoded_tasks(sites: int, region: str) -> list[tuple[bytes, bytes]]:
    """(key, value) of one task per site for `region`, as the scheduler encodes them."""
    slot = datetime.now(UTC).replace(microsecond=0)
    return [
        (
            str(site).encode(),
            CheckTask(
                site_id=site,
                url=f"https://site-{site}.example.com/health",
                timeout_s=5.0,
                scheduled_at=slot,
                expires_at=slot + timedelta(seconds=60),
                region=region,
                region_count=len(REGIONS),
            ).encode(),
        )
        for site in range(1, sites + 1)
    ]


@dataclass(frozen=True)
class Plan:
    mode: str  # "a" or "b"
    bootstrap: str
    topics: tuple[str, ...]  # (a): one per region; (b): the one topic
    group_prefix: str
    rate: int  # tasks per second per region
    seconds: float

    @property
    def per_region(self) -> int:
        return int(self.rate * self.seconds)


def produce(plan: Plan, go: Event, finish: Event, out: mp.Queue[tuple[str, object]]) -> None:
    """The scheduler's side: each tick, one task per site of the tick for every region."""
    config = settings(plan.bootstrap)
    producer = make_scheduler_producer(config)
    client = producer.client
    client.list_topics(timeout=10)  # connected, with metadata, before the clock starts
    tasks = [encoded_tasks(plan.rate, region) for region in REGIONS]
    out.put(("producer ready", os.getpid()))
    go.wait()
    started, sent = time.monotonic(), 0
    while sent < plan.per_region:
        due = min(plan.per_region, int((time.monotonic() - started) * plan.rate) + 1)
        for i in range(sent, due):
            for r, region_tasks in enumerate(tasks):
                key, value = region_tasks[i % plan.rate]
                if plan.mode == "a":
                    producer.produce(plan.topics[r], value, key)
                else:
                    partition = zlib.crc32(key) % PARTITIONS + PARTITIONS * r
                    _produce_to(client, plan.topics[0], value, key, partition)
        sent = due
        producer.flush(config.flush_timeout_s)
        time.sleep(max(0.0, started + sent / plan.rate + TICK_S - time.monotonic()))
    out.put(("producer done", sent * len(REGIONS)))
    finish.wait()  # alive until its CPU is read


def _produce_to(
    client: confluent_kafka.Producer, topic: str, value: bytes, key: bytes, partition: int
) -> None:
    """`Producer.produce` to one partition (the wrapper has no partition argument)."""
    while True:
        try:
            client.produce(topic, value, key, partition=partition)
            return
        except BufferError:
            client.poll(0.05)


def consume(plan: Plan, r: int, finish: Event, out: mp.Queue[tuple[str, object]]) -> None:
    """Region r's consumer: until it has every task of its region; then its latencies."""
    topic = plan.topics[0 if plan.mode == "b" else r]
    consumer = make_consumer(settings(plan.bootstrap), f"{plan.group_prefix}.{REGIONS[r]}")
    if plan.mode == "a":
        consumer.subscribe([topic])
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise SystemExit(f"{REGIONS[r]}: no partitions after {JOIN_TIMEOUT_S:g}s")
            consumer.consume(CONSUME_BATCH, timeout=0.1)
    else:
        first = PARTITIONS * r
        parts = [confluent_kafka.TopicPartition(topic, p) for p in range(first, first + PARTITIONS)]
        consumer.assign(parts)
    out.put(("consumer ready", os.getpid()))
    latencies: list[float] = []
    last_at = 0.0
    offsets: dict[int, int] = {}
    last_commit = time.monotonic()
    deadline = time.monotonic() + JOIN_TIMEOUT_S + plan.seconds + DRAIN_TIMEOUT_S
    while len(latencies) < plan.per_region:
        for msg in consumer.consume(CONSUME_BATCH, timeout=0.1):
            if msg.error() is not None:
                continue
            kind, stamp = msg.timestamp()
            if kind != confluent_kafka.TIMESTAMP_CREATE_TIME:
                raise SystemExit(f"{REGIONS[r]}: the broker did not keep the produce time")
            last_at = time.time()
            latencies.append(last_at * 1000 - stamp)
            partition, offset = msg.partition(), msg.offset()
            assert partition is not None and offset is not None
            offsets[partition] = offset + 1
        now = time.monotonic()
        if now - last_commit >= COMMIT_INTERVAL_S:
            last_commit = now
            commit_offsets(consumer, _positions(topic, offsets), asynchronous=True)
        if now > deadline:
            break
    commit_offsets(consumer, _positions(topic, offsets))
    consumer.close()
    out.put(("consumer done", (latencies, last_at)))
    finish.wait()


def _positions(topic: str, offsets: dict[int, int]) -> list[confluent_kafka.TopicPartition]:
    return [confluent_kafka.TopicPartition(topic, p, o) for p, o in offsets.items()]


@dataclass(frozen=True)
class Figures:
    delivered_per_s: float
    lost: int
    p50_ms: float
    p99_ms: float
    cpu_us: dict[str, float]  # µs of CPU per delivered message, by process


def run_phase(plan: Plan, broker_pid: int | None) -> Figures:
    ensure_topics(settings(plan.bootstrap), plan.topics, PARTITIONS * 3 // len(plan.topics))
    ctx = mp.get_context("spawn")
    out: mp.Queue[tuple[str, object]] = ctx.Queue()
    go, finish = ctx.Event(), ctx.Event()
    procs: list[BaseProcess] = [ctx.Process(target=produce, args=(plan, go, finish, out))]
    procs += [ctx.Process(target=consume, args=(plan, r, finish, out)) for r in range(len(REGIONS))]
    for p in procs:
        p.start()
    try:
        for _ in procs:  # every process connected (and each group joined)
            out.get(timeout=JOIN_TIMEOUT_S + 30)
        cpu_start = _cpu(procs, broker_pid)
        go.set()
        started = time.time()
        latencies: list[float] = []
        last_at = started
        for _ in procs:
            kind, value = out.get(timeout=plan.seconds + DRAIN_TIMEOUT_S + 30)
            if kind == "consumer done":
                assert isinstance(value, tuple)
                latencies += value[0]
                last_at = max(last_at, value[1])
        cpu_end = _cpu(procs, broker_pid)
    finally:
        finish.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    _delete_topics(plan)
    latencies.sort()
    count = len(latencies)
    spent = {k: 1e6 * (cpu_end[k] - cpu_start[k]) / max(1, count) for k in cpu_start}
    return Figures(
        delivered_per_s=count / max(1e-3, last_at - started),
        lost=plan.per_region * len(REGIONS) - count,
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=latencies[min(count - 1, int(count * 0.99))] if latencies else float("nan"),
        cpu_us=spent,
    )


def _delete_topics(plan: Plan) -> None:
    """Best effort: the next phase starts on a broker holding none of this one's messages."""
    admin = AdminClient(client_config(settings(plan.bootstrap)))
    for topic, future in admin.delete_topics(list(plan.topics), operation_timeout=15).items():
        try:
            future.result(timeout=15)
        except confluent_kafka.KafkaException as exc:
            print(f"(topic {topic} not deleted: {exc})", flush=True)


def _cpu(procs: list[BaseProcess], broker_pid: int | None) -> dict[str, float]:
    pids = [p.pid for p in procs]
    assert all(pid is not None for pid in pids)
    cpu = {"broker": tree_cpu(broker_pid) if broker_pid else float("nan")}
    cpu["producer"] = own_cpu(pids[0] or 0)
    cpu["consumers (3)"] = sum(own_cpu(pid or 0) for pid in pids[1:])
    cpu["all counted"] = sum(cpu.values())
    return cpu


def rows(a: Figures, b: Figures) -> list[tuple[str, str]]:
    def row(name: str, x: float, y: float, unit: str, fmt: str = ",.1f") -> tuple[str, str]:
        return (name, f"a {x:>9{fmt}}  b {y:>9{fmt}} {unit:<8} b/a {y / x if x else 0:5.2f}")

    out = [
        row("delivered", a.delivered_per_s, b.delivered_per_s, "msg/s", ",.0f"),
        row("latency p50", a.p50_ms, b.p50_ms, "ms"),
        row("latency p99", a.p99_ms, b.p99_ms, "ms"),
    ]
    out += [row(f"CPU {k}", a.cpu_us[k], b.cpu_us[k], "µs/msg") for k in a.cpu_us]
    if a.lost or b.lost:
        out.append(("not delivered", f"a {a.lost}  b {b.lost}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=1500, help="tasks per second per region")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=2, help="of (a, b)")
    args = parser.parse_args()
    print(f"$ python -m bench.bench_task_topics {' '.join(sys.argv[1:])}".rstrip())
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{os.cpu_count()} cores; {len(REGIONS)} regions x {args.rate:,} tasks/s, "
          f"{args.seconds:g} s per phase")  # fmt: skip
    with services() as (_, bootstrap):
        port = int(bootstrap.rsplit(":", 1)[1])
        broker_pid = listener_pid(port)
        for n in range(1, args.rounds + 1):
            figures = {}
            for mode in ("a", "b"):
                tag = uuid.uuid4().hex[:8]
                topics = (
                    tuple(f"bench.tasks.{tag}.{region}" for region in REGIONS)
                    if mode == "a"
                    else (f"bench.tasks.{tag}",)
                )
                plan = Plan(mode, bootstrap, topics, f"bench.probe.{tag}", args.rate, args.seconds)
                figures[mode] = run_phase(plan, broker_pid)
            title = f"round {n}: (a) a topic per region, 3 x {PARTITIONS} partitions; "
            title += f"(b) partitions of one topic, 1 x {PARTITIONS * 3}"
            report(title, rows(figures["a"], figures["b"]))
    print("\nWhat the figures do not show:")
    for line in NOT_SHOWN:
        print(textwrap.fill(line, 96, initial_indent="  - ", subsequent_indent="    "))


if __name__ == "__main__":
    main()
