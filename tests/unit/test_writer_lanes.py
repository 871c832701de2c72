"""The writer's lanes: which partitions go where, and which offsets get committed when."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import confluent_kafka
import pytest
from pytest_mock import MockerFixture

from checker.settings import CheckerSettings
from checker.writer import Batch, ResultWriter
from shared.db import Database


@pytest.fixture
def writer() -> ResultWriter:
    settings = CheckerSettings(
        database_url="postgresql://nobody@127.0.0.1:9/none",
        kafka_bootstrap_servers="127.0.0.1:9",
        writer_lanes=2,
        _env_file=None,  # type: ignore[call-arg]
    )
    # Neither is used: no I/O happens before start().
    return ResultWriter(
        settings, Database(settings.database_url.get_secret_value()), None, threading.Event()
    )  # type: ignore[arg-type]


def assign(writer: ResultWriter, *partitions: int) -> None:
    writer._on_assign(None, [confluent_kafka.TopicPartition("r", p) for p in partitions])


def batch(*offsets: tuple[int, int]) -> Batch:
    b = Batch()
    for partition, offset in offsets:
        b.add(("r", partition), offset, None)
    return b


def done(durable: bool) -> Future[bool]:
    future: Future[bool] = Future()
    future.set_result(durable)
    return future


def test_partitions_are_spread_over_the_lanes(writer: ResultWriter) -> None:
    assign(writer, 0, 1, 2, 3)
    lanes = [writer._lane_of[("r", p)] for p in range(4)]
    assert sorted(lanes) == [0, 0, 1, 1]


def test_a_partition_with_a_batch_in_flight_keeps_its_lane(writer: ResultWriter) -> None:
    assign(writer, 0, 1)
    assert writer._lane_of[("r", 1)] == 1
    pending: Future[bool] = Future()
    writer._lanes[1].in_flight.append((batch((1, 10)), pending))
    writer._on_lost(None, [confluent_kafka.TopicPartition("r", p) for p in (0, 1)])
    # Back again with others: placed afresh, partition 1 would go to lane 0 first.
    assign(writer, 1, 2, 3)
    assert writer._lane_of[("r", 1)] == 1
    assert sorted(writer._lane_of[("r", p)] for p in (2, 3)) == [0, 0]


def test_offsets_are_committed_in_order_and_never_past_a_batch_that_gave_up(
    writer: ResultWriter, mocker: MockerFixture
) -> None:
    committed: list[Any] = []
    mocker.patch.object(writer, "_commit", side_effect=lambda b: committed.append(b))
    lane = writer._lanes[0]
    first, second, third = batch((0, 1)), batch((0, 2)), batch((0, 3))
    later: Future[bool] = Future()
    lane.in_flight.extend([(first, done(True)), (second, later)])
    assert writer._reap(lane) is False  # the second is still being written
    assert committed == [first]
    later.set_result(False)  # gave up (stopping)
    lane.in_flight.append((third, done(True)))
    assert writer._reap(lane) is True
    assert committed == [first]  # nothing behind the batch that was not written
    assert not lane.gave_up  # the next batches commit again
