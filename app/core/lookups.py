"""A limit on failed code look-ups per key and minute, so certificate and coupon codes cannot be guessed.

Unknown and blank codes count alike, from the look-up endpoints and from receipts. The counters live
in Redis (shared by every worker); while Redis is away each worker counts on its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .auth import Principal
from .cache import Cache
from .errors import AppError

WINDOW_S = 60
T = TypeVar("T")


class FailedLookups:
    def __init__(self, cache: Cache, limit: int):
        self._cache = cache
        self._limit = limit
        self._local: dict[str, int] = {}

    def _key(self, principal: Principal) -> tuple[str, int]:
        window = int(time.time() // WINDOW_S)
        return f"{self._cache.prefix}lookups:{principal.key_id}:{window}", WINDOW_S - int(time.time()) % WINDOW_S

    async def _count(self, principal: Principal, add: int) -> int:
        key, ttl_s = self._key(principal)
        shared = await self._cache.count(key, add, ttl_s + 1)
        if shared is not None:
            return shared
        if len(self._local) > 10_000:
            self._local.clear()
        self._local[key] = self._local.get(key, 0) + add
        return self._local[key]

    async def check(self, principal: Principal) -> None:
        """429 once this key has failed `limit` look-ups in the current minute."""
        if await self._count(principal, 0) >= self._limit:
            _, retry_after_s = self._key(principal)
            raise AppError(429, "too_many_failed_lookups",
                           f"more than {self._limit} unknown codes this minute from this key",
                           headers={"Retry-After": str(retry_after_s)})

    async def failed(self, principal: Principal, count: int = 1) -> None:
        if count:
            await self._count(principal, count)

    async def guarded(self, principal: Principal, look_up: Callable[[], Awaitable[T]]) -> T:
        """Run a code look-up under the limit: refused at the limit, counted when it finds nothing."""
        await self.check(principal)
        try:
            return await look_up()
        except AppError as error:
            if error.status == 404:
                await self.failed(principal)
            raise
