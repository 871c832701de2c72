"""Arranging channels, incidents and outbox rows for the notifier's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from tests.support.db import Conn, add_sites

# The notifier's variables in tests: quick polls, short leases and backoff. Only
# 127.0.0.1 is allowed; the rest of loopback stays blocked, so 127.0.0.2 stands in for an
# internal address.
NOTIFIER_FAST = {
    "WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32",
    "WEBMON_NOTIFIER_POLL_S": "0.1",
    "WEBMON_NOTIFIER_SWEEP_S": "0.3",
    "WEBMON_NOTIFIER_LEASE_S": "5",
    "WEBMON_NOTIFIER_BACKOFF_BASE_S": "0.5",
    "WEBMON_NOTIFIER_BACKOFF_CAP_S": "3",
    "WEBMON_NOTIFIER_MAX_ATTEMPTS": "100",
    "WEBMON_NOTIFIER_REQUEST_TIMEOUT_S": "5",
}


def add_channel(
    db: Conn,
    name: str,
    kind: str = "webhook",
    *,
    config: dict[str, Any] | None = None,
    secret: str | None = None,
    default: bool = False,
) -> int:
    row = db.execute(
        "INSERT INTO channels (name, kind, config, secret, is_default)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (name, kind, orjson.dumps(config or {}).decode(), secret, default),
    ).fetchone()
    assert row is not None
    return int(row[0])


def route(db: Conn, site_id: int, channel_id: int) -> None:
    db.execute(
        "INSERT INTO site_channels (site_id, channel_id) VALUES (%s, %s)", (site_id, channel_id)
    )


def open_incidents(db: Conn, count: int, channel_ids: list[int]) -> list[int]:
    """`count` sites with an open incident each and its DOWN queued for every channel
    (as the writer would queue them); the notifications' ids."""
    sites = add_sites(db, count)
    now = datetime.now(UTC)
    rows = db.execute(
        "WITH i AS ("
        "  INSERT INTO incidents (site_id, opened_at, opening_slot, opening_checked_at, cause,"
        "                         status_code)"
        "  SELECT s, %(now)s, %(now)s, %(now)s, 'HTTP 503', 503"
        "    FROM unnest(%(sites)s::bigint[]) s"
        "  RETURNING id, site_id)"
        " INSERT INTO notifications (idempotency_key, channel_id, site_id, incident_id, kind,"
        "                            event_at)"
        " SELECT 'incident-' || i.id || '-down', c, i.site_id, i.id, 'down', %(now)s"
        "   FROM i CROSS JOIN unnest(%(channels)s::bigint[]) c"
        " RETURNING id",
        {"now": now, "sites": sites, "channels": channel_ids},
    ).fetchall()
    return [r[0] for r in rows]


def states(db: Conn) -> dict[str, int]:
    return dict(db.execute("SELECT state, count(*) FROM notifications GROUP BY state").fetchall())
