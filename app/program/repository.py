"""Program versions in Postgres: append-only, the highest version is the active one."""

from __future__ import annotations

from typing import Any

import asyncpg

_LOCK = "LOCK TABLE programs IN SHARE ROW EXCLUSIVE MODE"  # conflicts with itself: one writer at a time


async def latest(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT version, document FROM programs ORDER BY version DESC LIMIT 1")


async def latest_version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM programs"))


async def insert_next(conn: asyncpg.Connection, document: dict[str, Any]) -> int:
    """Store a new version; the table lock serializes concurrent PUTs so versions never collide."""
    await conn.execute(_LOCK)
    version = int(await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM programs"))
    await conn.execute("INSERT INTO programs (version, document) VALUES ($1, $2)", version, document)
    await conn.execute("SELECT pg_notify('bonus_program', $1)", str(version))
    return version


async def latest_locked(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The newest version, read after taking insert_next's lock: a read-modify-write in one transaction
    (lock, read, change, insert_next) cannot lose a concurrent writer's change."""
    await conn.execute(_LOCK)
    return await latest(conn)


async def by_version(conn: asyncpg.Connection, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT version, document FROM programs WHERE version = $1", version)
