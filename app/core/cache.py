"""Redis as an accelerator, never the truth: short timeouts, and a pause after a failure.

When Redis is down or slow every call returns "no answer" within `redis_timeout_ms`, the service
works from Postgres, and `bonus_cache_requests_total{result="error"}` says so.

With `redis_cluster` (BONUS_ENGINE_REDIS_CLUSTER=1) the client is a Redis Cluster one, and REDIS_URL names
one of its nodes. Every command touches one key (a snapshot's key holds its card in braces, so a card stays
on one slot), and what must be atomic is a script on one key. A node that is down fails the calls for its
slots the same way: no answer, and Postgres serves.

The pause after a failure is the node's: the key's slot names its node in the client's slot map, and the
pause holds for every key on that node (any of its slots), so the next key on a dead node costs no timeout,
while the other nodes' keys are still asked. On one server, and on a cluster whose failing node cannot be
told (the client has not read the slot map yet, or one call's keys lie on several nodes), the pause is the
whole cache's. A batch of snapshots goes in one pipeline per node, so a node that fails loses its own
snapshots only. The move to a new cache generation after a lost snapshot is still the whole cache's
(app/core/context.py): a write lost on the dead node makes every node's snapshots be read through again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from typing import Any

import orjson
import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, SlotNotCoveredError

from . import metrics
from .settings import Settings

log = logging.getLogger("bonus_engine.cache")

# The pause of one server, and of a cluster when the node a failure came from cannot be told
_WHOLE_CACHE = ""

# A snapshot to store: (key, version, value, ttl_ms)
Snapshot = tuple[str, int, Any, int]

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
        self._down_until: dict[str, float] = {}  # node name (or _WHOLE_CACHE) -> when it is asked again
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

    def _node(self, key: str) -> str:
        """The name of the cluster node that holds `key`, by the client's slot map; _WHOLE_CACHE on one server,
        and before the client has read the map (its first command does)."""
        if not isinstance(self._client, RedisCluster):
            return _WHOLE_CACHE
        try:
            return self._client.nodes_manager.get_node_from_slot(self._client.keyslot(key)).name
        except SlotNotCoveredError:
            return _WHOLE_CACHE

    def _available(self, key: str) -> bool:
        if self._client is None:
            return False
        now = time.monotonic()
        return now >= self._down_until.get(_WHOLE_CACHE, 0.0) and now >= self._down_until.get(self._node(key), 0.0)

    def _failed(self, error: Exception, *keys: str) -> None:
        """Pause the node that holds `keys`, or the whole cache when they are not all on one known node.

        An error of the client's own reads (the slot map and the command table, on the first command and on
        a refresh after an error) comes out of the command that ran them, and pauses that command's node."""
        nodes = {self._node(key) for key in keys}
        node = nodes.pop() if len(nodes) == 1 else _WHOLE_CACHE
        self._down_until[node] = time.monotonic() + self._pause_s
        metrics.CACHE.labels("error").inc()
        log.warning("redis unavailable (%s), serving from postgres: %s", node or "the whole cache", error)

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
        if not self._available(key):
            metrics.CACHE.labels("skipped").inc()
            return None
        assert self._client is not None
        try:
            raw = await self._client.hget(key, "d")
        except Exception as error:  # any Redis trouble means: go to Postgres
            self._failed(error, key)
            return None
        metrics.CACHE.labels("hit" if raw is not None else "miss").inc()
        return raw  # type: ignore[return-value]  # bytes: the client does not decode responses

    async def put_snapshot(self, key: str, version: int, value: Any, ttl_ms: int, *, after_write: bool = True) -> bool:
        """Store a snapshot; False when Redis could not take it (the old one may remain). Only a snapshot
        after a write can leave a stale one behind: a read-through found none to replace."""
        return await self.put_snapshots([(key, version, value, ttl_ms)], after_write=after_write)

    async def put_snapshots(self, snapshots: list[Snapshot], *, after_write: bool = True) -> bool:
        """Store (key, version, value, ttl_ms) snapshots in one round trip per node (a batch of confirms has
        many); False when any could not be stored. A node that is paused or fails loses its own snapshots only."""
        if self._client is None or not snapshots:
            return True
        by_node: dict[str, list[Snapshot]] = {}
        for snapshot in snapshots:
            by_node.setdefault(self._node(snapshot[0]), []).append(snapshot)
        if len(by_node) == 1:  # one server, or one node: no task to gather
            stored = await self._put_on_one_node(snapshots)
        else:
            stored = all(await asyncio.gather(*(self._put_on_one_node(batch) for batch in by_node.values())))
        if not stored:
            self.lost_writes = self.lost_writes or after_write
        return stored

    async def _put_on_one_node(self, snapshots: list[Snapshot]) -> bool:
        keys = [key for key, *_ in snapshots]
        if not self._available(keys[0]):
            return False
        try:
            try:
                await self._put(snapshots)
            except NoScriptError:  # a new Redis, or one that flushed its scripts (a SCRIPT LOAD would go to
                await self._put(snapshots, script_by_text=True)  # every primary, and fail on a dead one)
            return True
        except Exception as error:
            self._failed(error, *keys)
            return False

    async def _put(self, snapshots: list[Snapshot], *, script_by_text: bool = False) -> None:
        """One round trip: the script by its sha (redis-py's own script call in a pipeline first asks whether
        the script exists, a second round trip), or by its text, which also loads it on the node."""
        assert self._client is not None
        async with self._client.pipeline(transaction=False) as pipe:
            for key, version, value, ttl_ms in snapshots:
                if ttl_ms <= 0:  # it changes by itself right now: let the next read compute it
                    pipe.delete(key)
                elif script_by_text:
                    pipe.eval(_SET_IF_NEWER, 1, key, version, orjson.dumps(value), ttl_ms)
                else:
                    pipe.evalsha(self._set_if_newer.sha, 1, key, version, orjson.dumps(value), ttl_ms)
            await pipe.execute()

    async def count(self, key: str, add: int, ttl_s: int) -> int | None:
        """Add to a counter that lives `ttl_s` seconds and return it; None when Redis is away."""
        if not self._available(key):
            return None
        assert self._client is not None
        try:
            return int(await self._count(keys=[key], args=[add, ttl_s]))  # loads the script when it must
        except Exception as error:
            self._failed(error, key)
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
