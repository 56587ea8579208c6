"""The service's own context in this process, as `serve` builds it, on a test database: for tests that
call the service layer directly (to watch its statements, or to hold a batch of confirms together)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import pytest

from app.core.cache import Cache
from app.core.context import AppContext
from app.core.db import Database, _init_connection
from app.core.lookups import FailedLookups
from app.core.settings import Settings
from app.program.service import ProgramHolder
from app.receipts.batch import Committer
from rules import CompiledProgram


@asynccontextmanager
async def app_context(database_url: str, redis_url: str, prefix: str, program: CompiledProgram, *,
                      pool_max: int = 4, in_flight: int = 1,
                      init: Callable[[asyncpg.Connection], Awaitable[None]] = _init_connection,
                      ) -> AsyncIterator[AppContext]:
    """`program` active, a group committer with `in_flight` batches at once, every connection set up by
    `init` (the service's own by default)."""
    # fields by name: Settings ignores unknown keywords, and the environment's names are not its fields
    # a 2 s Redis timeout: these tests read back what was cached, and on a busy machine the service's 50 ms to
    # connect is sometimes not enough (a miss then is the cache working as designed, not what they test)
    settings = Settings(DATABASE_URL=database_url, REDIS_URL=redis_url, redis_prefix=prefix, db_pool_min=1,
                        db_pool_max=pool_max, redis_timeout_ms=2000)
    assert (settings.redis_prefix, settings.db_pool_max, settings.redis_timeout_ms) == (prefix, pool_max, 2000)
    db = Database(settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.core.db._init_connection", init)
        await db.connect()
    cache = Cache(settings)
    programs = ProgramHolder(db, settings.program_poll_ms)
    programs.installed(program.version, program.program)
    ctx = AppContext(settings, db, cache, programs, FailedLookups(cache, settings.failed_lookup_limit))
    ctx.confirms = Committer(ctx, max_batch=64, in_flight=in_flight, queue_max=1000)
    try:
        yield ctx
    finally:
        await ctx.confirms.drain()
        await cache.close()
        await db.close()
