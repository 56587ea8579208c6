"""Redis as an accelerator, never the truth: short timeouts, and a pause after a failure.

When Redis is down or slow every call returns "no answer" within `redis_timeout_ms`, the service
works from Postgres, and `bonus_cache_requests_total{result="error"}` says so.

With `redis_cluster` (BONUS_ENGINE_REDIS_CLUSTER=1) the client is a Redis Cluster one, and REDIS_URL names
one of its nodes. Every command touches one key (a snapshot's key holds its card in braces, so a card stays
on one slot), and what must be atomic is a script on one key, so nothing here depends on which node holds
what. A node that is down fails the calls for its slots the same way: no answer, and Postgres serves. The
pause after a failure and the move to a new cache generation after a lost snapshot are the whole cache's,
not the node's: while one node is down the others are asked again only after each pause.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any

import orjson
import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from . import metrics
from .settings import Settings

log = logging.getLogger("bonus_engine.cache")

# The key that get_snapshot_bytes found no snapshot for, in this request's context (each request is a task)
_found_nothing: ContextVar[str | None] = ContextVar("snapshot_found_nothing", default=None)

# Set the snapshot only if it is newer than the cached one: concurrent writers and readers
# may finish out of order, and an older account version must never overwrite a newer one.
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# A counter that lives ARGV[2] seconds from its first count (a script: one key, atomic, on a cluster too)
_COUNT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
return value
"""


class Cache:
    def __init__(self, settings: Settings):
        self.prefix = settings.redis_prefix
        self._pause_s = settings.redis_retry_after_ms / 1000
        self._down_until = 0.0
        self.generation = 0  # see cache_state in the schema
        self.lost_writes = False  # a snapshot update was dropped since the generation last moved
        self._client: redis.Redis | RedisCluster | None = None
        if settings.redis_url:
            timeout = settings.redis_timeout_ms / 1000
            if settings.redis_cluster:
                # no retries on another node: a call that fails is "no answer" at once, as on one server
                self._client = RedisCluster.from_url(
                    settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout,
                    require_full_coverage=False, cluster_error_retry_attempts=0,
                )
            else:
                self._client = redis.Redis.from_url(
                    settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
                )
            self._set_if_newer = self._client.register_script(_SET_IF_NEWER)
            self._count = self._client.register_script(_COUNT)

    def account_key(self, card: str) -> str:
        return f"{self.prefix}{{acct:{card}}}:g{self.generation}"

    def _available(self) -> bool:
        return self._client is not None and time.monotonic() >= self._down_until

    def _failed(self, error: Exception) -> None:
        self._down_until = time.monotonic() + self._pause_s
        metrics.CACHE.labels("error").inc()
        log.warning("redis unavailable, serving from postgres: %s", error)

    async def get_snapshot(self, key: str) -> Any | None:
        if _found_nothing.get() == key:  # the fast read path looked (and counted) for this request
            return None
        raw = await self._snapshot(key)
        return orjson.loads(raw) if raw is not None else None

    async def get_snapshot_bytes(self, key: str) -> bytes | None:
        """The snapshot as stored (orjson bytes), for the fast read path (app/accounts/fast.py). When it finds
        none, the get_snapshot of the same key in the same request (task) answers None at once: the request
        that it hands on to the endpoint is looked up, and counted, once."""
        raw = await self._snapshot(key)
        if raw is None:
            _found_nothing.set(key)
        return raw

    async def _snapshot(self, key: str) -> bytes | None:
        if not self._available():
            metrics.CACHE.labels("skipped").inc()
            return None
        assert self._client is not None
        try:
            raw = await self._client.hget(key, "d")
        except Exception as error:  # any Redis trouble means: go to Postgres
            self._failed(error)
            return None
        metrics.CACHE.labels("hit" if raw is not None else "miss").inc()
        return raw  # type: ignore[return-value]  # bytes: the client does not decode responses

    async def put_snapshot(self, key: str, version: int, value: Any, ttl_ms: int, *, after_write: bool = True) -> bool:
        """Store a snapshot; False when Redis could not take it (the old one may remain). Only a snapshot
        after a write can leave a stale one behind: a read-through found none to replace."""
        return await self.put_snapshots([(key, version, value, ttl_ms)], after_write=after_write)

    async def put_snapshots(self, snapshots: list[tuple[str, int, Any, int]], *, after_write: bool = True) -> bool:
        """Store (key, version, value, ttl_ms) snapshots in one round trip (a batch of confirms has many)."""
        if self._client is None or not snapshots:
            return True
        if not self._available():
            self.lost_writes = self.lost_writes or after_write
            return False
        try:
            try:
                await self._put(snapshots)
            except NoScriptError:  # a new Redis, or one that flushed its scripts
                await self._client.script_load(_SET_IF_NEWER)  # on a cluster: on every primary
                await self._put(snapshots)
            return True
        except Exception as error:
            self._failed(error)
            self.lost_writes = self.lost_writes or after_write
            return False

    async def _put(self, snapshots: list[tuple[str, int, Any, int]]) -> None:
        """One round trip: the script by its sha (redis-py's own script call in a pipeline first asks whether
        the script exists, a second round trip)."""
        assert self._client is not None
        async with self._client.pipeline(transaction=False) as pipe:
            for key, version, value, ttl_ms in snapshots:
                if ttl_ms <= 0:  # it changes by itself right now: let the next read compute it
                    pipe.delete(key)
                else:
                    pipe.evalsha(self._set_if_newer.sha, 1, key, version, orjson.dumps(value), ttl_ms)
            await pipe.execute()

    async def count(self, key: str, add: int, ttl_s: int) -> int | None:
        """Add to a counter that lives `ttl_s` seconds and return it; None when Redis is away."""
        if not self._available():
            return None
        assert self._client is not None
        try:
            return int(await self._count(keys=[key], args=[add, ttl_s]))  # loads the script when it must
        except Exception as error:
            self._failed(error)
            return None

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            return bool(await self._client.ping())
        except Exception:
            return False

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
