"""webmon's exceptions, all under one root.

    WebmonError
     ├── ConfigError            a setting is missing or invalid (exit status 2)
     ├── DatabaseError          PostgreSQL refused a statement
     │    └── DatabaseUnavailable   no connection: retry with backoff
     ├── KafkaError             carries librdkafka's error code when there is one
     │    └── DeliveryError     a produced message was not acknowledged
     └── MessageError           a consumed message cannot be parsed (dead-letter it)

Driver errors are translated where the driver is called (`shared.db`, `shared.kafka`);
nothing else in the project catches psycopg or confluent_kafka exceptions.
"""

from __future__ import annotations


class WebmonError(Exception):
    """Root of every error webmon raises on purpose."""


class ConfigError(WebmonError):
    """A setting is missing or invalid."""


class DatabaseError(WebmonError):
    """PostgreSQL rejected a statement. `context` is PostgreSQL's CONTEXT line when it
    sent one (for a COPY: which line of the input)."""

    def __init__(self, message: str, context: str | None = None) -> None:
        super().__init__(message)
        self.context = context


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL cannot be reached; the operation may be retried."""


class KafkaError(WebmonError):
    """A Kafka operation failed."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class DeliveryError(KafkaError):
    """A produced message was not acknowledged by the broker."""


class MessageError(WebmonError):
    """A consumed message cannot be parsed or validated."""
