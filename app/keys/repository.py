"""API keys: only their SHA-256 is stored."""

from __future__ import annotations

import asyncpg


async def insert(conn: asyncpg.Connection, key_hash: bytes, role: str, store_id: str | None) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO api_keys (key_hash, role, store_id) VALUES ($1, $2, $3) RETURNING id",
            key_hash, role, store_id,
        )
    )


async def find(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, role, store_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash
    )


async def all_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every key, oldest first, without its hash."""
    return list(await conn.fetch("SELECT id, role, store_id, created_at, revoked_at FROM api_keys ORDER BY id"))


async def revoke(conn: asyncpg.Connection, key_id: int) -> asyncpg.Record | None:
    """Revoke the key; a key revoked before keeps its first `revoked_at` (`was_revoked` says so).
    None if there is no such key."""
    return await conn.fetchrow(
        """
        WITH before AS (SELECT id, revoked_at FROM api_keys WHERE id = $1 FOR UPDATE)
        UPDATE api_keys AS k SET revoked_at = coalesce(before.revoked_at, now())
        FROM before WHERE k.id = before.id
        RETURNING k.id, k.role, k.store_id, k.created_at, k.revoked_at, before.revoked_at IS NOT NULL AS was_revoked
        """,
        key_id,
    )
