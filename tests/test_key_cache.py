"""The KeyRing's cache of presented bearer keys, over a real database: bounded however many distinct keys
are presented, a flood of unknown keys evicts no known key, and a revoked key still stops within the TTL.

The ring's clock is a test clock (only `app.keys.ring` sees it), so "within the TTL" is exact and the
flood takes no cache entry past its expiry however slow the machine is.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from app.core.auth import Principal
from app.core.db import Database
from app.core.settings import Settings
from app.keys import ring as key_ring
from app.keys.ring import KeyRing
from app.keys.service import create_key, revoke_key
from tests.conftest import Servers

FLOOD = 20_000  # distinct random bearer keys
CONCURRENCY = 8  # look-ups at once during the flood (as many connections)


class Clock:
    """`time.monotonic` for app.keys.ring only: stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class CountingDb:
    """The service's Database, counting the statements the ring sends through it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.queries = 0

    def _logged(self, _record: Any) -> None:
        self.queries += 1

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._db.connection() as conn:
            conn.add_query_logger(self._logged)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self._logged)


def _entries(ring: KeyRing) -> tuple[int, int]:
    known, unknown = ring.cached()
    assert known <= key_ring._CACHE_KNOWN_MAX_KEYS and unknown <= key_ring._CACHE_UNKNOWN_MAX_KEYS, (known, unknown)
    return known, unknown


def test_a_flood_of_unknown_keys_keeps_the_cache_bounded_and_the_known_keys(
        servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(key_ring, "time", clock)
    database_url = servers.new_database()

    async def scenario() -> None:
        settings = Settings(DATABASE_URL=database_url, REDIS_URL="",
                            BONUS_ENGINE_DB_POOL_MIN="1", BONUS_ENGINE_DB_POOL_MAX=str(CONCURRENCY))
        real = Database(settings)
        await real.connect()
        try:
            async with real.connection() as conn:
                key = await create_key(conn, "pos", "s17")
                key_id = int(await conn.fetchval("SELECT max(id) FROM api_keys"))
            db: Any = CountingDb(real)  # a Database to the ring
            ring = KeyRing(None)
            expected = Principal(str(key_id), "pos", "s17")

            # a known key: one query, then cached
            assert await ring.find(db, key) == expected
            assert await ring.find(db, key) == expected
            assert db.queries == 1

            # the flood: every distinct random key costs one query (inherent), and the cache stays bounded
            most = (0, 0)

            async def present(count: int) -> None:
                nonlocal most
                for _ in range(count):
                    assert await ring.find(db, secrets.token_urlsafe(32)) is None
                    known, unknown = _entries(ring)
                    most = (max(most[0], known), max(most[1], unknown))

            await asyncio.gather(*(present(FLOOD // CONCURRENCY) for _ in range(CONCURRENCY)))
            assert db.queries == 1 + FLOOD
            assert most[1] == key_ring._CACHE_UNKNOWN_MAX_KEYS  # it filled up, and no further
            assert most[0] == 1

            # the same unknown key again within the TTL costs nothing (the negative cache still works)
            again = secrets.token_urlsafe(32)
            assert await ring.find(db, again) is None
            assert await ring.find(db, again) is None
            assert db.queries == 2 + FLOOD

            # the known key survived the flood: still found, still cached (no query)
            assert await ring.find(db, key) == expected
            assert db.queries == 2 + FLOOD
            assert _entries(ring) == (1, key_ring._CACHE_UNKNOWN_MAX_KEYS)

            # revoked: still accepted from the cache until its entry ends, refused from then on
            async with real.connection() as conn:
                assert await revoke_key(conn, key_id) is not None
            clock.now += key_ring._CACHE_TTL_S - 0.01
            assert await ring.find(db, key) == expected
            assert db.queries == 2 + FLOOD
            clock.now += 0.02
            assert await ring.find(db, key) is None
            assert db.queries == 3 + FLOOD

            # once the flood's entries have expired, the next insert sweeps them: memory goes back down
            clock.now += key_ring._CACHE_TTL_S + 1
            assert await ring.find(db, secrets.token_urlsafe(32)) is None
            assert _entries(ring) == (0, 1)
        finally:
            await real.close()

    asyncio.run(scenario())


class FakeDb:
    """A database of known keys (by key), counting look-ups: for the eviction order, with small bounds."""

    def __init__(self, keys: Mapping[str, tuple[str, str, str | None]]) -> None:
        from app.keys.service import hash_key

        self.rows = {hash_key(k): {"id": v[0], "role": v[1], "store_id": v[2]} for k, v in keys.items()}
        self.queries = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        async def fetchrow(_query: str, digest: bytes) -> dict[str, Any] | None:
            self.queries += 1
            return self.rows.get(digest)

        yield SimpleNamespace(fetchrow=fetchrow)


def test_full_caches_drop_expired_entries_then_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(key_ring, "time", clock)
    monkeypatch.setattr(key_ring, "_CACHE_KNOWN_MAX_KEYS", 3)
    monkeypatch.setattr(key_ring, "_CACHE_UNKNOWN_MAX_KEYS", 2)
    known = {f"k{i}": (str(i), "pos", None) for i in range(5)}
    db: Any = FakeDb(known)
    ring = KeyRing("boot")

    async def scenario() -> None:
        for name in ("k0", "k1", "k2"):
            assert (await ring.find(db, name)) is not None
        assert ring.cached() == (3, 0) and db.queries == 3
        # unknown keys fill their own cache only: the known keys stay
        for name in ("x0", "x1", "x2", "x3"):
            assert await ring.find(db, name) is None
        assert ring.cached() == (3, 2) and db.queries == 7
        assert await ring.find(db, "x3") is None and db.queries == 7  # the newest unknown: cached
        assert await ring.find(db, "x0") is None and db.queries == 8  # the oldest: evicted, asked again
        for name in ("k0", "k1", "k2"):
            await ring.find(db, name)
        assert db.queries == 8
        # a fourth known key: the oldest (k0) goes
        clock.now += 1
        assert await ring.find(db, "k3") is not None and db.queries == 9
        assert ring.cached()[0] == 3
        await ring.find(db, "k1")
        await ring.find(db, "k2")
        assert db.queries == 9
        await ring.find(db, "k0")
        assert db.queries == 10  # evicted, asked again; now k1 went
        # expired entries go first, whatever their order: after the TTL everything but the newest is gone
        clock.now += key_ring._CACHE_TTL_S + 0.5
        await ring.find(db, "k4")
        assert ring.cached() == (1, 0)
        # the bootstrap key is never cached nor looked up
        assert (await ring.find(db, "boot")) == Principal("bootstrap", "admin", None)
        assert ring.cached() == (1, 0) and db.queries == 11

    asyncio.run(scenario())
