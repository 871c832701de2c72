"""Reading a topic back: until a condition holds, or every message, exactly."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import confluent_kafka

POLL_BATCH = 1000


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[confluent_kafka.Message]], bool],
    timeout_s: float = 30.0,
) -> list[confluent_kafka.Message]:
    """Consume `topic` from the beginning until `until(messages)` holds or the deadline passes."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test.reader.{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                for p in partitions
            ]
        )
        messages: list[confluent_kafka.Message] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not until(messages):
            for msg in consumer.consume(POLL_BATCH, timeout=0.2):
                if msg.error() is None:
                    messages.append(msg)
        return messages
    finally:
        consumer.close()


def count_at_least(n: int) -> Callable[[list[confluent_kafka.Message]], bool]:
    return lambda messages: len(messages) >= n


END_MARKER = b"__webmon_test_end__"


def read_all(
    bootstrap: str, topic: str, *, timeout_s: float = 60.0
) -> list[confluent_kafka.Message]:
    """Every message now in `topic`, exactly: an end marker is written into each partition
    and the topic is read until every marker came back. (Tansu's watermarks are not exact.)"""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test.all.{uuid.uuid4().hex}"}
    )
    try:
        partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        for p in partitions:
            producer.produce(topic, END_MARKER, END_MARKER, partition=p)
        if producer.flush(10):
            raise TimeoutError(f"end markers not acknowledged on {topic}")
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                for p in partitions
            ]
        )
        messages: list[confluent_kafka.Message] = []
        ended: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(ended) < len(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(messages)} messages, end of {topic} not reached")
            for msg in consumer.consume(POLL_BATCH, timeout=0.2):
                if msg.error() is not None:
                    continue
                if msg.key() == END_MARKER:
                    ended.add(msg.partition() or 0)
                else:
                    messages.append(msg)
        return messages
    finally:
        consumer.close()
        producer.flush(5)
