"""confluent-kafka behind a small surface: a producer wrapper, consumers, topics.

The producer follows quix-streams: the client is built lazily, `produce` retries a full
queue, the first delivery error is kept and raised by the next `flush`. Consumers never
auto-commit or auto-store offsets: callers commit explicitly, after durability.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from shared.errors import ConfigError, DeliveryError, KafkaError
from shared.settings import CommonSettings

logger = logging.getLogger(__name__)

DEFAULT_PRODUCER_CONFIG: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "zstd",
    "message.timeout.ms": 30_000,
}
DEFAULT_CONSUMER_CONFIG: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
}
ADMIN_TIMEOUT_S = 15.0
PRODUCE_RETRY_DEADLINE_S = 30.0
# Delivery reports are served every this many produces (and by every flush).
POLL_EVERY = 1000

DeliveryCallback = Callable[[Any, Any], None]
# The same librdkafka error (say, a refused connection on every reconnect) is logged once
# per this many seconds, with the count of repeats in between.
ERROR_LOG_INTERVAL_S = 60.0


class ClientLog:
    """librdkafka's own log lines (`logger`) and errors (`error_cb`) as webmon log lines:
    `kafka.log` and `kafka.error`, in the process's text or JSON format. Both are served
    by the client's poll, on the thread that polls it."""

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log
        self._last: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def log(self, level: int, fmt: str, *args: object) -> None:
        """The `logger` interface librdkafka's Python client calls: ("%s [%s] %s",
        facility, client name, message)."""
        facility, client, message = [*args, "", "", ""][:3]
        self._log.log(
            level, "kafka.log facility=%s client=%s message=%s", facility, client, message
        )

    def error(self, err: Any) -> None:
        code = _error_code(err) or "?"
        now = time.monotonic()
        with self._lock:
            last, repeats = self._last.get(code, (-ERROR_LOG_INTERVAL_S, 0))
            if now - last < ERROR_LOG_INTERVAL_S:
                self._last[code] = (last, repeats + 1)
                return
            self._last[code] = (now, 0)
        reason = " ".join(str(err.str()).split())
        self._log.warning("kafka.error code=%s repeated=%d reason=%s", code, repeats, reason)


def client_config(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    """The connection settings of every webmon Kafka client, logging through webmon."""
    client_log = ClientLog()
    return {
        **settings.kafka_config(),
        "logger": client_log,
        "error_cb": client_log.error,
        **overrides,
    }


def _error_code(err: Any) -> str | None:
    try:
        return str(err.name())
    except AttributeError:
        return None


class Producer:
    """An idempotent producer; `flush` raises `DeliveryError` if anything was not acked.

    Messages produced without their own callback report to one producer-wide callback
    that keeps the first error; the per-message path costs a closure only where the caller
    needs to know about each message.
    """

    def __init__(self, config: dict[str, Any], overrides: dict[str, Any] | None = None) -> None:
        self._config = {
            **DEFAULT_PRODUCER_CONFIG,
            **config,
            **(overrides or {}),
            "on_delivery": self._record,
        }
        self._client: confluent_kafka.Producer | None = None
        self._first_error: KafkaError | None = None
        self._unpolled = 0

    @property
    def client(self) -> confluent_kafka.Producer:
        if self._client is None:
            self._client = confluent_kafka.Producer(self._config)
        return self._client

    def _record(self, err: Any, msg: Any) -> None:
        if err is not None and self._first_error is None:
            self._first_error = DeliveryError(f"delivery failed: {err.str()}", _error_code(err))

    def _with_record(self, user_callback: DeliveryCallback) -> DeliveryCallback:
        def callback(err: Any, msg: Any) -> None:
            self._record(err, msg)
            user_callback(err, msg)

        return callback

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        client = self._client or self.client
        kwargs: dict[str, Any] = {}
        if headers:
            kwargs["headers"] = list(headers)
        if on_delivery is not None:
            kwargs["on_delivery"] = self._with_record(on_delivery)
        try:
            client.produce(topic, value, key, **kwargs)
        except BufferError:
            self._produce_when_room(client, topic, value, key, kwargs)
        except confluent_kafka.KafkaException as exc:
            err = exc.args[0]
            raise KafkaError(f"produce failed: {err.str()}", _error_code(err)) from exc
        self._unpolled += 1
        if self._unpolled >= POLL_EVERY:
            self._unpolled = 0
            client.poll(0)

    def _produce_when_room(
        self,
        client: confluent_kafka.Producer,
        topic: str,
        value: bytes,
        key: bytes | None,
        kwargs: dict[str, Any],
    ) -> None:
        """The local queue is full: serve delivery reports until there is room."""
        deadline = time.monotonic() + PRODUCE_RETRY_DEADLINE_S
        while True:
            client.poll(0.05)
            try:
                client.produce(topic, value, key, **kwargs)
                return
            except BufferError:
                if time.monotonic() > deadline:
                    raise DeliveryError("producer queue stayed full", "_QUEUE_FULL") from None

    def poll(self, timeout: float = 0) -> int:
        return int(self.client.poll(timeout))

    def flush(self, timeout: float) -> None:
        """Wait for every acknowledgement; raise the first delivery error since last flush."""
        remaining = int(self.client.flush(timeout))
        error, self._first_error = self._first_error, None
        if error is not None:
            raise error
        if remaining:
            raise DeliveryError(
                f"{remaining} messages not acknowledged within {timeout:g}s", "_TIMED_OUT"
            )

    def reset(self) -> None:
        """After a failed flush: drop everything not yet acknowledged and the client itself.

        An idempotent producer whose in-flight requests timed out may wait forever for a
        producer-epoch bump the broker does not offer (seen with Tansu after a 30 s pause),
        so the next produce starts a fresh client with a new producer id. Messages already
        sent may still land: their duplicates are harmless downstream.
        """
        client, self._client = self._client, None
        self._first_error = None
        if client is not None:
            client.purge(in_queue=True, in_flight=True)
            client.poll(0)
            client.flush(0)

    def pending(self) -> int:
        return 0 if self._client is None else len(self._client)

    def close(self, timeout: float = 5.0) -> int:
        """Flush what can be flushed within the timeout; return how many were left."""
        if self._client is None:
            return 0
        remaining = int(self._client.flush(timeout))
        self._client = None
        return remaining


def make_producer(settings: CommonSettings, **overrides: Any) -> Producer:
    return Producer(client_config(settings), overrides)


def make_consumer(
    settings: CommonSettings, group_id: str, **overrides: Any
) -> confluent_kafka.Consumer:
    config = {
        **client_config(settings),
        **DEFAULT_CONSUMER_CONFIG,
        "group.id": group_id,
        "session.timeout.ms": settings.kafka_session_timeout_ms,
        "heartbeat.interval.ms": max(500, settings.kafka_session_timeout_ms // 5),
        **overrides,
    }
    return confluent_kafka.Consumer(config)


def commit_offsets(
    consumer: confluent_kafka.Consumer,
    offsets: Iterable[confluent_kafka.TopicPartition],
    *,
    asynchronous: bool = False,
) -> None:
    """Commit; raise `KafkaError` if the broker refused any partition. Asynchronous: only
    hand the commit to librdkafka (the consumer's `on_commit` callback sees the outcome)."""
    offsets = list(offsets)
    if not offsets:
        return
    try:
        if asynchronous:
            consumer.commit(offsets=offsets, asynchronous=True)
            return
        result = consumer.commit(offsets=offsets, asynchronous=False)
    except confluent_kafka.KafkaException as exc:
        err = exc.args[0]
        raise KafkaError(f"commit failed: {err.str()}", _error_code(err)) from exc
    for tp in result or []:
        if tp.error is not None:
            raise KafkaError(
                f"commit failed for {tp.topic}[{tp.partition}]: {tp.error.str()}",
                _error_code(tp.error),
            )


# A dead letter must fit under librdkafka's default message.max.bytes (1,000,000) with its
# headers, or dead-lettering the poison would fail in turn.
DEAD_LETTER_MAX_VALUE_BYTES = 900_000
DEAD_LETTER_MAX_KEY_BYTES = 1_024


def dead_letter(
    reason: str, msg: confluent_kafka.Message
) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    """(value, key, headers) to produce to the dead-letter topic for an unusable message:
    the original bytes (truncated if huge, with the original size in a header), the reason
    and where it came from."""
    value = msg.value() or b""
    key = msg.key()
    headers = [
        ("webmon.error", reason.encode("utf-8", "replace")[:1000]),
        ("webmon.source.topic", str(msg.topic()).encode()),
        ("webmon.source.partition", str(msg.partition()).encode()),
        ("webmon.source.offset", str(msg.offset()).encode()),
    ]
    if len(value) > DEAD_LETTER_MAX_VALUE_BYTES:
        headers.append(("webmon.truncated_from", str(len(value)).encode()))
        value = value[:DEAD_LETTER_MAX_VALUE_BYTES]
    if key is not None and len(key) > DEAD_LETTER_MAX_KEY_BYTES:
        key = key[:DEAD_LETTER_MAX_KEY_BYTES]
    return value, key, headers


def ensure_topics(
    settings: CommonSettings,
    topics: Iterable[str],
    partitions: int,
    replication_factor: int | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AdminClient(client_config(settings))
    try:
        existing = set(admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics)
    except confluent_kafka.KafkaException as exc:
        err = exc.args[0]
        raise KafkaError(f"cannot list topics: {err.str()}", _error_code(err)) from exc
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=partitions, replication_factor=replication_factor or -1)
            for t in missing
        ],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    created = []
    for topic, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_S)
            created.append(topic)
        except confluent_kafka.KafkaException as exc:
            err = exc.args[0]
            if err.code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise KafkaError(f"cannot create topic {topic}: {err.str()}", _error_code(err)) from exc
    return created


# librdkafka errors that no retry can fix: the broker refused our TLS or our credentials.
_CONFIGURATION_ERRORS = frozenset(
    {"_SSL", "_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED", "_INVALID_ARG"}
)
_QUIET = logging.getLogger("webmon.kafka.startup_check")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def check_kafka_config(settings: CommonSettings, timeout_s: float = 15.0) -> bool:
    """Connect once at startup. True: the broker answered. False: not reachable yet (the
    caller's loops retry with backoff). ConfigError: TLS or authentication failed, which
    retrying cannot fix: one clear line instead of endless reconnects."""
    errors: list[Any] = []
    config: dict[str, Any] = {
        **settings.kafka_config(),
        "error_cb": errors.append,
        "logger": _QUIET,
    }
    admin = AdminClient(config)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=1.0)
            return True
        except confluent_kafka.KafkaException:
            admin.poll(0.1)  # error callbacks are served by poll
        for err in errors:
            if err.name() in _CONFIGURATION_ERRORS:
                reason = err.str().strip().splitlines()[0]
                raise ConfigError(
                    f"cannot connect to Kafka at {settings.kafka_bootstrap_servers}: {reason}"
                )
    return False


@dataclass(frozen=True)
class ClusterInfo:
    brokers: int
    partitions: dict[str, int]  # partition count of every topic the cluster has


def describe_cluster(
    settings: CommonSettings, timeout_s: float = ADMIN_TIMEOUT_S, **overrides: Any
) -> ClusterInfo:
    """Brokers and topics as the cluster's metadata shows them; KafkaError if unreachable."""
    return list_topics(client_config(settings, **overrides), timeout_s)


def list_topics(config: dict[str, Any], timeout_s: float = ADMIN_TIMEOUT_S) -> ClusterInfo:
    """`describe_cluster` for a raw librdkafka configuration."""
    admin = AdminClient(config)
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except confluent_kafka.KafkaException as exc:
        err = exc.args[0]
        raise KafkaError(f"cannot reach Kafka: {err.str()}", _error_code(err)) from exc
    return ClusterInfo(
        brokers=len(metadata.brokers),
        partitions={name: len(topic.partitions) for name, topic in metadata.topics.items()},
    )
