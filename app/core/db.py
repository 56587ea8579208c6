"""The PostgreSQL pool: bounded, with a fast 503 when exhausted or unreachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

from .errors import unavailable
from .settings import Settings


def asyncpg_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (`postgresql+asyncpg://`) as well as plain ones."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + asyncpg_dsn(url)[len("postgresql://"):]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


def is_connection_error(error: BaseException) -> bool:
    return isinstance(
        error,
        (
            OSError,
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.CannotConnectNowError,
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.AdminShutdownError,
            asyncpg.exceptions.TooManyConnectionsError,
        ),
    )


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
            command_timeout=s.db_statement_timeout_ms / 1000,
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
        finally:
            await self.pool.release(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(query, *args)
