"""Settings from `WEBMON_*` environment variables (or a `.env` file), one model per process.

A missing or invalid setting ends the process with one line naming the variable and
exit status 2 (`load_settings`), never a traceback.

Where values come from, the first that has one winning: the environment; `.env` in the
current folder; and, only when neither names a database or a broker, the file in which the
embedded development stack (`make run`, `make up`) writes its addresses while it runs,
`.state/local.env` (the state folder is `WEBMON_LOCAL_STATE_DIR`). So `webmon …` run from
a clone reaches the stack its `make run` started with nothing exported, and configured
services always win over it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar, overload

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from shared.messages.bounds import DEFAULT_REGION
from shared.netpolicy import DEFAULT_BLOCKED_NETWORKS, TargetPolicy, parse_networks
from shared.sealing import SecretBox

ENV_PREFIX = "WEBMON_"

DEFAULT_TASKS_TOPIC = "webmon.tasks"
DEFAULT_RESULTS_TOPIC = "webmon.results"
DEFAULT_DEAD_LETTER_TOPIC = "webmon.dead-letter"
# On-demand checks (the HTTP API's tasks) have topics of their own, so that a backlog of
# scheduled checks never delays them.
DEFAULT_ONDEMAND_TASKS_TOPIC = "webmon.ondemand.tasks"
DEFAULT_ONDEMAND_RESULTS_TOPIC = "webmon.ondemand.results"
DEFAULT_PARTITIONS = 12
# How long a dead consumer holds its partitions before the group hands them on: the
# failover gap. 6 s is the least Apache Kafka accepts by default
# (group.min.session.timeout.ms); Tansu forms a group in about half of it.
DEFAULT_SESSION_TIMEOUT_MS = 6_000


DOTENV_FILE = Path(".env")
# The embedded stack's own file, in its state folder (written and removed by devstack).
LOCAL_STATE_DIR_VARIABLE = "WEBMON_LOCAL_STATE_DIR"
DEFAULT_LOCAL_STATE_DIR = ".state"
LOCAL_STACK_ENV_FILE = "local.env"
# Either of these, configured, means the user's own services: the local file is not read.
SERVICE_VARIABLES = ("WEBMON_DATABASE_URL", "WEBMON_KAFKA_BOOTSTRAP_SERVERS")


def services_configured(dotenv: Path = DOTENV_FILE) -> list[str]:
    """The service variables the environment or `dotenv` sets (not the local stack's file)."""
    in_file = dotenv_values(dotenv) if dotenv.is_file() else {}
    return [name for name in SERVICE_VARIABLES if os.environ.get(name) or in_file.get(name)]


def local_stack_env_file() -> Path:
    state = os.environ.get(LOCAL_STATE_DIR_VARIABLE) or DEFAULT_LOCAL_STATE_DIR
    return Path(state) / LOCAL_STACK_ENV_FILE


class _DotenvFiles(Sequence[Path]):
    """The dotenv files a settings model reads, lowest priority first, decided each time
    settings are read (not at import): `.env`, and before it the local stack's file when
    nothing names a database or a broker. pydantic-settings takes any sequence of paths."""

    def _files(self) -> tuple[Path, ...]:
        if services_configured(DOTENV_FILE):
            return (DOTENV_FILE,)
        return (local_stack_env_file(), DOTENV_FILE)

    @overload
    def __getitem__(self, index: int) -> Path: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Path]: ...
    def __getitem__(self, index: int | slice) -> Path | Sequence[Path]:
        return self._files()[index]

    def __len__(self) -> int:
        return len(self._files())

    def __iter__(self) -> Iterator[Path]:
        return iter(self._files())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._files())!r})"


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _readable_file(value: Path | None, field: str) -> None:
    if value is None:
        return
    if not value.is_file():
        raise ValueError(f"{field}: no such file: {value}")
    if not os.access(value, os.R_OK):
        raise ValueError(f"{field}: file is not readable: {value}")


class CommonSettings(BaseSettings):
    """What every webmon process needs: PostgreSQL, Kafka, logging."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=_DotenvFiles(),
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # The URL may hold a password: a SecretStr keeps it out of reprs and logs.
    database_url: SecretStr

    kafka_bootstrap_servers: str = Field(min_length=1)
    kafka_security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # Any other librdkafka option, as JSON: WEBMON_KAFKA_EXTRA='{"socket.keepalive.enable": true}'
    kafka_extra: dict[str, str | int | float | bool] = Field(default_factory=dict)
    kafka_session_timeout_ms: int = Field(default=DEFAULT_SESSION_TIMEOUT_MS, ge=1000, le=300_000)

    tasks_topic: str = Field(default=DEFAULT_TASKS_TOPIC, min_length=1)
    results_topic: str = Field(default=DEFAULT_RESULTS_TOPIC, min_length=1)
    dead_letter_topic: str = Field(default=DEFAULT_DEAD_LETTER_TOPIC, min_length=1)
    ondemand_tasks_topic: str = Field(default=DEFAULT_ONDEMAND_TASKS_TOPIC, min_length=1)
    ondemand_results_topic: str = Field(default=DEFAULT_ONDEMAND_RESULTS_TOPIC, min_length=1)

    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    log_format: LogFormat = LogFormat.TEXT

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Self:
        protocol = self.kafka_security_protocol
        if protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
            _readable_file(self.kafka_ssl_ca_file, "kafka_ssl_ca_file")
            _readable_file(self.kafka_ssl_cert_file, "kafka_ssl_cert_file")
            _readable_file(self.kafka_ssl_key_file, "kafka_ssl_key_file")
            if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
                raise ValueError("kafka_ssl_cert_file and kafka_ssl_key_file: set both or neither")
        if protocol in (SecurityProtocol.SASL_SSL, SecurityProtocol.SASL_PLAINTEXT):
            missing = [
                name
                for name, value in (
                    ("kafka_sasl_mechanism", self.kafka_sasl_mechanism),
                    ("kafka_sasl_username", self.kafka_sasl_username),
                    ("kafka_sasl_password", self.kafka_sasl_password),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"{missing[0]}: required with {protocol.value}")
        return self

    def topics(self) -> list[str]:
        """Every topic webmon uses, as `webmon-migrate` creates them."""
        return [
            self.tasks_topic,
            self.results_topic,
            self.dead_letter_topic,
            self.ondemand_tasks_topic,
            self.ondemand_results_topic,
        ]

    def region_tasks_topic(self, region: str) -> str:
        """The task topic of one region's checkers: the tasks topic itself for the default
        region (a single-region deployment is as before), `<tasks topic>.<region>` for any
        other. A topic per region keeps one region's backlog, or its absent checkers, from
        delaying another's tasks, and lets each region's checkers be one consumer group."""
        if region == DEFAULT_REGION:
            return self.tasks_topic
        return f"{self.tasks_topic}.{region}"

    def region_ondemand_topic(self, region: str) -> str:
        """The on-demand task topic of one region's checkers, named as `region_tasks_topic`
        names the scheduled one: the on-demand topic itself for the default region,
        `<on-demand topic>.<region>` for any other."""
        if region == DEFAULT_REGION:
            return self.ondemand_tasks_topic
        return f"{self.ondemand_tasks_topic}.{region}"

    def kafka_config(self) -> dict[str, Any]:
        """librdkafka settings shared by producers, consumers and the admin client."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "security.protocol": self.kafka_security_protocol.value,
        }
        if self.kafka_ssl_ca_file is not None:
            config["ssl.ca.location"] = str(self.kafka_ssl_ca_file)
        if self.kafka_ssl_cert_file is not None:
            config["ssl.certificate.location"] = str(self.kafka_ssl_cert_file)
        if self.kafka_ssl_key_file is not None:
            config["ssl.key.location"] = str(self.kafka_ssl_key_file)
        if self.kafka_ssl_key_password is not None:
            config["ssl.key.password"] = self.kafka_ssl_key_password.get_secret_value()
        if self.kafka_sasl_mechanism is not None:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism.value
        if self.kafka_sasl_username is not None:
            config["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        config.update(self.kafka_extra)
        return config


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class TargetPolicySettings(BaseSettings):
    """WEBMON_BLOCKED_NETWORKS / WEBMON_ALLOWED_NETWORKS: CIDRs, comma-separated."""

    model_config = CommonSettings.model_config

    # Whom webmon may connect to for URLs an untrusted user gave it (shared.netpolicy).
    blocked_networks: Annotated[tuple[str, ...], NoDecode] = DEFAULT_BLOCKED_NETWORKS
    allowed_networks: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("blocked_networks", "allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        value = _split(value)
        if isinstance(value, tuple | list):
            parse_networks(value)  # ValueError names the bad one
        return value

    def target_policy(self) -> TargetPolicy:
        return TargetPolicy.from_settings(self.blocked_networks, self.allowed_networks)


class SecretKeySettings(BaseSettings):
    """WEBMON_SECRET_KEY: seals and opens the sites' credentials (shared.sealing).

    The CLI and the API seal with it, the checkers open with it; the scheduler needs none.
    """

    model_config = CommonSettings.model_config

    secret_key: SecretStr | None = None

    @field_validator("secret_key")
    @classmethod
    def _a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            SecretBox(value.get_secret_value())  # SecretError (a ValueError) says why
        return value

    def secret_box(self) -> SecretBox | None:
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        return SecretBox(key) if key.strip() else None


# Prometheus metrics and /healthz listen here unless WEBMON_METRICS_HOST says otherwise:
# loopback, because they answer without a key. A container sets 0.0.0.0 so that its
# published port and other containers reach them (docker-compose.yml).
DEFAULT_METRICS_HOST = "127.0.0.1"


S = TypeVar("S", bound=BaseSettings)

_SECRET_FIELDS = frozenset(
    {"database_url", "kafka_ssl_key_password", "kafka_sasl_password", "kafka_extra", "secret_key"}
)


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the variable and what is wrong; never echoes a secret's value."""
    error = exc.errors()[0]
    location = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid"))
    field = location[0] if location else ""
    if not field and message.startswith("Value error, ") and ":" in message:
        # Model-level checks name their field first: "Value error, kafka_ssl_ca_file: ..."
        field, _, message = message.removeprefix("Value error, ").partition(": ")
    message = message.removeprefix("Value error, ")
    variable = f"{ENV_PREFIX}{field.upper()}" if field else "configuration"
    if error.get("type") == "missing":
        return f"{variable} is not set"
    shown = error.get("input")
    if field in _SECRET_FIELDS or not isinstance(shown, str | int | float) or not location:
        return f"{variable}: {message}"
    return f"{variable}: {message} (got {shown!r})"


def load_settings(model: type[S], program: str, **values: Any) -> S:
    """Build the settings, or print one line and exit with status 2. `values` (a command
    line's options) win over the environment, and are validated with it."""
    try:
        return model(**values)
    except ValidationError as exc:
        line = describe_validation_error(exc)
    except SettingsError as exc:
        # pydantic-settings could not decode a JSON value (e.g. WEBMON_KAFKA_EXTRA).
        match = re.search(r'field "([a-z0-9_]+)"', str(exc))
        field = match[1].upper() if match else "configuration"
        line = f"{ENV_PREFIX}{field}: not valid JSON"
    print(f"{program}: {line}", file=sys.stderr)
    raise SystemExit(2)
