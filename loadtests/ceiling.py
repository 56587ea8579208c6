"""The ceilings the engine is measured against, on the same servers in the same run.

- SQL ceiling: the statements one confirmed receipt issues (a card that redeems and accrues), sent by
  raw asyncpg through the very repository functions and ledger book that confirm uses, in the same
  order and in one transaction each: no HTTP, no validation, no rule engine. The receipt rows carry the
  stored lines and result of register-mix receipts (5 to 30 lines, evaluated before the timed run), so
  PostgreSQL stores documents of the size the engine stores. The best of several concurrencies.
- HTTP ceiling: the same server stack (uvicorn, httptools, the app's middleware) answering /healthz.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.accounts import repository as accounts
from app.core.db import Connection, _init_connection, asyncpg_dsn, generic_plans_transaction, keep_session
from app.points.book import Book, flush_books
from app.points.ids import Ids
from app.receipts import repository as receipts
from app.receipts.lines import stored_lines
from app.receipts.result import build
from rules import AccountState, CompiledProgram, Lot, Receipt, evaluate

from .scenarios import register_mix

STATEMENTS_PER_CONFIRM = 6  # BEGIN (with its SET LOCAL), 4 statements (see confirm_statements), COMMIT


async def confirm_statements(conn: asyncpg.Connection, program: CompiledProgram, receipt_id: str, card: str,
                             lines: list[dict[str, Any]], result: dict[str, Any], body: str = "{}") -> None:
    """What a batch of one confirm (app/receipts/batch.py) sends to PostgreSQL for a card that redeems and
    accrues: a quiet worker's batch, and the least any batch sends."""
    now = datetime.now(UTC)
    print_ = hashlib.sha256(receipt_id.encode()).digest()
    async with generic_plans_transaction(conn):
        await receipts.claim_many(conn, [(receipt_id, print_, now)])
        account = (await accounts.lock_many(conn, [card]))[card]
        lots, _, entry_ids, lot_ids = await accounts.locked_state_many(
            conn, [account.id], [(account.id, now), (account.id, now)], program.program.tiers.window_days,
            3, 2)
        ids = Ids(conn)
        ids.add(entry_ids, lot_ids)
        book = Book(conn, account.id, [Lot(*lot) for lot in lots[account.id]], account.debt, now, ids)
        book.settle()
        await book.spend("redemption", 100, receipt_id=receipt_id)
        await book.grant("accrual", 300, now + timedelta(days=14), now + timedelta(days=379), receipt_id=receipt_id)
        # one statement: entries, lots, moves, the account, and the receipt with its claim's owner
        await flush_books(conn, [book], lambda first: receipts.confirmed_ctes([receipts.Confirmed(
            receipt_id, account.id, account.id, print_, "s1", now, program.version, 10_000, lines, {}, result,
            body,
        )], [], first))


Documents = list[tuple[list[dict[str, Any]], dict[str, Any], str]]  # (stored lines, result, body) of receipts


def mix_documents(program: CompiledProgram, count: int = 200) -> Documents:
    """(stored lines, result, request body) of `count` register-mix card receipts, as confirm would store them."""
    now = datetime.now(UTC)
    account = AccountState("ok", 3, now - timedelta(days=90), now - timedelta(days=2), 1_000_000)
    summary = {"card": "0", "tier": "base", "tier_applied": "base", "available": 0, "pending": 0}
    documents: Documents = []
    for step in register_mix(count * 2, ["0"], seed=7, run_id="ceiling"):
        if len(documents) == count:
            break
        if step.kind != "confirm":
            continue
        receipt = Receipt.model_validate_json(step.body)
        outcome = evaluate(receipt, account, program, now)
        result = build(receipt, outcome, "confirmed", program.version, summary) | {"refunds": []}
        documents.append((stored_lines(receipt, outcome), result, receipt.model_dump_json(exclude_defaults=True)))
    return documents


# what the ceiling stored before 2026-11-27 (10 lines of a few figures, a result of three keys): kept as a
# second figure, to show what the size of the stored documents costs PostgreSQL
SMALL_DOCUMENTS: Documents = [(
    [{"line_id": str(i), "quantity": "1", "returned": "0", "figures": {"amount": 1000}, "refunded": {}}
     for i in range(10)],
    {"receipt_id": "x", "status": "confirmed", "lines": [{"line_id": str(i)} for i in range(10)]},
    "{}",
)]


async def sql_ceiling(database_url: str, program: CompiledProgram, cards: list[str], seconds: float,
                      concurrencies: tuple[int, ...] = (4, 8, 16, 32)) -> dict[str, Any]:
    """Best transactions per second over `concurrencies`, each run for `seconds`, with register-mix
    documents; then the same at the best concurrency with SMALL_DOCUMENTS."""
    documents = mix_documents(program)
    best: dict[str, Any] = {"tps": 0.0}
    for concurrency in concurrencies:
        tps = await _transactions_per_second(database_url, program, cards, seconds, concurrency, documents)
        if tps > best["tps"]:
            best = {"tps": tps, "concurrency": concurrency}
    best["small_documents_tps"] = await _transactions_per_second(database_url, program, cards, seconds,
                                                                 best["concurrency"], SMALL_DOCUMENTS)
    return best


async def _transactions_per_second(database_url: str, program: CompiledProgram, cards: list[str], seconds: float,
                                   concurrency: int, documents: Documents) -> float:
    run = secrets.token_hex(4)  # receipt ids never met before, however often this runs on a database
    counter = itertools.count()
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=concurrency, max_size=concurrency,
                                     init=_init_connection, reset=keep_session,
                                     connection_class=Connection)
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> int:
        done = 0
        rng = random.Random()
        while time.perf_counter() < deadline:
            lines, result, body = rng.choice(documents)
            async with pool.acquire() as conn:
                await confirm_statements(conn, program, f"ceiling-{run}-{next(counter)}", rng.choice(cards),
                                         lines, result, body)
            done += 1
        return done

    done = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
    tps = done / (time.perf_counter() - started)
    await pool.close()
    return tps
