"""MkDocs hook: the configuration page's table of settings, made from the settings classes.

Which variables exist, their defaults and the programs that read them come from the code
(every `settings.py` of the programs' packages); only the meanings are written here. A
setting without a meaning, or a meaning of a setting the code does not have, stops the
build, so the page cannot drift from the code. The page holds the marker
`<!-- settings-table -->` where the table goes.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scheduler", "checker", "notifier", "migrations", "webmon")
MARKER = "<!-- settings-table -->"
PREFIX = "WEBMON_"

# The program each settings module configures (the console script's name).
PROGRAMS = {
    "scheduler": "webmon-scheduler",
    "checker": "webmon-checker",
    "notifier": "webmon-notifier",
    "migrations": "webmon-migrate, webmon doctor",
    "webmon.api": "webmon-api",
    "webmon": "webmon",
}
# Defaults too long for a table cell, said in words.
DEFAULTS_IN_WORDS = {
    "WEBMON_DATABASE_URL": "required (except by a checker that only probes)",
    "WEBMON_BLOCKED_NETWORKS": "every range that is not globally reachable (below)",
}

MEANINGS = {
    "WEBMON_DATABASE_URL": "libpq URL of PostgreSQL (`sslmode=verify-full&sslrootcert=…` for a "
    "managed service); a checker that only probes (`WEBMON_CHECKER_ROLES=probe`, a remote "
    "region's) never connects to PostgreSQL and needs none",
    "WEBMON_KAFKA_BOOTSTRAP_SERVERS": "`host:port[,host:port]`",
    "WEBMON_KAFKA_SECURITY_PROTOCOL": "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`",
    "WEBMON_KAFKA_SSL_CA_FILE": "CA certificate (Aiven: `ca.pem`)",
    "WEBMON_KAFKA_SSL_CERT_FILE": "client certificate (Aiven: `service.cert`)",
    "WEBMON_KAFKA_SSL_KEY_FILE": "client key (Aiven: `service.key`)",
    "WEBMON_KAFKA_SSL_KEY_PASSWORD": "if the key is encrypted",
    "WEBMON_KAFKA_SASL_MECHANISM": "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`",
    "WEBMON_KAFKA_SASL_USERNAME": "SASL user name",
    "WEBMON_KAFKA_SASL_PASSWORD": "SASL password",
    "WEBMON_KAFKA_EXTRA": "any other librdkafka option, as JSON: "
    '`{"socket.keepalive.enable": true}`',
    "WEBMON_KAFKA_SESSION_TIMEOUT_MS": "consumer group session timeout: how long a dead checker "
    "holds its partitions (the failover gap, see [Missed slots and failover]"
    "(production.md#missed-slots-and-failover)); 6000 is the least Apache Kafka accepts by "
    "default",
    "WEBMON_TASKS_TOPIC": "the topic of scheduled checks' tasks (the default region's; "
    "another region's is `<this>.<region>`: see [Regions](regions.md))",
    "WEBMON_RESULTS_TOPIC": "the topic of their results",
    "WEBMON_DEAD_LETTER_TOPIC": "where unparsable messages go, with the reason",
    "WEBMON_ONDEMAND_TASKS_TOPIC": "the topic of on-demand checks (the API's tasks)",
    "WEBMON_ONDEMAND_RESULTS_TOPIC": "the topic of on-demand checks' progress and results",
    "WEBMON_KAFKA_PARTITIONS": "partitions of the topics `webmon-migrate` creates, and of a "
    "region's task topic the scheduler creates when a site first names the region",
    "WEBMON_KAFKA_REPLICATION_FACTOR": "replication of the topics `webmon-migrate` creates "
    "(empty: the broker's default)",
    "WEBMON_CLAIM_BATCH_SIZE": "sites claimed per scheduler transaction",
    "WEBMON_TICK_SECONDS": "the longest the scheduler waits between looks for due sites; it "
    "looks sooner when the earliest site is due or a new or changed site wakes it (each look "
    "drains all)",
    "WEBMON_FLUSH_TIMEOUT_S": "how long a batch may wait for Kafka's acks before it is rolled back",
    "WEBMON_RETENTION_DAYS": "days of results kept (raw or packed), dropped a day at a time",
    "WEBMON_ROLLUP_RETENTION_DAYS": "days of hourly and daily rollups and `site_events` kept "
    "(rollups dropped by whole months)",
    "WEBMON_PACK_AFTER_DAYS": "whole days older than this are packed into one row per site and day",
    "WEBMON_MAINTENANCE_INTERVAL_S": "how often the scheduler's maintenance runs (partitions, "
    "rollups, packing, retention)",
    "WEBMON_PARTITIONS_AHEAD_DAYS": "days of `check_results` partitions created ahead",
    "WEBMON_TASK_RETENTION_DAYS": "finished on-demand tasks are deleted after this "
    "(scheduler's maintenance)",
    "WEBMON_TASK_RESULT_GRACE_S": "an emitted task still without a result this long after it "
    "expired (plus its timeout) ends as ERROR",
    "WEBMON_CHECKER_REGION": "the region this checker checks from: its probe consumes the "
    "region's task topic in the region's group (`<probe group>.<region>`) and stamps the "
    "region on each result (see [Regions](regions.md))",
    "WEBMON_CHECKER_ROLES": "roles of a checker process, `probe,writer` (`--role` overrides)",
    "WEBMON_CHECKER_INSTANCE_ID": "a stable name per replica for static group membership "
    "(Apache Kafka only: see [Missed slots and failover]"
    "(production.md#missed-slots-and-failover))",
    "WEBMON_CONCURRENCY": "checks in flight per checker process",
    "WEBMON_MAX_BODY_BYTES": "body bytes read per check (after decompression)",
    "WEBMON_MAX_REDIRECTS": "redirects followed (0 to 30), unless a site sets its own "
    "`max_redirects`",
    "WEBMON_MAX_HEADER_FIELD_BYTES": "bytes per response header line (and the status line)",
    "WEBMON_MAX_HEADER_BYTES": "bytes of a response head in all: status line, header lines and "
    "the blank line; also bounds a header bomb",
    "WEBMON_GRACE_S": "on SIGTERM, how long checks in flight may finish (the whole stop is "
    "bounded by this plus 20 s)",
    "WEBMON_WRITER_BATCH_SIZE": "a writer's batch closes at this many results, or at "
    "`WEBMON_WRITER_BATCH_AGE_S`",
    "WEBMON_WRITER_BATCH_AGE_S": "a writer's batch closes at this age, or at "
    "`WEBMON_WRITER_BATCH_SIZE` results",
    "WEBMON_WRITER_LANES": "batches a writer has PostgreSQL work on at once, each on its own "
    "connection and partitions",
    "WEBMON_REGION_MIN_SITES": "a region is unhealthy when, in one batch, its checks of at least "
    "this many sites are down while another region saw the same slot up (and they are "
    "`WEBMON_REGION_DOWN_RATIO` of its checks another region also made): see [Region health]"
    "(regions.md#region-health)",
    "WEBMON_REGION_DOWN_RATIO": "the share of a region's checks (of sites another region also "
    "checked) that must be down while another region saw them up for the region to be "
    "unhealthy; a later batch with this share fine ends it",
    "WEBMON_REGION_CANARY_FAILURES": "a region's canary makes the region unhealthy once its "
    "checks from the region are down this many times in a row, from the first of them (1: a "
    "single failure is enough): see [Region health](regions.md#region-health)",
    "WEBMON_PROBE_GROUP": "consumer group of the probes (scheduled checks)",
    "WEBMON_WRITER_GROUP": "consumer group of the writers",
    "WEBMON_ONDEMAND_PROBE_GROUP": "consumer group of the probes on the on-demand topic",
    "WEBMON_ONDEMAND_WRITER_GROUP": "consumer group of the writers on the on-demand topic",
    "WEBMON_SECRET_KEY": "32 random bytes, URL-safe base64 (`python -c 'from shared.sealing "
    "import new_key; print(new_key())'`): seals sites' `auth` secrets (the API and `webmon "
    "sites auth` write with it, checkers open with it; the scheduler needs none), channel "
    "secrets (the API, the dashboard and `webmon channels add` seal, the notifier opens) and "
    "the dashboard's session key (the dashboard answers 503 without it). The local stack makes "
    "one in `.state/secret_key`. A checker without it records `config` for a site with auth. "
    "See [Auth](checks.md#auth) and [Deploying securely](hardening.md#the-secret-key)",
    "WEBMON_BLOCKED_NETWORKS": "the target policy for URLs that came through the API or the "
    "dashboard (see [the target policy](api.md#target-policy)); CIDRs, comma-separated",
    "WEBMON_ALLOWED_NETWORKS": "exceptions to `WEBMON_BLOCKED_NETWORKS`, e.g. `10.20.0.0/16` "
    "for an internal service you do want checked; CIDRs, comma-separated",
    "WEBMON_API_HOST": "where `webmon-api` listens",
    "WEBMON_API_PORT": "the port `webmon-api` listens on",
    "WEBMON_API_DB_POOL_SIZE": "PostgreSQL connections of the API",
    "WEBMON_API_READ_POOL_SIZE": "PostgreSQL connections of the API's two hot reads, the "
    "sites page and a site's uptime (a pool of their own, planned once)",
    "WEBMON_DASHBOARD": "the API process also serves the [web dashboard](dashboard.md)",
    "WEBMON_TASKS_PER_MINUTE": "per API key: tasks a minute",
    "WEBMON_TASKS_IN_FLIGHT": "per API key: tasks not final",
    "WEBMON_TASK_START_WITHIN_S": "a task no checker started within this long ends as ERROR, "
    "expired",
    "WEBMON_TRUSTED_PROXIES": "reverse proxies (CIDRs, comma-separated) whose "
    "`X-Forwarded-For` and `X-Forwarded-Proto` are believed; without one, those headers are "
    "ignored whoever sends them ([Deploying securely](hardening.md#behind-a-tls-proxy))",
    "WEBMON_API_MAX_BODY_BYTES": "the largest request body the API and the dashboard read; "
    "past it the answer is 413, the body unread (the API key is checked before any body)",
    "WEBMON_API_MAX_BULK_BODY_BYTES": "the same for a bulk import (`POST /api/v1/sites/bulk`, "
    "the dashboard's import)",
    "WEBMON_SECURE_COOKIES": "mark the dashboard's cookies `Secure` whatever the request's "
    "scheme (behind a TLS proxy not in `WEBMON_TRUSTED_PROXIES`; over TLS, directly or through "
    "a trusted proxy, they are `Secure` anyway)",
    "WEBMON_NOTIFIER_LEASE_S": "how long a notifier holds the notifications it claimed; a "
    "notifier killed mid-send leaves them due again after it",
    "WEBMON_NOTIFIER_BACKOFF_BASE_S": "first wait before a failed send is tried again "
    "(exponential, with jitter)",
    "WEBMON_NOTIFIER_BACKOFF_CAP_S": "the longest wait between tries (also caps a `Retry-After`)",
    "WEBMON_NOTIFIER_MAX_ATTEMPTS": "tries before a notification is `failed`",
    "WEBMON_NOTIFIER_CONCURRENCY": "sends in flight per notifier",
    "WEBMON_NOTIFIER_CHANNEL_CONCURRENCY": "sends in flight per notifier to one channel",
    "WEBMON_NOTIFIER_GRACE_S": "on SIGTERM, how long sends in flight may finish",
    "WEBMON_NOTIFIER_POLL_S": "how often an idle notifier looks for due notifications",
    "WEBMON_NOTIFIER_REQUEST_TIMEOUT_S": "the deadline of one send",
    "WEBMON_NOTIFIER_SWEEP_S": "how often a notifier releases expired leases and counts the outbox",
    "WEBMON_LOG_LEVEL": "`DEBUG`, `INFO`, `WARNING`, `ERROR`",
    "WEBMON_LOG_FORMAT": "`text`, or `json` for one JSON object per line",
    "WEBMON_METRICS_PORT": "`/metrics` and `/healthz` ([Metrics and health]"
    "(production.md#metrics-and-health)); `0` turns them off",
    "WEBMON_METRICS_HOST": "the address `/metrics` and `/healthz` listen on: they answer "
    "without a key, so loopback unless you mean it (a container sets `0.0.0.0`, as "
    "`docker-compose.yml` does)",
}


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings model defined in a program's `settings.py`, in package order."""
    found: list[type[BaseSettings]] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("settings.py")):
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__:
                    found.append(cls)
    return found


def program_of(cls: type[BaseSettings]) -> str:
    module = cls.__module__.removesuffix(".settings")
    while module and module not in PROGRAMS:
        module = module.rpartition(".")[0]
    return PROGRAMS.get(module, cls.__module__)


def shown_default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if value is None or value == () or value == {}:
        return "—"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, set | frozenset | tuple | list):
        items = sorted(v.value if isinstance(v, Enum) else str(v) for v in value)
        return f"`{','.join(items)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def rows(classes: Iterable[type[BaseSettings]]) -> dict[str, dict[str, str]]:
    """Variable → {program: its default there}."""
    table: dict[str, dict[str, str]] = {}
    for cls in classes:
        for name, field in cls.model_fields.items():
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            variable = PREFIX + name.upper()
            shown = DEFAULTS_IN_WORDS.get(variable) or shown_default(default)
            table.setdefault(variable, {})[program_of(cls)] = shown
    return table


def settings_table() -> str:
    table = rows(settings_classes())
    missing = sorted(set(table) - set(MEANINGS))
    unknown = sorted(set(MEANINGS) - set(table))
    if missing or unknown:
        raise PluginError(
            f"docs/hooks/settings_table.py: no meaning for {missing}; no such setting: {unknown}"
        )
    lines = ["| variable | default | read by | meaning |", "|---|---|---|---|"]
    for variable in sorted(table):
        by_program = table[variable]
        defaults = set(by_program.values())
        if len(defaults) == 1:
            default = defaults.pop()
        else:
            default = "; ".join(f"{d} ({p})" for p, d in by_program.items())
        programs = ", ".join(sorted(by_program))
        lines.append(f"| `{variable}` | {default} | {programs} | {MEANINGS[variable]} |")
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, settings_table())
