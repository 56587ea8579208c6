"""Creating keys: 256 random bits, shown once, stored as a hash."""

from __future__ import annotations

import hashlib
import secrets

import asyncpg

from . import repository

ROLES = ("pos", "admin")


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
