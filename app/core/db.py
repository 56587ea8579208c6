"""The PostgreSQL pool: bounded, with a fast 503 when exhausted or unreachable."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import orjson

from .distribution import is_citus
from .errors import unavailable
from .settings import Settings

log = logging.getLogger("bonus_engine.db")

_T = TypeVar("_T")


def asyncpg_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (`postgresql+asyncpg://`) as well as plain ones."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + asyncpg_dsn(url)[len("postgresql://"):]


class Connection(asyncpg.Connection):  # type: ignore[misc]
    """A connection that knows whether its database is a Citus coordinator (`on_citus`): a few statements
    take another form there (a row lock on one shard at a time, a look-up before a lock; see
    deploy/SCALING.md section 4), and everything else is the same SQL."""

    on_citus = False
    # many rows written as VALUES lists, not arrays (app/core/rowsets.py): on Citus; a test sets it on one server
    # to hold the two forms to the same results
    rows_as_values = False


def on_citus(conn: asyncpg.Connection) -> bool:
    """Whether `conn` talks to a Citus coordinator (False for a connection not made by `connect` or the pool)."""
    return bool(getattr(conn, "on_citus", False))


def rows_as_values(conn: asyncpg.Connection) -> bool:
    """Whether `conn` writes many rows as VALUES lists (see `Connection`)."""
    return bool(getattr(conn, "rows_as_values", False))


# the row types statements answer inside arrays (migration 0009)
_ROW_TYPES = "SELECT NULL::lot_row[], NULL::account_lot_row[], NULL::purchase_facts_row, NULL::lot_move_row[]"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )
    conn.on_citus = conn.rows_as_values = await is_citus(conn)
    if conn.on_citus:
        # Citus hides shards from catalog queries by calling a function for every pg_class row: asyncpg's look-up
        # of a type took 5-9 s on a coordinator. This service never lists tables.
        await conn.execute("SET citus.override_table_visibility = off")
    if await conn.fetchval("SELECT to_regtype('purchase_facts_row') IS NOT NULL"):
        await conn.prepare(_ROW_TYPES)  # asyncpg reads what they are now, not in the first request that needs them


def _literal(value: int | str) -> str:
    """A key as an SQL literal (standard_conforming_strings, on since PostgreSQL 9.1: only quotes double)."""
    return str(int(value)) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


async def lock_in_order(conn: asyncpg.Connection, table: str, columns: str, key: str,
                        keys: Sequence[int | str]) -> list[asyncpg.Record]:
    """On Citus: lock the rows of `table` whose distribution column `key` is in `keys`, one row lock per key
    in the order given (the caller's one global order), and return their `columns`. Citus takes a row lock
    only in a statement it can route to one shard, so each key has its own statement; they travel in one
    simple query (one round trip), and the rows are read once locked."""
    if not keys:
        return []
    await conn.execute("; ".join(f"SELECT FROM {table} WHERE {key} = {_literal(value)} FOR UPDATE" for value in keys))
    return await conn.fetch(f"SELECT {columns} FROM {table} WHERE {key} = ANY($1)", list(keys))


async def connect(url: str) -> Connection:
    """One connection outside the pool (the CLI's), set up as the pool's are."""
    conn = await asyncpg.connect(asyncpg_dsn(url), connection_class=Connection)
    await _init_connection(conn)
    return conn


async def with_connection(url: str, work: Callable[[asyncpg.Connection], Awaitable[_T]]) -> _T:
    """`work` on one connection of its own (`connect`), closed after it: the commands' way to the database."""
    conn = await connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own (it rolls back a transaction left open).

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
    release, a round trip per request for state this service never leaves on a session: its settings are
    `SET LOCAL`, its advisory locks transaction-scoped, its cursors live inside transactions, and it does
    not LISTEN."""


# A group-commit batch's statements take arrays (`unnest`) whose lengths change with every batch, so
# PostgreSQL's default plans them again on each execution (a custom plan per call): about a third of the
# database's CPU per batch went to planning. Their generic plans are index look-ups per element whatever the
# length. A generic plan lives until ANALYZE changes a table's statistics, so one made while a table was
# nearly empty would go on scanning it as it grows wherever ANALYZE does not run (this machine's PostgreSQL
# has autovacuum off: after 50 s of confirms, p50 at a fixed rate went from 7 to 21 ms): every statement of
# a batch is an index look-up by design, so sequential scans are off for them. Sent as one simple query with
# BEGIN: no round trip of its own; LOCAL: only this transaction.
_BEGIN_GENERIC_PLANS = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off"


# On Citus a generic plan cannot prune shards by its parameters (each statement would go to every shard, and
# the row locks of the batch are refused there): the coordinator plans each execution with its values, and
# plans the shard's query once per shard itself. Citus also lets only one multi-shard modification at a time
# touch a shard, lest two of them lock rows in different orders on different shards; a batch's writes touch
# only rows it has locked first, in the one global order, so batches may write in parallel.
_BEGIN_CITUS = ("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL citus.enable_deadlock_prevention = off;"
                " SET LOCAL citus.max_adaptive_executor_pool_size = 1")


@asynccontextmanager
async def generic_plans_transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction on `conn` whose prepared statements reuse one plan each (a group-commit batch)."""
    await conn.execute(_BEGIN_CITUS if on_citus(conn) else _BEGIN_GENERIC_PLANS)
    try:
        yield
    except BaseException as error:
        if not _unusable(error):  # over a failed link the server rolls back by itself
            await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


# The link to PostgreSQL is gone or not answering: refused, reset, closed by a restart, or a statement
# that got no answer within the command timeout (asyncio's TimeoutError is an OSError). And asyncpg's protocol
# left half-way by one ("cannot switch to state …; another operation is in progress"): a connection whose
# set-up or last operation a server going down cut, handed out again by the pool (seen with a Citus
# coordinator restarted under load, on BEGIN), is as unusable as a closed one.
_LINK_ERRORS = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


# A Citus coordinator that cannot reach a worker node answers SQLSTATE class 08 over a link that still works
# (`connection to the remote node ... failed`), or XX000 or 58030 with these words when the node went away in
# the middle of the transaction (seen with a node stopped under load): the transaction is rolled back, and a
# retry may succeed. A node lost during COMMIT itself fails it with "could not commit transaction for shard N
# on at least one active node" (Citus's ErrorIfPostCommitFailedShardPlacements; otherwise only a deferred
# constraint raises it, and there is none here; seen with a refund's COMMIT as the node stopped): its outcome
# on that node is whatever recovery decides, and a retry is a replay or applies the write once.
_NODE_UNREACHABLE = asyncpg.exceptions.PostgresConnectionError
_NODE_LOST = ("server closed the connection unexpectedly", "connection to the remote node",
              "failure on connection marked as essential", "failed to COPY to shard",
              "could not commit transaction for shard")


def _node_lost(error: BaseException | None) -> bool:
    return (isinstance(error, (asyncpg.exceptions.InternalServerError, asyncpg.exceptions.PostgresIOError))
            and str(error).startswith(_NODE_LOST))


def is_connection_error(error: BaseException) -> bool:
    """PostgreSQL is unreachable, restarting or too slow: the request may succeed if retried (503).

    A statement cancelled by the server (its statement_timeout, or an operator's pg_cancel_backend)
    counts too: it is the database being slow, not a bug, and its transaction has been rolled back. So does
    a Citus worker node the coordinator cannot reach."""
    return isinstance(error, (*_LINK_ERRORS, asyncpg.exceptions.QueryCanceledError, _NODE_UNREACHABLE)) \
        or _node_lost(error)


def _unusable(error: BaseException) -> bool:
    """The connection itself failed: nothing more may be sent over it (no ROLLBACK, no reset)."""
    return isinstance(error, _LINK_ERRORS)


def node_unreachable(error: BaseException) -> bool:
    """A Citus worker node is down while the coordinator answers (`error` or what caused it): the statements
    that need other nodes may still succeed."""
    cause = error if isinstance(error, asyncpg.exceptions.PostgresError) else error.__cause__
    return (isinstance(cause, _NODE_UNREACHABLE) and not _unusable(cause)) or _node_lost(cause)


def _detail(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, asyncpg.exceptions.QueryCanceledError)):
        return "PostgreSQL did not answer in time"
    if node_unreachable(error):
        return "a database node is unreachable"
    return "the connection to PostgreSQL was lost"


class Database:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        s = self._settings
        self._pool = await asyncpg.create_pool(
            asyncpg_dsn(s.database_url),
            min_size=s.db_pool_min,
            max_size=s.db_pool_max,
            init=_init_connection,
            connection_class=Connection,
            reset=keep_session,
            command_timeout=s.db_statement_timeout_ms / 1000,
            statement_cache_size=s.db_statement_cache_size,
            server_settings={"statement_timeout": str(s.db_statement_timeout_ms), "application_name": "bonus-engine"},
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "Database.connect() first"
        return self._pool

    def in_use(self) -> int:
        if self._pool is None:
            return 0
        return self._pool.get_size() - self._pool.get_idle_size()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        timeout = self._settings.db_acquire_timeout_ms / 1000
        try:
            conn = await self.pool.acquire(timeout=timeout)
        except TimeoutError:
            raise unavailable("database_unavailable", "all database connections are busy") from None
        except Exception as error:
            if is_connection_error(error):
                raise unavailable("database_unavailable", "PostgreSQL is unreachable") from None
            raise
        try:
            yield conn
        except Exception as error:
            if not is_connection_error(error):
                raise
            if _unusable(error):
                # A broken or frozen link: close it at once instead of waiting (up to the command timeout
                # again) for a ROLLBACK or reset over it; the server rolls back what it had, and the pool
                # opens a fresh connection for the next request.
                with contextlib.suppress(asyncpg.exceptions.InterfaceError):  # already closed and given back
                    conn.terminate()
            raise unavailable("database_unavailable", _detail(error)) from error
        finally:
            try:
                await self.pool.release(conn)
            except Exception as error:
                # The reset after use failed on a lost link: the pool has closed that connection already,
                # and what the request did is done (committed or rolled back), so its answer stands.
                if not is_connection_error(error):
                    raise
                log.warning("database connection lost on release: %s", error)

    @asynccontextmanager
    async def transaction(self, *, generic_plans: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on a pooled connection; with `generic_plans`, its statements reuse one plan each
        (see _BEGIN_GENERIC_PLANS)."""
        async with self.connection() as conn:
            if generic_plans:
                async with generic_plans_transaction(conn):
                    yield conn
                return
            transaction = conn.transaction()
            await transaction.start()
            try:
                yield conn
            except BaseException as error:
                if not _unusable(error):  # over a failed link, connection() closes it instead
                    await transaction.rollback()
                raise
            await transaction.commit()

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(query, *args)
