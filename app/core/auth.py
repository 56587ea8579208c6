"""Bearer keys with roles `pos` and `admin`; a pos key may be bound to one store."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from fastapi import Request

from app.keys import repository
from app.keys.service import hash_key

from .db import Database
from .errors import AppError

_CACHE_TTL_S = 5.0  # a revoked key stops working within this many seconds


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: str
    store_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def check_store(self, store_id: str) -> None:
        if not self.is_admin and self.store_id is not None and self.store_id != store_id:
            raise AppError(403, "forbidden", f"this key is bound to another store, not {store_id!r}")


def bearer_key(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (the scheme in any case), or None."""
    scheme, _, key = authorization.partition(" ")
    return (key.strip() or None) if scheme.lower() == "bearer" else None


class KeyRing:
    def __init__(self, bootstrap_admin_key: str | None):
        self._bootstrap = hash_key(bootstrap_admin_key) if bootstrap_admin_key else None
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def principal(self, request: Request) -> Principal:
        key = bearer_key(request.headers.get("authorization", ""))
        if key is None:
            raise _unauthorized("send Authorization: Bearer <key>")
        found = await self.find(request.app.state.db, key)
        if found is None:
            raise _unauthorized("unknown or revoked key")
        return found

    async def find(self, db: Database, key: str) -> Principal | None:
        """Whose key this is, however it was presented; None for an unknown or revoked key."""
        digest = hash_key(key)
        if self._bootstrap is not None and hmac.compare_digest(digest, self._bootstrap):
            return Principal("bootstrap", "admin", None)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with db.connection() as conn:
            row = await repository.find(conn, digest)
        found = Principal(str(row["id"]), row["role"], row["store_id"]) if row else None
        self._cache[digest] = (time.monotonic() + _CACHE_TTL_S, found)
        return found


def _unauthorized(detail: str) -> AppError:
    return AppError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


async def pos(request: Request) -> Principal:
    """Any valid key: pos keys and admin keys alike."""
    principal: Principal = await request.app.state.keys.principal(request)
    return principal


async def admin(request: Request) -> Principal:
    principal = await pos(request)
    if not principal.is_admin:
        raise AppError(403, "forbidden", "this route needs an admin key")
    return principal
