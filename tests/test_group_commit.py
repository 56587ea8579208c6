"""Group commit (app/receipts/batch.py) on real PostgreSQL and Redis, through the service layer.

A batch is formed for real: the worker's one batch in flight waits on an account row that the test holds
locked, the confirms sent meanwhile queue behind it, and when the lock goes they are written by one
transaction (the test checks that their rows share one transaction id). Each test compares what the batch
answered with the same receipts confirmed one at a time, in order, on a twin database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import pytest

from app.accounts import service as accounts
from app.accounts.schemas import AdjustmentRequest, RegisterRequest
from app.core import metrics
from app.core.auth import Principal
from app.core.context import AppContext
from app.core.db import _init_connection
from app.core.errors import AppError
from app.core.idempotency import fingerprint
from app.points.audit import audit
from app.receipts import refunds, service
from app.receipts.batch import Committer
from app.receipts.schemas import RefundRequest
from rules import Receipt, compile_program, load_program
from tests.conftest import Servers
from tests.inprocess import app_context
from tests.programs import program
from tests.support import card, line, receipt

PROGRAM = compile_program(load_program(program(pending_days=0, max_redeem_percent=50), "yaml"), 1)
ADMIN = Principal("test", "admin", None)


def body(lines: list[dict[str, Any]], card_number: str | None = None, **fields: Any) -> Receipt:
    return Receipt.model_validate(receipt(lines, card_number, **fields))


@asynccontextmanager
async def service_on(servers: Servers, url: str) -> AsyncIterator[AppContext]:
    async with app_context(url, servers.redis_url, f"t{servers.run_id}gc{url[-6:]}:", PROGRAM) as ctx:
        yield ctx


async def given(ctx: AppContext, points: dict[str, int]) -> None:
    """Cards registered with these points (none: registered only)."""
    for number, amount in points.items():
        await accounts.register(ctx, RegisterRequest(card=number))
        if amount:
            await accounts.adjust(ctx, number, AdjustmentRequest(points=amount, reason="test"), "test")


@asynccontextmanager
async def batch_held(ctx: AppContext, url: str, blocker: str) -> AsyncIterator[asyncio.Task[Any]]:
    """A batch in flight, held on `blocker`'s account, which a second connection keeps locked until the
    block ends; yields the held confirm."""
    holder = await asyncpg.connect(url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM accounts WHERE card = $1 FOR UPDATE", blocker)
            yield asyncio.create_task(service.confirm(ctx, body([line("1", 1000)], blocker), ADMIN))
    finally:
        await holder.close()


async def in_one_batch(ctx: AppContext, url: str, blocker: str, receipts: Sequence[Receipt]) -> list[Any]:
    """Confirm `receipts` in one batch: the batch ahead of them waits on `blocker`'s account, which this
    holds locked until they have all queued. Returns each answer or error, in order."""
    async with batch_held(ctx, url, blocker) as ahead:
        await asyncio.sleep(0.3)
        queued = [asyncio.create_task(service.confirm(ctx, r, ADMIN)) for r in receipts]
        await asyncio.sleep(0.3)
        assert not ahead.done() and not any(task.done() for task in queued)
    await ahead
    return list(await asyncio.gather(*queued, return_exceptions=True))


async def one_at_a_time(ctx: AppContext, receipts: Sequence[Receipt]) -> list[Any]:
    answers: list[Any] = []
    for r in receipts:
        try:
            answers.append(await service.confirm_alone(ctx, r, ADMIN, fingerprint(r)))
        except AppError as error:
            answers.append(error)
    return answers


async def transactions_of(url: str, receipt_ids: list[str]) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT xmin::text AS tx FROM receipts WHERE receipt_id = ANY($1::text[])",
                                receipt_ids)
        assert len(rows) == len(receipt_ids)
        return {row["tx"] for row in rows}
    finally:
        await conn.close()


async def audited(url: str) -> list[dict[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        return await audit(conn)
    finally:
        await conn.close()


def same(answers: list[Any]) -> list[Any]:
    """Answers compared across databases: results as they are, errors by status and code."""
    return [(a.status, a.code) if isinstance(a, AppError) else a for a in answers]


@pytest.fixture
def twins(servers: Servers) -> tuple[str, str]:
    return servers.new_database(), servers.new_database()


def test_receipts_of_one_account_in_one_batch_see_each_other(servers: Servers, twins: tuple[str, str]) -> None:
    """Two redemptions of one card share its 800.00 points (the second gets what the first left and
    accrued), a third
    receipt of it counts both purchases for its tier; a new card enrolled twice in the batch gets one welcome;
    cardless receipts ride along. Every answer equals confirming them one at a time."""
    blocker, spender, newcomer = card(), card(), card()
    receipts = [
        body([line("1", 120000)], spender, redeem_points=50000),
        body([line("1", 100000)], spender, redeem_points=50000),
        body([line("1", 30000)], spender),
        body([line("1", 20000)], newcomer),
        body([line("1", 15000)]),
        body([line("1", 25000)], newcomer),
    ]
    sizes_before = metrics.CONFIRM_BATCH_SIZE.collect()[0].samples

    async def run() -> tuple[list[Any], list[Any]]:
        batched_url, alone_url = twins
        async with service_on(servers, batched_url) as ctx:
            await given(ctx, {blocker: 0, spender: 80000})
            batched = await in_one_batch(ctx, batched_url, blocker, receipts)
        async with service_on(servers, alone_url) as ctx:
            await given(ctx, {blocker: 0, spender: 80000})
            await service.confirm_alone(ctx, body([line("1", 1000)], blocker), ADMIN, b"x")
            alone = await one_at_a_time(ctx, receipts)
        assert len(await transactions_of(batched_url, [r.receipt_id for r in receipts])) == 1
        assert await audited(batched_url) == []
        return batched, alone

    batched, alone = asyncio.run(run())
    assert same(batched) == same(alone)
    redeemed = [result["totals"]["points_redeemed"] for result, _ in batched[:2]]
    # 800.00 available; the first receipt redeems 500.00 and accrues 3 % of the 700.00 paid (points are
    # available at once): the second sees 300.00 + 21.00
    assert redeemed == [50000, 32100]
    assert batched[2][0]["account"]["available"] == alone[2][0]["account"]["available"]
    assert [replayed for _, replayed in batched] == [False] * len(receipts)
    assert sizes_before != metrics.CONFIRM_BATCH_SIZE.collect()[0].samples


def test_a_receipt_failing_its_own_check_leaves_its_neighbours(servers: Servers, twins: tuple[str, str]) -> None:
    """A line selling a certificate that was never issued: 409 for that receipt alone, nothing of it is
    written (its receipt id stays free), and the receipts around it commit."""
    blocker, buyer = card(), card()
    bad = body([line("1", 50000, gift_certificate="GC-NEVER-ISSUED")], buyer, receipt_id="gc-bad-1")
    receipts = [body([line("1", 40000)], buyer), bad, body([line("1", 60000)], buyer)]

    async def run() -> tuple[list[Any], list[Any], Any]:
        batched_url, alone_url = twins
        async with service_on(servers, batched_url) as ctx:
            await given(ctx, {blocker: 0, buyer: 0})
            batched = await in_one_batch(ctx, batched_url, blocker, receipts)
            retried = await service.confirm(ctx, body([line("1", 10000)], buyer, receipt_id="gc-bad-1"), ADMIN)
        async with service_on(servers, alone_url) as ctx:
            await given(ctx, {blocker: 0, buyer: 0})
            alone = await one_at_a_time(ctx, receipts)
        assert await audited(batched_url) == []
        return batched, alone, retried

    batched, alone, retried = asyncio.run(run())
    assert same(batched) == same(alone)
    assert isinstance(batched[1], AppError) and batched[1].code == "gift_certificate_not_sellable"
    assert batched[0][0]["status"] == batched[2][0]["status"] == "confirmed"
    assert retried[1] is False and retried[0]["totals"]["amount"] == 10000  # the id was not taken


def test_a_receipt_id_twice_in_a_queue_is_a_replay_or_a_conflict(servers: Servers, twins: tuple[str, str]) -> None:
    blocker, buyer = card(), card()
    first = body([line("1", 40000)], buyer, receipt_id="dup-1")
    other_body = body([line("1", 41000)], buyer, receipt_id="dup-1")

    async def run() -> list[Any]:
        url, _ = twins
        async with service_on(servers, url) as ctx:
            await given(ctx, {blocker: 0, buyer: 0})
            answers = await in_one_batch(ctx, url, blocker, [first, first, other_body])
        assert await audited(url) == []
        return answers

    (result, replayed), (again, replayed_again), conflict = asyncio.run(run())
    assert (replayed, replayed_again) == (False, True)
    assert again == result
    assert isinstance(conflict, AppError) and conflict.code == "idempotency_conflict"


def test_a_batch_whose_transaction_fails_goes_through_one_receipt_at_a_time(servers: Servers,
                                                                            twins: tuple[str, str]) -> None:
    """A trigger refuses any statement that writes more than one receipt: the batch fails as a whole,
    then each receipt is confirmed alone, once, and answers as if nothing had happened."""
    blocker, buyer, other = card(), card(), card()
    receipts = [body([line("1", 40000)], buyer, redeem_points=1000), body([line("1", 30000)], other),
                body([line("1", 20000)]), body([line("1", 10000)], buyer)]
    fallbacks_before = metrics.CONFIRM_BATCH_FALLBACKS._value.get()

    async def run() -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
        batched_url, alone_url = twins
        conn = await asyncpg.connect(batched_url)
        try:
            await conn.execute("""
                CREATE FUNCTION one_receipt_a_statement() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF (SELECT count(*) FROM written) > 1 THEN RAISE EXCEPTION 'one receipt a statement'; END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER one_receipt_a_statement AFTER INSERT ON receipts REFERENCING NEW TABLE AS written
                    FOR EACH STATEMENT EXECUTE FUNCTION one_receipt_a_statement();
            """)
        finally:
            await conn.close()
        async with service_on(servers, batched_url) as ctx:
            await given(ctx, {blocker: 0, buyer: 5000, other: 0})
            batched = await in_one_batch(ctx, batched_url, blocker, receipts)
        async with service_on(servers, alone_url) as ctx:
            await given(ctx, {blocker: 0, buyer: 5000, other: 0})
            await service.confirm_alone(ctx, body([line("1", 1000)], blocker), ADMIN, b"x")
            alone = await one_at_a_time(ctx, receipts)
        conn = await asyncpg.connect(batched_url)
        try:
            entries = [dict(r) for r in await conn.fetch(
                "SELECT receipt_id, kind, count(*) AS n FROM ledger WHERE receipt_id = ANY($1::text[])"
                " GROUP BY receipt_id, kind", [r.receipt_id for r in receipts])]
        finally:
            await conn.close()
        assert len(await transactions_of(batched_url, [r.receipt_id for r in receipts])) == len(receipts)
        assert await audited(batched_url) == []
        return batched, alone, entries

    batched, alone, entries = asyncio.run(run())
    assert metrics.CONFIRM_BATCH_FALLBACKS._value.get() == fallbacks_before + 1
    assert same(batched) == same(alone)
    assert [replayed for _, replayed in batched] == [False] * len(receipts)
    assert entries and all(e["n"] == 1 for e in entries)  # each receipt's accrual and redemption once


def test_a_full_queue_and_a_long_wait_answer_503_and_change_nothing(servers: Servers,
                                                                    twins: tuple[str, str]) -> None:
    """With one batch in flight (held on a locked account) and a queue of one: the next confirm waits, the
    one after it is refused at once (`overloaded`); a confirm that no batch takes within the acquire timeout
    is refused (`database_unavailable`). Neither leaves a claim: the same ids go through afterwards."""
    blocker, buyer = card(), card()
    waiting, refused = body([line("1", 1000)], buyer), body([line("1", 2000)], buyer)

    async def run() -> tuple[Any, Any, Any, list[Any]]:
        url, _ = twins
        async with service_on(servers, url) as ctx:
            await given(ctx, {blocker: 0, buyer: 0})
            ctx.confirms = Committer(ctx, max_batch=64, in_flight=1, queue_max=1)
            async with batch_held(ctx, url, blocker) as ahead:
                await asyncio.sleep(0.2)
                queued = asyncio.create_task(service.confirm(ctx, waiting, ADMIN))
                await asyncio.sleep(0.05)
                overloaded = await asyncio.gather(service.confirm(ctx, refused, ADMIN), return_exceptions=True)
                timed_out = await asyncio.gather(queued, return_exceptions=True)  # waits the acquire timeout
            await ahead
            again = [await service.confirm(ctx, r, ADMIN) for r in (waiting, refused)]
        return overloaded[0], timed_out[0], ahead.result(), again

    overloaded, timed_out, ahead, again = asyncio.run(run())
    assert isinstance(overloaded, AppError) and (overloaded.status, overloaded.code) == (503, "overloaded")
    assert isinstance(timed_out, AppError) and (timed_out.status, timed_out.code) == (503, "database_unavailable")
    assert ahead[1] is False
    assert [(result["status"], replayed) for result, replayed in again] == [("confirmed", False)] * 2


def untimed(value: Any) -> Any:
    """`value` without its moments (`…_at`), which differ from one run to the next."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not k.endswith("_at")}
    if isinstance(value, list | tuple):
        return [untimed(v) for v in value]
    return value


def test_rows_written_as_values_lists_give_the_same_results(servers: Servers, twins: tuple[str, str]) -> None:
    """On Citus a batch writes its rows as multi-row VALUES lists, not arrays (app/core/rowsets.py). The same
    receipts in one batch and a refund, with connections set to write that way on this server, answer and
    store what the array form answers and stores, and the audit is clean."""
    blocker, spender, newcomer = card(), card(), card()
    receipts = [body([line("1", 120000), line("2", 3000, quantity="2")], spender, redeem_points=50000),
                body([line("1", 30000)], spender), body([line("1", 20000)], newcomer), body([line("1", 15000)]),
                body([line("1", 50000, gift_certificate="GC-NEVER-ISSUED")], spender)]  # fails alone: claim dropped

    async def as_values(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        conn.rows_as_values = True

    async def run(url: str, values: bool) -> tuple[list[Any], tuple[Any, Any], list[dict[str, Any]]]:
        async with app_context(url, servers.redis_url, f"t{servers.run_id}rv{url[-6:]}:", PROGRAM,
                               **({"init": as_values} if values else {})) as ctx:
            await given(ctx, {blocker: 0, spender: 80000})
            answers = await in_one_batch(ctx, url, blocker, receipts)
            refunded = await refunds.refund(ctx, receipts[0].receipt_id,
                                            RefundRequest(refund_id="r1", lines=[{"line_id": "2", "quantity": "1"}]),
                                            ADMIN)
            cardless = await refunds.refund(ctx, receipts[3].receipt_id, RefundRequest(refund_id="r2"), ADMIN)
        conn = await asyncpg.connect(url)
        try:
            stored = [{**r, **{k: orjson.loads(r[k]) for k in ("lines", "links", "result")}} for r in await conn.fetch(
                "SELECT r.receipt_id, r.status, r.lines, r.links, r.result, r.purchase_amount,"
                " (SELECT array_agg((l.kind, l.points) ORDER BY l.id) FROM ledger l WHERE l.receipt_id = r.receipt_id)"
                " ::text AS entries FROM receipts r WHERE r.receipt_id = ANY($1::text[]) ORDER BY r.receipt_id",
                [r.receipt_id for r in receipts])]
        finally:
            await conn.close()
        assert await audited(url) == []
        return answers, (refunded, cardless), stored

    values_url, arrays_url = twins
    as_values_answers, as_values_refund, as_values_rows = asyncio.run(run(values_url, True))
    arrays_answers, arrays_refund, arrays_rows = asyncio.run(run(arrays_url, False))
    assert same(as_values_answers) == same(arrays_answers)
    assert untimed(as_values_refund) == untimed(arrays_refund)
    assert untimed(as_values_rows) == untimed(arrays_rows)
    assert all(isinstance(row["lines"], list) and isinstance(row["result"], dict) for row in as_values_rows)
    refunded_row = next(row for row in as_values_rows if row["receipt_id"] == receipts[0].receipt_id)
    assert refunded_row["entries"] and as_values_refund[0][0]["status"] == "partially_refunded"
    assert as_values_refund[1][0]["status"] == "refunded" and len(as_values_rows) == len(receipts) - 1
    assert isinstance(as_values_answers[-1], AppError)
