"""Keys (roles pos, marketer, admin): created with 256 random bits, shown once, stored as a hash; listed and
revoked by id."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from . import repository

ROLES = ("pos", "marketer", "admin")  # app.core.auth says what each may do


def hash_key(key: str) -> bytes:
    # Keys carry 256 random bits, so a plain SHA-256 cannot be brute-forced; no slow KDF needed.
    return hashlib.sha256(key.encode()).digest()


def new_key(role: str) -> str:
    return f"be_{role}_{secrets.token_urlsafe(32)}"


async def create_key(conn: asyncpg.Connection, role: str, store_id: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = new_key(role)
    await repository.insert(conn, hash_key(key), role, store_id)
    return key


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def key_info(row: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of a key: never the key itself, nor its hash."""
    return {"id": int(row["id"]), "role": row["role"], "store_id": row["store_id"],
            "created_at": _iso(row["created_at"]), "revoked_at": _iso(row["revoked_at"])}


async def list_keys(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [key_info(row) for row in await repository.all_keys(conn)]


async def revoke_key(conn: asyncpg.Connection, key_id: int) -> tuple[dict[str, Any], bool] | None:
    """(the key, revoked before?), or None if there is no such key. A revoked key is refused by every
    worker once its KeyRing cache entry ends (app.core.auth: at most 5 s)."""
    row = await repository.revoke(conn, key_id)
    if row is None:
        return None
    return key_info(row), bool(row["was_revoked"])
