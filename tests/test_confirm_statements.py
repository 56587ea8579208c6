"""What a confirm sends to PostgreSQL, watched with asyncpg's query logger on real servers:

- the SQL ceiling of the benchmark (loadtests/ceiling.py) sends the very statements of a real confirm of a
  card that redeems and accrues (a batch of one: what a quiet worker's group commit sends), and
  STATEMENTS_PER_CONFIRM counts them;
- the receipt row is written after the account view is read, so the view counts the receipt in memory:
  that must agree with what PostgreSQL reads once the row is there, at every edge of the filters.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from app.accounts import repository as accounts
from app.accounts.view import Purchase, account_view
from app.core.auth import Principal
from app.core.db import _init_connection, connect
from app.receipts import repository as receipts
from app.receipts import service
from loadtests.ceiling import STATEMENTS_PER_CONFIRM, confirm_statements
from loadtests.seed import card_of, seed
from rules import CompiledProgram, Receipt, compile_program, load_program
from tests.conftest import Servers
from tests.inprocess import app_context
from tests.programs import program
from tests.support import line, receipt

PROGRAM = compile_program(load_program(program(pending_days=0), "yaml"), 1)
ADMIN = Principal("test", "admin", None)


SENT: list[str] = []  # every statement of the context's pool, whitespace folded


async def _init_watched(conn: asyncpg.Connection) -> None:
    await _init_connection(conn)
    conn.add_query_logger(lambda query: SENT.append(" ".join(query.query.split())))


def context(database_url: str, redis_url: str, prefix: str) -> Any:
    """The service's own context with PROGRAM active, one connection, and every statement in SENT."""
    return app_context(database_url, redis_url, prefix, PROGRAM, pool_max=1, init=_init_watched)


async def transaction_of(work: Callable[[], Awaitable[Any]]) -> list[str]:
    """The statements of the one transaction `work` runs, BEGIN to COMMIT."""
    await asyncio.sleep(0.05)  # the logger is called soon after each statement, not during it
    SENT.clear()
    await work()
    await asyncio.sleep(0.05)
    begin = next(i for i, query in enumerate(SENT) if query.startswith("BEGIN"))
    return SENT[begin:SENT.index("COMMIT", begin) + 1]


async def seed_accounts(database_url: str, accounts: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await seed(conn, accounts=accounts)
    finally:
        await conn.close()


def redeeming_receipt(number: str) -> Receipt:
    return Receipt.model_validate(receipt([line("1", 10000), line("2", 5000)], number, redeem_points=1000))


def test_the_sql_ceiling_sends_what_a_confirm_sends(servers: Servers) -> None:
    database_url = servers.new_database()

    async def run() -> tuple[list[str], list[str]]:
        await seed_accounts(database_url, 2)
        async with context(database_url, servers.redis_url, f"t{servers.run_id}stmt:") as ctx:
            for _ in range(2):  # the first run of each also introspects types; the second is counted
                confirmed = await transaction_of(
                    lambda: service.confirm(ctx, redeeming_receipt(card_of(1)), ADMIN))
                async with ctx.db.connection() as conn:
                    ceiling = await transaction_of(lambda: confirm_statements(
                        conn, PROGRAM, f"ceiling-{datetime.now(UTC).timestamp()}", card_of(2), [], {}))
        return confirmed, ceiling

    confirmed, ceiling = asyncio.run(run())
    # BEGIN and the batch's generic plans in one simple query (app/core/db.py, _BEGIN_GENERIC_PLANS)
    assert confirmed[0] == ("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan;"
                            " SET LOCAL enable_seqscan = off"), confirmed
    assert confirmed[-1] == "COMMIT", confirmed
    assert any("INSERT INTO ledger" in q for q in confirmed)  # it did redeem and accrue
    assert ceiling == confirmed
    assert len(confirmed) == STATEMENTS_PER_CONFIRM


def test_calculate_reads_a_card_in_one_statement(servers: Servers) -> None:
    """The account, its lots and its purchase facts as of the receipt and as of now: one round trip, one
    snapshot; and the receipt's figures are the ones confirm then gives (the account after it differs)."""
    database_url = servers.new_database()

    async def run() -> tuple[list[str], dict[str, Any], dict[str, Any]]:
        await seed_accounts(database_url, 1)
        async with context(database_url, servers.redis_url, f"t{servers.run_id}calc:") as ctx:
            body = redeeming_receipt(card_of(1))
            await service.calculate(ctx, body, ADMIN)  # the first run of a statement also introspects types
            await asyncio.sleep(0.05)
            SENT.clear()
            calculated = await service.calculate(ctx, body, ADMIN)
            await asyncio.sleep(0.05)
            sent = list(SENT)
            confirmed, _ = await service.confirm(ctx, body, ADMIN)
        return sent, calculated, confirmed

    sent, calculated, confirmed = asyncio.run(run())
    assert len(sent) == 1 and "FROM lots" in sent[0] and "FROM receipts" in sent[0], sent
    assert calculated["status"] == "calculated"
    assert calculated["account"]["tier_applied"] == confirmed["account"]["tier_applied"]
    own = ("status", "refunds", "account")
    assert {k: v for k, v in calculated.items() if k not in own} == {k: v for k, v in confirmed.items() if k not in own}


def test_a_connection_goes_back_to_the_pool_without_a_reset(servers: Servers) -> None:
    """Release sends nothing (asyncpg's default reset is a round trip per request), and what a transaction
    sets with SET LOCAL is gone for the next request on the same connection (the pool holds one)."""
    database_url = servers.new_database()

    async def run() -> tuple[list[str], str, str]:
        async with context(database_url, servers.redis_url, f"t{servers.run_id}reset:") as ctx:
            default = await ctx.db.fetchval("SHOW statement_timeout")
            SENT.clear()
            async with ctx.db.transaction() as conn:
                await conn.execute("SET LOCAL statement_timeout = 0")
            after = await ctx.db.fetchval("SHOW statement_timeout")
            await asyncio.sleep(0.05)
            return list(SENT), default, after

    sent, default, after = asyncio.run(run())
    assert sent == ["BEGIN;", "SET LOCAL statement_timeout = 0", "COMMIT;", "SHOW statement_timeout"]
    assert after == default != "0"


# --- the account view of a confirm: the receipt counted in memory ---------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = timedelta(days=PROGRAM.program.tiers.window_days)

CASES = {  # (issued_at, purchase amount): silver needs 1,000.00 in the window
    "an ordinary purchase": (NOW - timedelta(minutes=1), 30000),
    "the purchase that reaches silver": (NOW - timedelta(minutes=1), 80000),
    "nothing that counts for tiers": (NOW - timedelta(minutes=1), 0),
    "issued in the next minutes (not counted before then)": (NOW + timedelta(minutes=3), 30000),
    "exactly now": (NOW, 30000),
    "at the start of the window": (NOW - WINDOW, 30000),
    "before the window": (NOW - WINDOW - timedelta(seconds=1), 30000),
    "before any other purchase": (NOW - timedelta(days=900), 30000),
    "in another time zone": (NOW.astimezone(timezone(timedelta(hours=5))) - timedelta(hours=1), 30000),
}
HISTORIES = {  # the account's earlier purchases: (days ago, amount)
    "first purchase": [],
    "earlier purchases": [(400, 50000), (200, 20000), (2, 10000)],
}


async def write_receipt(conn: asyncpg.Connection, account_id: int, issued_at: datetime, amount: int) -> None:
    receipt_id = f"view-{issued_at.timestamp()}-{amount}-{account_id}"
    await receipts.claim(conn, receipt_id, hashlib.sha256(receipt_id.encode()).digest(), issued_at)
    await receipts.insert_confirmed_many(conn, [receipts.Confirmed(
        receipt_id, account_id, account_id, b"", "s1", issued_at, 1, amount, [], {}, {}, "{}")], [])


async def views(conn: asyncpg.Connection, program_: CompiledProgram, history: list[tuple[int, int]],
                issued_at: datetime, amount: int) -> tuple[Any, Any]:
    """(the view with the receipt counted in memory, the view read after writing it), in a transaction
    rolled back after."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        assert await accounts.insert(conn, f"view{issued_at.timestamp()}{amount}", None, None, None)
        account = await accounts.lock(conn, f"view{issued_at.timestamp()}{amount}")
        assert account is not None
        for days, earlier in history:
            await write_receipt(conn, account.id, NOW - timedelta(days=days), earlier)
        in_memory = await account_view(conn, account, program_, NOW, [], Purchase(issued_at, amount))
        await write_receipt(conn, account.id, issued_at, amount)
        read = await account_view(conn, account, program_, NOW, [])
        return in_memory, read
    finally:
        await transaction.rollback()


@pytest.fixture(scope="module")
def database_url(servers: Servers) -> str:
    return servers.new_database()


@pytest.mark.parametrize("history", list(HISTORIES))
@pytest.mark.parametrize("case", list(CASES))
def test_the_view_counts_the_receipt_confirm_writes_after_it(database_url: str, history: str, case: str) -> None:
    issued_at, amount = CASES[case]

    async def run() -> tuple[Any, Any]:
        conn = await connect(database_url)
        try:
            return await views(conn, PROGRAM, HISTORIES[history], issued_at, amount)
        finally:
            await conn.close()

    in_memory, read = asyncio.run(run())
    assert in_memory == read
