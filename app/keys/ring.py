"""The key ring: who a presented bearer key belongs to, asked of PostgreSQL and remembered a few seconds per
worker. `app.core.auth` checks roles on what it finds (through `request.app.state.keys`)."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from app.core.auth import Principal, bearer_key
from app.core.db import Database
from app.core.errors import AppError

from . import repository
from .service import hash_key

_T = TypeVar("_T")

_CACHE_TTL_S = 5.0  # a revoked key stops working within this many seconds
# Valid keys a worker remembers at once. Every till and back office holds one key and presents it on every
# request, so the cache needs room for the keys in use within one TTL: 10,000 covers a chain far larger
# than one worker serves, in about 4.5 MB (measured: ~450 bytes an entry). Past it, the entry that would
# expire first goes and that key is asked again: a query more, never a wrong answer.
_CACHE_KNOWN_MAX_KEYS = 10_000
# Unknown or revoked keys a worker remembers at once, apart from the known ones, so that presenting random
# keys can neither grow memory nor push a valid key out. Remembering them at all spares the database a
# query per request from a till still sending a revoked or mistyped key (a few such tills at a time);
# a flood of distinct random keys only cycles through these slots (about 200 KB).
_CACHE_UNKNOWN_MAX_KEYS = 1_000


class KeyRing:
    """Who a bearer key belongs to, asked of PostgreSQL and remembered for `_CACHE_TTL_S` per worker.

    Bounds: at most `_CACHE_KNOWN_MAX_KEYS` valid keys and, separately, `_CACHE_UNKNOWN_MAX_KEYS` unknown
    or revoked ones (by their SHA-256), so a worker's cache holds at most 11,000 entries (under 5 MB)
    whatever it is sent, and a flood of unknown keys evicts no valid key. Each cache is kept in insertion
    order, which with one TTL is also expiry order: an insert first drops the expired entries at its front,
    then, when still full, the oldest entry (the one to expire soonest). A cache hit neither moves nor
    extends its entry: a key is asked again once per TTL however often it is used, as revocation needs.

    Database load: a key in either cache costs no query until its entry ends, so one key presented over
    and over, valid or not, costs one query per TTL. Distinct unknown keys cost one indexed look-up each,
    which no cache can avoid; those look-ups queue for the same bounded pool as every request (503 past
    `BONUS_ENGINE_DB_ACQUIRE_TIMEOUT_MS`), so a flood costs PostgreSQL at most the pool's connections.
    """

    def __init__(self, bootstrap_admin_key: str | None):
        self._bootstrap = hash_key(bootstrap_admin_key) if bootstrap_admin_key else None
        self._known: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()  # digest: (expires, whose)
        self._unknown: OrderedDict[bytes, float] = OrderedDict()  # digest: expires

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
        now = time.monotonic()
        known = self._known.get(digest)
        if known is not None and known[0] > now:
            return known[1]
        unknown_until = self._unknown.get(digest)
        if unknown_until is not None and unknown_until > now:
            return None
        async with db.connection() as conn:
            row = await repository.find(conn, digest)
        found = Principal(str(row["id"]), row["role"], row["store_id"]) if row else None
        self._remember(digest, found)
        return found

    def cached(self) -> tuple[int, int]:
        """(known keys, unknown keys) in the cache now, expired entries not yet dropped included."""
        return len(self._known), len(self._unknown)

    def _remember(self, digest: bytes, found: Principal | None) -> None:
        now = time.monotonic()
        expires = now + _CACHE_TTL_S
        # a key may change sides (revoked; or created after it was first tried); and a re-inserted key goes
        # to the end, where its new expiry belongs
        self._known.pop(digest, None)
        self._unknown.pop(digest, None)
        _drop_expired(self._known, now, lambda entry: entry[0])
        _drop_expired(self._unknown, now, lambda entry: entry)
        if found is not None:
            while len(self._known) >= _CACHE_KNOWN_MAX_KEYS:
                self._known.popitem(last=False)
            self._known[digest] = (expires, found)
        else:
            while len(self._unknown) >= _CACHE_UNKNOWN_MAX_KEYS:
                self._unknown.popitem(last=False)
            self._unknown[digest] = expires


def _drop_expired(cache: OrderedDict[bytes, _T], now: float, expires: Callable[[_T], float]) -> None:
    """Drop the expired entries at the front (the oldest): amortized O(1) per insert, as each goes once."""
    while cache:
        first = next(iter(cache.values()))
        if expires(first) > now:
            return
        cache.popitem(last=False)


def _unauthorized(detail: str) -> AppError:
    return AppError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
