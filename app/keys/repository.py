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
