"""webmon's exceptions, all under one root.

    WebmonError
     ├── ConfigError            a setting is missing or invalid (exit status 2)
     ├── DatabaseError          PostgreSQL refused a statement (its SQLSTATE and constraint)
     │    └── DatabaseUnavailable   no connection: retry with backoff
     ├── KafkaError             carries librdkafka's error code when there is one
     │    └── DeliveryError     a produced message was not acknowledged
     └── MessageError           a consumed message cannot be parsed (dead-letter it)

Driver errors are translated where the driver is called (`shared.db`, `shared.kafka`);
nothing else in the project catches psycopg or confluent_kafka exceptions. Code that must
tell one database error from another reads `DatabaseError.sqlstate` (the constants below)
and `.constraint`; Kafka errors keep librdkafka's error name in `KafkaError.code`.
"""

from __future__ import annotations


class WebmonError(Exception):
    """Root of every error webmon raises on purpose."""


class ConfigError(WebmonError):
    """A setting is missing or invalid."""


# SQLSTATEs that webmon's own code acts on (PostgreSQL's Appendix A).
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CHECK_VIOLATION = "23514"
NOT_NULL_VIOLATION = "23502"
INVALID_TEXT_REPRESENTATION = "22P02"
QUERY_CANCELED = "57014"


class DatabaseError(WebmonError):
    """PostgreSQL rejected a statement.

    `sqlstate` is the five-character code PostgreSQL sent (None without one), `constraint`
    the name of the constraint a row broke, `context` PostgreSQL's CONTEXT line when it
    sent one (for a COPY: which line of the input).
    """

    def __init__(
        self,
        message: str,
        context: str | None = None,
        *,
        sqlstate: str | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.context = context
        self.sqlstate = sqlstate
        self.constraint = constraint

    @property
    def integrity(self) -> bool:
        """A row broke a constraint (SQLSTATE class 23): the data is wrong, not the system."""
        return (self.sqlstate or "").startswith("23")


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
