"""One statement on a connection of its own: what the benchmarks do around their runs."""

from __future__ import annotations

import asyncpg

from app.core.db import asyncpg_dsn


async def execute(url: str, statement: str) -> None:
    """Run `statement` on a new connection to `url`, then close it (no timeout: an ANALYZE may be long)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(statement, timeout=None)
    finally:
        await conn.close()


async def drop_database(admin_url: str, database: str) -> None:
    """Drop a benchmark's database, its connections closed first."""
    await execute(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
