"""The unit of work of account writes (app/accounts/write.py), on real PostgreSQL and Redis.

What every write relies on it for: `now` is read after the account's lock is held, not when the request
arrived; the view it caches is the row as the write left it, with the version the flush gave, and equal
to what PostgreSQL reads after the commit; and a transaction that fails caches nothing and writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.accounts import repository as accounts
from app.accounts.repository import AccountRow
from app.accounts.view import account_view
from app.accounts.write import AccountWrite
from app.core.context import AppContext
from loadtests.seed import card_of
from rules import compile_program, load_program
from tests.conftest import Servers
from tests.inprocess import app_context
from tests.programs import program
from tests.test_confirm_statements import seed_accounts

PROGRAM = compile_program(load_program(program(pending_days=0), "yaml"), 1)
CARD = card_of(1)


async def postgres_view(ctx: Any) -> tuple[dict[str, Any], int]:
    async with ctx.db.connection() as conn:
        account = await accounts.get(conn, CARD)
        assert account is not None
        view, _ = await account_view(conn, account, PROGRAM, datetime.now(UTC))
    return view, account.version


async def cached_view(ctx: Any) -> Any:
    return await ctx.cache.get_snapshot(ctx.snapshot_key(CARD))


@asynccontextmanager
async def seeded(servers: Servers, database_url: str, tag: str) -> AsyncIterator[AppContext]:
    """The service's context on `database_url` (a fresh database) with one seeded account (CARD)."""
    await seed_accounts(database_url, 1)
    async with app_context(database_url, servers.redis_url, f"t{servers.run_id}{tag}:", PROGRAM) as ctx:
        yield ctx


async def granted(write: AccountWrite) -> AccountRow:
    """The card's account, locked, with 1,234 points granted and flushed."""
    account = await write.lock(CARD)
    assert account is not None
    book = await write.open(account)
    await book.grant("adjustment", 1234, write.now, write.now + timedelta(days=30), reason="test")
    await write.flush()
    return account


def test_a_write_caches_the_view_postgres_reads_with_its_new_version(servers: Servers) -> None:
    database_url = servers.new_database()

    async def run() -> None:
        async with seeded(servers, database_url, "uow1") as ctx:
            _, version_before = await postgres_view(ctx)
            async with AccountWrite.begin(ctx) as write:
                account = await granted(write)
                assert write.written(account).version == version_before + 1  # as written, not read again
                view = await write.view(account)
                assert await cached_view(ctx) is None  # not before the commit
            read, version_after = await postgres_view(ctx)
            assert version_after == version_before + 1
            assert view == read
            assert await cached_view(ctx) == read

    asyncio.run(run())


def test_a_failed_write_caches_nothing_and_writes_nothing(servers: Servers) -> None:
    database_url = servers.new_database()

    async def run() -> None:
        async with seeded(servers, database_url, "uow2") as ctx:
            before, version_before = await postgres_view(ctx)
            with pytest.raises(RuntimeError, match="after the view"):
                async with AccountWrite.begin(ctx) as write:
                    await write.view(await granted(write))
                    raise RuntimeError("after the view")
            assert await postgres_view(ctx) == (before, version_before)
            assert await cached_view(ctx) is None

    asyncio.run(run())


def test_now_is_read_after_the_lock_is_held(servers: Servers) -> None:
    """A write that waits for another transaction's lock judges balances as of when it gets it: points that
    become available while it waits are available to it."""
    database_url = servers.new_database()

    async def run() -> None:
        async with seeded(servers, database_url, "uow3") as ctx:
            holder = await asyncpg.connect(database_url)
            try:
                holding = holder.transaction()
                await holding.start()
                assert await holder.fetchval("SELECT id FROM accounts WHERE card = $1 FOR UPDATE", CARD)

                async def write_when_locked() -> tuple[datetime, datetime]:
                    async with AccountWrite.begin(ctx) as write:
                        started = write.now
                        await write.lock(CARD)
                        return started, write.now

                waiting = asyncio.create_task(write_when_locked())
                await asyncio.sleep(0.5)
                assert not waiting.done()  # it waits for the lock
                released = datetime.now(UTC)
                await holding.rollback()
                started, now = await waiting
            finally:
                await holder.close()
            assert started < released <= now

    asyncio.run(run())
