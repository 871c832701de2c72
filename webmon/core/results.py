"""Results imported from elsewhere: another monitor's history, or webmon's own from a backup.

    webmon import-results FILE.csv

A CSV file with a header row naming `check_results` columns: `site_id` or `url` (the site,
which must be registered), `scheduled_at` and `up` are needed; `checked_at` (by default
the slot), `response_time_ms`, `status_code`, `regex_matched`, `error`, `error_detail`,
the phase columns, `redirects`, `tls_version` and `tls_expires_at` may be given. Times
are ISO 8601 with an offset. An empty cell is null.

The whole file is one transaction: every row is checked before any is stored, and a
refusal names its line. A check's identity holds: a (site, slot) already stored, raw or
packed, keeps its stored row, so importing a file twice adds nothing the second time.
Imported days are history like any other: the next maintenance pass gives a past day
without a partition its own, recounts its rollups and packs it once it is old enough
(`scheduler.maintenance`). Imported results make no state changes or incidents (they
happened before), and do not change `site_status`.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, Field, ValidationError, model_validator

from shared import locks
from shared.db import AsyncConnection, AsyncDatabase, translated_errors
from shared.messages import MAX_ERROR, MAX_ERROR_DETAIL, MAX_MS, MAX_TLS_VERSION, MAX_URL
from shared.queries import load_queries
from webmon.core.actors import Actor
from webmon.core.errors import UNKNOWN_FIELD, Forbidden, Invalid, invalid_from_validation
from webmon.core.site_rules import Input

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "results.sql")
# The staged columns, in `copy_import`'s order.
COLUMNS: Final = (
    "site_id", "scheduled_at", "checked_at", "response_time_ms", "status_code", "up",
    "regex_matched", "error", "error_detail", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms",
    "redirects", "tls_version", "tls_expires_at",
)  # fmt: skip
FIELDS: Final = frozenset((*COLUMNS, "url"))

Millis = Annotated[float, Field(ge=0, le=MAX_MS, allow_inf_nan=False)]


class ResultIn(Input):
    """One imported check, as its CSV row gives it (an empty cell is absent)."""

    site_id: int | None = Field(default=None, ge=1)
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL)
    scheduled_at: AwareDatetime
    checked_at: AwareDatetime | None = None
    up: bool
    response_time_ms: Millis | None = None
    status_code: int | None = Field(default=None, ge=100, le=599)
    regex_matched: bool | None = None
    error: str | None = Field(default=None, min_length=1, max_length=MAX_ERROR)
    error_detail: str | None = Field(default=None, max_length=MAX_ERROR_DETAIL)
    dns_ms: Millis | None = None
    connect_ms: Millis | None = None
    tls_ms: Millis | None = None
    ttfb_ms: Millis | None = None
    redirects: int | None = Field(default=None, ge=0, le=32767)
    tls_version: str | None = Field(default=None, max_length=MAX_TLS_VERSION)
    tls_expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_site(self) -> ResultIn:
        if (self.site_id is None) == (self.url is None):
            raise ValueError("name the site by site_id or by url, one of them")
        return self


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: rows read, checks stored (the others were stored already), and
    the first and last slot stored (None when none was)."""

    read: int
    stored: int
    first: datetime | None
    last: datetime | None


class Results:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def import_csv(self, actor: Actor, lines: Iterable[str]) -> Imported:
        """Store the checks of a CSV text (`lines`, as a file iterates them), all or none;
        `Invalid` names the refused line."""
        if not actor.trusted:
            raise Forbidden("only the operator imports results")
        reader = csv.reader(lines)
        columns = _header(next(reader, None))
        async with self._db.connection() as conn, conn.transaction():
            await conn.execute(QUERIES["import_lock"], {"lock_key": locks.ROLLUP})
            sites = await _sites(conn)
            await conn.execute(QUERIES["create_import_staging"])
            read = 0
            with translated_errors():
                async with conn.cursor().copy(QUERIES["copy_import"]) as copy:
                    for record in reader:
                        if not any(cell.strip() for cell in record):
                            continue  # a blank line
                        try:
                            row = _row(columns, record, sites)
                        except Invalid as exc:
                            raise exc.at(line=reader.line_num) from None
                        await copy.write_row(row)
                        read += 1
            cur = await conn.execute(QUERIES["take_imported"])
            found = await cur.fetchone()
        stored, first, last = found if found is not None else (0, None, None)
        logger.info("results.imported by=%s read=%d stored=%d", actor, read, stored)
        return Imported(read, int(stored), first, last)


def _header(header: list[str] | None) -> list[str]:
    if header is None:
        raise Invalid(None, "nothing to import: a header row of check_results columns first")
    columns = [name.strip() for name in header]
    for name in columns:
        if name not in FIELDS:
            raise Invalid(name, UNKNOWN_FIELD, line=1)
    if len(set(columns)) != len(columns):
        raise Invalid(None, "a column is named twice in the header row", line=1)
    for needed in ("scheduled_at", "up"):
        if needed not in columns:
            raise Invalid(needed, "a column the header row must name", line=1)
    if ("site_id" in columns) == ("url" in columns):
        raise Invalid("site_id", "the header row names site_id or url, one of them", line=1)
    return columns


@dataclass(frozen=True, slots=True)
class _Sites:
    """The registered sites, to name each imported row's site by id or by URL."""

    ids: frozenset[int]
    by_url: Mapping[str, list[int]]


async def _sites(conn: AsyncConnection) -> _Sites:
    by_url: dict[str, list[int]] = {}
    with translated_errors():
        cur = await conn.execute(QUERIES["site_urls"])
        for site_id, url in await cur.fetchall():
            by_url.setdefault(url, []).append(site_id)
    return _Sites(frozenset(i for ids in by_url.values() for i in ids), by_url)


def _row(columns: list[str], record: list[str], sites: _Sites) -> list[Any]:
    """The staged row of one CSV record."""
    if len(record) > len(columns):
        raise Invalid(None, f"{len(record)} values for {len(columns)} columns")
    values = {name: cell for name, cell in zip(columns, record, strict=False) if cell.strip()}
    try:
        result = ResultIn.model_validate(values)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    if result.url is not None:
        found = sites.by_url.get(result.url, [])
        if len(found) != 1:
            words = "no site has this URL" if not found else "several sites have this URL"
            raise Invalid("url", words)
        site_id = found[0]
    else:
        site_id = int(result.site_id or 0)
        if site_id not in sites.ids:
            raise Invalid("site_id", "no such site")
    fields = result.model_dump()
    fields["site_id"] = site_id
    if fields["checked_at"] is None:
        fields["checked_at"] = result.scheduled_at
    return [fields[name] for name in COLUMNS]
