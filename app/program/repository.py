"""Program versions in Postgres: append-only, the highest version is the active one; and the custom segments a
new version names, checked and held while it is saved."""

from __future__ import annotations

from typing import Any

import asyncpg

_LOCK = "LOCK TABLE programs IN SHARE ROW EXCLUSIVE MODE"  # conflicts with itself: one writer at a time


async def latest(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT version, document FROM programs ORDER BY version DESC LIMIT 1")


async def latest_version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM programs"))


async def insert_next(conn: asyncpg.Connection, document: dict[str, Any], author: str | None = None,
                      note: str | None = None) -> int:
    """Store a new version; the table lock serializes concurrent PUTs so versions never collide."""
    await conn.execute(_LOCK)
    version = int(await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM programs"))
    await conn.execute("INSERT INTO programs (version, document, author, note) VALUES ($1, $2, $3, $4)",
                       version, document, author, note)
    await conn.execute("SELECT pg_notify('bonus_program', $1)", str(version))
    return version


async def latest_locked(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The newest version, read after taking insert_next's lock: a read-modify-write in one transaction
    (lock, read, change, insert_next) cannot lose a concurrent writer's change."""
    await conn.execute(_LOCK)
    return await latest(conn)


async def existing_segments(conn: asyncpg.Connection, segment_ids: list[str]) -> set[str]:
    """The custom segments among `segment_ids` that exist (the `segments` table, app/segments/), held against
    deletion (FOR KEY SHARE) until the caller commits: a program that names them is saved before any of them can
    be deleted, or after and then refused (the delete reads the newest program after its lock)."""
    rows = await conn.fetch("SELECT id FROM segments WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE",
                            segment_ids)
    return {row["id"] for row in rows}


async def by_version(conn: asyncpg.Connection, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT version, document FROM programs WHERE version = $1", version)


async def history(conn: asyncpg.Connection, before: int | None, limit: int) -> list[asyncpg.Record]:
    """Versions newest first, below `before` when given: who published each, why, and how many campaigns."""
    return list(await conn.fetch(
        """
        SELECT version, created_at, author, note,
               coalesce(jsonb_array_length(document -> 'campaigns'), 0) AS campaigns
        FROM programs WHERE $1::integer IS NULL OR version < $1
        ORDER BY version DESC LIMIT $2
        """,
        before, limit,
    ))
