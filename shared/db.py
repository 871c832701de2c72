"""The one PostgreSQL access layer: a pool opened explicitly, and error translation.

psycopg errors become `DatabaseUnavailable` (connection-level: retry) or `DatabaseError`
here and nowhere else.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import sql
from psycopg.rows import DictRow, TupleRow, dict_row

from shared.errors import DatabaseError, DatabaseUnavailable

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_S = 5
DEFAULT_POOL_TIMEOUT_S = 10.0

Connection = psycopg.Connection[TupleRow]

# SQLSTATE classes that mean "the server or the connection went away", not "bad SQL":
# 08 connection exception, 57P admin shutdown / crash, 53 insufficient resources.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P", "53")


def _is_unavailable(exc: psycopg.Error) -> bool:
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return True
    state = exc.sqlstate or ""
    return state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn driver errors raised inside the block into webmon's own."""
    try:
        yield
    except psycopg_pool.PoolTimeout as exc:
        raise DatabaseUnavailable(f"no database connection: {exc}") from exc
    except psycopg.Error as exc:
        summary = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if _is_unavailable(exc):
            raise DatabaseUnavailable(summary, sqlstate=exc.sqlstate) from exc
        context = exc.diag.context.strip().splitlines()[-1] if exc.diag.context else None
        raise DatabaseError(
            summary, context, sqlstate=exc.sqlstate, constraint=exc.diag.constraint_name
        ) from exc


class Database:
    """A small connection pool; `open()` connects, the constructor does no I/O."""

    def __init__(
        self,
        url: str,
        *,
        max_size: int = 4,
        application_name: str = "webmon",
        pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
    ) -> None:
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=pool_timeout_s,
            kwargs={
                "connect_timeout": DEFAULT_CONNECT_TIMEOUT_S,
                "application_name": application_name,
            },
            check=psycopg_pool.ConnectionPool.check_connection,
            reconnect_timeout=0,  # keep trying forever; the caller decides when to give up
            name=application_name,
        )

    def open(self) -> None:
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close(timeout=5)

    def __enter__(self) -> Database:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside a transaction: committed on success, rolled back on error."""
        with translated_errors(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def session(self) -> Iterator[Connection]:
        """One connection held across several transactions: autocommit, so each statement
        or `conn.transaction()` block commits on its own (session locks last until the end).
        """
        with translated_errors(), self._pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                if not conn.closed and not conn.broken:
                    conn.autocommit = False

    def begin(self) -> Transaction:
        """A transaction that outlives a `with` block; end it with commit() or rollback()."""
        with translated_errors():
            return Transaction(self._pool, self._pool.getconn())

    def fetch(self, query: str, params: dict[str, Any] | None = None) -> list[TupleRow]:
        with self.transaction() as conn:
            return conn.execute(query, params).fetchall()

    def execute(self, query: str, params: dict[str, Any] | None = None) -> int:
        with self.transaction() as conn:
            return conn.execute(query, params).rowcount


class Transaction:
    """An open transaction on a pooled connection; the connection returns to the pool when
    the transaction ends."""

    def __init__(self, pool: psycopg_pool.ConnectionPool[Connection], conn: Connection) -> None:
        self._pool = pool
        self._conn: Connection | None = conn

    def fetchall(self, query: str, params: dict[str, Any] | None = None) -> list[TupleRow]:
        assert self._conn is not None, "transaction already ended"
        with translated_errors():
            return self._conn.execute(query, params).fetchall()

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        """Never raises: a connection that cannot roll back is discarded by the pool."""
        try:
            self._end(commit=False)
        except DatabaseError as exc:
            logger.debug("db.rollback_failed error=%s", exc)

    def _end(self, *, commit: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            with translated_errors():
                if commit:
                    conn.commit()
                else:
                    conn.rollback()
        finally:
            self._pool.putconn(conn)


def cancel(conn: Connection, timeout_s: float = 2.0) -> bool:
    """Ask the server to cancel the statement running on `conn` (safe from another thread).
    False when the request could not be sent; the caller's statement then runs on."""
    try:
        conn.cancel_safe(timeout=timeout_s)
    except psycopg.Error as exc:
        logger.debug("db.cancel_failed error=%s", exc)
        return False
    return True


def notifications(conn: Connection, timeout_s: float) -> int:
    """Wait up to `timeout_s` for LISTEN notifications on `conn` (autocommit); return how
    many arrived (all that are pending are taken)."""
    with translated_errors():
        received = sum(1 for _ in conn.notifies(timeout=timeout_s, stop_after=1))
        if received:
            received += sum(1 for _ in conn.notifies(timeout=0))
    return received


def connect(url: str, *, autocommit: bool = False, application_name: str = "webmon") -> Connection:
    """A single connection outside any pool (migrations, tools, tests)."""
    with translated_errors():
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=DEFAULT_CONNECT_TIMEOUT_S,
            application_name=application_name,
        )


def describe_url(url: str) -> str:
    """`host:port/dbname` of a libpq URL or conninfo string: never its password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable database URL)"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


AsyncConnection = psycopg.AsyncConnection[TupleRow]
RECHECK_IDLE_S = 1.0


async def _generic_plans(conn: AsyncConnection) -> None:
    await conn.execute("SET plan_cache_mode = force_generic_plan")


class AsyncDatabase:
    """`Database` for asyncio code (the HTTP API): an async pool opened explicitly, with the
    same error translation. The constructor does no I/O."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        application_name: str = "webmon",
        pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
        generic_plans: bool = False,
    ) -> None:
        """`generic_plans`: the sessions plan each prepared statement once
        (plan_cache_mode = force_generic_plan), for a pool that only runs queries whose
        one plan fits every parameter; PostgreSQL re-plans those with optional filters on
        every call otherwise."""
        self._pool = psycopg_pool.AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=pool_timeout_s,
            kwargs={
                "connect_timeout": DEFAULT_CONNECT_TIMEOUT_S,
                "application_name": application_name,
                "autocommit": True,
            },
            configure=_generic_plans if generic_plans else None,
            check=self._check,
            reset=self._returned,
            reconnect_timeout=0,
            name=application_name,
        )
        self._last_used: weakref.WeakKeyDictionary[AsyncConnection, float] = (
            weakref.WeakKeyDictionary()
        )

    async def _returned(self, conn: AsyncConnection) -> None:
        self._last_used[conn] = time.monotonic()

    async def _check(self, conn: AsyncConnection) -> None:
        """The pool's check before lending a connection out: a round trip, so only for a
        connection idle longer than RECHECK_IDLE_S (a third of a busy request's round
        trips otherwise). One that broke within that second fails its request, and the
        pool replaces it."""
        if time.monotonic() - self._last_used.get(conn, 0.0) < RECHECK_IDLE_S:
            return
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close(timeout=5)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """An autocommit connection: each statement, or `conn.transaction()` block, commits
        on its own."""
        with translated_errors():
            async with self._pool.connection() as conn:
                yield conn

    async def fetch(self, query: str, params: dict[str, Any] | None = None) -> list[TupleRow]:
        async with self.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

    async def fetchone(self, query: str, params: dict[str, Any] | None = None) -> TupleRow | None:
        async with self.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def execute(self, query: str, params: dict[str, Any] | None = None) -> int:
        """A statement that returns no rows; how many rows it touched."""
        async with self.connection() as conn:
            cur = await conn.execute(query, params)
            return cur.rowcount

    async def rows(self, query: str, params: dict[str, Any] | None = None) -> list[DictRow]:
        """The rows as dicts by column name: for the core's typed rows (`Row.from_row`),
        never read by position."""
        async with self.connection() as conn:
            return await dict_rows(conn, query, params)

    async def row(self, query: str, params: dict[str, Any] | None = None) -> DictRow | None:
        found = await self.rows(query, params)
        return found[0] if found else None


async def dict_rows(
    conn: AsyncConnection, query: str, params: dict[str, Any] | None = None
) -> list[DictRow]:
    """`query`'s rows on `conn` as dicts by column name."""
    with translated_errors():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()


async def listen(url: str, channel: str) -> AsyncIterator[None]:
    """Yield once when LISTEN on `channel` is in place, then once per notification, until
    the connection is lost (`DatabaseError`) or the caller stops iterating. `channel` is
    one of webmon's own names, never user input."""
    with translated_errors():
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=DEFAULT_CONNECT_TIMEOUT_S
        )
        async with conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            yield
            async for _ in conn.notifies():
                yield
