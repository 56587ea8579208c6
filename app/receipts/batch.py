"""Group commit: the confirms that arrive while a worker's batches are in flight are written together, by
one transaction with a statement per step, and each is answered only after that COMMIT.

A quiet worker sends batches of one: nothing waits for a timer. The transaction takes its locks in the one
order every transaction takes (receipt claims by id, accounts by id, new cards, coupon codes, certificates
by code), so batches of several workers and instances never deadlock on each other, then evaluates the
receipts in arrival order on the state in memory: two receipts of one account see each other's points,
purchases, coupon uses and certificate balances.

A receipt that fails on its own (409 `gift_certificate_not_sellable`, `idempotency_conflict`) is answered
on its own and leaves nothing in the batch: its claim is dropped, its neighbours commit. A batch whose
transaction fails for any other reason than a lost database is retried one receipt at a time
(`service.confirm_alone`), and so is one that a Citus coordinator failed because a worker node is down (the
receipts whose shards are on the other nodes go through); a lost database (or COMMIT) answers 503 for each,
and a resend is then a replay or is applied once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from app.accounts import repository as accounts
from app.accounts.repository import AccountRow
from app.accounts.service import create as create_account
from app.accounts.view import Purchase, view_of, with_purchase
from app.accounts.write import AccountWrite
from app.core import metrics
from app.core.auth import Principal
from app.core.context import AppContext
from app.core.db import node_unreachable, rows_as_values
from app.core.errors import AppError, conflict, unavailable
from app.points.book import Book
from app.points.ids import Ids
from rules import Lot, Outcome, Receipt, evaluate

from . import instruments, repository, service
from .result import account_summary, build

log = logging.getLogger("bonus_engine.confirms")

Answer = tuple[dict[str, Any], bool]  # (result, replayed?)

# ids a batch reserves per receipt before it evaluates (a refill takes more when bonus grants need them)
_ENTRIES_PER_RECEIPT = 3
_LOTS_PER_RECEIPT = 2


@dataclass(eq=False)
class _Confirm:
    receipt: Receipt
    principal: Principal
    fingerprint: bytes
    answer: asyncio.Future[Answer] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    expiry: asyncio.TimerHandle | None = None  # the 503 it gets if no batch takes it in time
    queued_at: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def settle(self, answer: Answer | BaseException) -> None:
        if self.answer.done():  # the request was cancelled (its client went away): nothing to tell
            return
        if isinstance(answer, BaseException):
            self.answer.set_exception(answer)
        else:
            self.answer.set_result(answer)


class Committer:
    """A worker's confirm queue. Up to `in_flight` batches run at once; a confirm that finds them all busy
    waits, and joins the next batch with everything else that waits (up to `max_batch`)."""

    def __init__(self, ctx: AppContext, *, max_batch: int, in_flight: int, queue_max: int):
        self._ctx = ctx
        self._max_batch = max_batch
        self._in_flight_max = in_flight
        self._queue_max = queue_max
        # a confirm waits for a batch to take it no longer than a request waits for a pooled connection
        self._wait_s = ctx.settings.db_acquire_timeout_ms / 1000
        self._waiting: list[_Confirm] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def confirm(self, receipt: Receipt, principal: Principal, fingerprint: bytes) -> Answer:
        if len(self._waiting) >= self._queue_max:
            metrics.CONFIRM_QUEUE_REFUSED.labels("full").inc()
            raise unavailable("overloaded", f"over {self._queue_max} confirms are waiting in this worker")
        item = _Confirm(receipt, principal, fingerprint)
        self._waiting.append(item)
        self._start()
        if not item.answer.done() and item in self._waiting:
            item.expiry = asyncio.get_running_loop().call_later(self._wait_s, self._expire, item)
        try:
            return await item.answer
        except asyncio.CancelledError:
            item.answer.cancel()  # its client went away: no one reads the answer
            raise

    def _expire(self, item: _Confirm) -> None:
        """No batch took it in time (the database is slow or stuck): a fast 503, not a pile-up; a batch that
        has it is bounded by its statements' timeout instead."""
        if item in self._waiting:
            self._waiting.remove(item)
            metrics.CONFIRM_QUEUE_REFUSED.labels("waited").inc()
            item.settle(unavailable("database_unavailable", "all database connections are busy"))

    def _start(self) -> None:
        while self._waiting and self._in_flight < self._in_flight_max:
            batch = self._take()
            self._in_flight += 1
            task = asyncio.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[_Confirm]:
        """The next batch, in arrival order; a receipt id already in it waits for the next one, where it is
        a replay of the first (or its conflict)."""
        batch: list[_Confirm] = []
        ids: set[str] = set()
        rest: list[_Confirm] = []
        for item in self._waiting:
            if len(batch) < self._max_batch and item.receipt.receipt_id not in ids:
                if item.expiry is not None:
                    item.expiry.cancel()
                batch.append(item)
                ids.add(item.receipt.receipt_id)
            else:
                rest.append(item)
        self._waiting = rest
        return batch

    async def _run(self, batch: list[_Confirm]) -> None:
        started = asyncio.get_running_loop().time()
        try:
            metrics.CONFIRM_BATCH_SIZE.observe(len(batch))
            await _commit(self._ctx, batch)
        except AppError as error:  # the database is gone or too slow: each request may be retried
            if node_unreachable(error) and len(batch) > 1:
                # one Citus worker node is down: the receipts whose shards are all on the others go through
                await self._one_at_a_time(batch)
                return
            for item in batch:
                item.settle(error)
            # those that were waiting already when this batch started would wait for the same database:
            # a fast 503 for them too, instead of piling them onto it in the next batch
            behind = [item for item in self._waiting if item.queued_at <= started]
            self._waiting = [item for item in self._waiting if item.queued_at > started]
            for item in behind:
                if item.expiry is not None:
                    item.expiry.cancel()
                metrics.CONFIRM_QUEUE_REFUSED.labels("waited").inc()
                item.settle(error)
        except Exception as error:
            log.warning("a batch of %d confirms failed (%s: %s); confirming them one at a time",
                        len(batch), type(error).__name__, error)
            await self._one_at_a_time(batch)
        finally:
            self._in_flight -= 1
            # the next batch forms one turn of the event loop later: requests whose bytes have arrived
            # meanwhile are parsed and join it, instead of waiting for the batch after it
            asyncio.get_running_loop().call_soon(self._start)

    async def _one_at_a_time(self, batch: list[_Confirm]) -> None:
        metrics.CONFIRM_BATCH_FALLBACKS.inc()
        await asyncio.gather(*(self._alone(item) for item in batch))

    async def _alone(self, item: _Confirm) -> None:
        try:
            item.settle(await service.confirm_alone(self._ctx, item.receipt, item.principal, item.fingerprint))
        except Exception as error:
            item.settle(error)

    async def drain(self) -> None:
        """Wait for the batches in flight (at shutdown, before the pool closes)."""
        while self._tasks or self._waiting:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:  # the next batch is about to form (call_soon)
                await asyncio.sleep(0)


@dataclass
class _Account:
    """An account locked by the batch: its row, its book (a blocked account's writes no points, but its
    version moves: its purchases change its view), its purchase facts as of `now`, and the batch's
    receipts of it so far."""

    row: AccountRow
    book: Book
    facts_now: Mapping[str, Any]
    purchases: list[Purchase] = field(default_factory=list)


@dataclass
class _State:
    """What the batch holds under its locks."""

    now: datetime
    accounts: dict[str, _Account]  # by card
    facts_at: dict[_Confirm, Mapping[str, Any]]  # purchase facts as of each receipt's issued_at, from the table


async def _commit(ctx: AppContext, batch: list[_Confirm]) -> None:
    program = ctx.programs.current
    answers: dict[_Confirm, Answer | BaseException] = {}
    done: list[tuple[_Confirm, Outcome]] = []  # (confirm, outcome) of the receipts written
    async with AccountWrite.begin(ctx, generic_plans=True) as write:
        conn = write.conn
        claimed = await repository.claim_many(
            conn, [(i.receipt.receipt_id, i.fingerprint, i.receipt.issued_at) for i in batch])
        await _replays(conn, [i for i in batch if i.receipt.receipt_id not in claimed], answers)
        fresh = [i for i in batch if i.receipt.receipt_id in claimed]
        if fresh:
            rows = await _lock_accounts(write, [i.receipt for i in fresh])
            await instruments.lock(conn, [i.receipt for i in fresh], program)
            state = await _open(write, rows, fresh)
            written: list[repository.Confirmed] = []
            for item in fresh:
                try:
                    row, outcome = await _apply(write, item, state)
                except AppError as error:  # its own failure: nothing of it was written
                    answers[item] = error
                    continue
                written.append(row)
                answers[item] = (row.result, False)
                done.append((item, outcome))
            unclaimed = [i.receipt.receipt_id for i in fresh if isinstance(answers[i], BaseException)]
            await write.flush(lambda first: repository.confirmed_ctes(written, unclaimed, first,
                                                                      rows_as_values(conn)))
    # committed, and the accounts' views cached (before the answers: a read right after a confirm shows it)
    for item in batch:
        item.settle(answers[item])
    await service.confirmed(ctx, [(item.principal, outcome) for item, outcome in done])


async def _replays(conn: asyncpg.Connection, items: list[_Confirm], answers: dict[_Confirm, Any]) -> None:
    """Receipt ids claimed before: the stored result for the same body, 409 for another."""
    if not items:
        return
    stored = await repository.get_many(conn, [i.receipt.receipt_id for i in items])
    for item in items:
        row = stored[item.receipt.receipt_id]  # a committed claim always has its receipt
        if row["fingerprint"] != item.fingerprint:
            answers[item] = conflict("idempotency_conflict", "this receipt_id was confirmed with another body")
        else:
            metrics.REPLAYS.labels("confirm").inc()
            answers[item] = (dict(row["result"]), True)


async def _lock_accounts(write: AccountWrite, receipts: list[Receipt]) -> dict[str, AccountRow]:
    """Lock the receipts' accounts in id order, then enrol new cards in card order (when the program
    enrols on the first receipt)."""
    cards = sorted({r.card for r in receipts if r.card is not None})
    rows = await write.lock_cards(cards)
    if write.program.program.points.auto_enroll:
        for card in (card for card in cards if card not in rows):
            account = await create_account(write, card, None) or await write.lock(card)  # or enrolled first
            assert account is not None
            rows[card] = account
    return rows


async def _open(write: AccountWrite, rows: dict[str, AccountRow], fresh: list[_Confirm]) -> _State:
    """Books of the locked accounts and the purchase facts the receipts and views need: one statement."""
    conn, program, now = write.conn, write.program, write.locked()
    if not rows:
        return _State(now, {}, {})
    account_ids = [row.id for row in rows.values()]
    carded = [item for item in fresh if item.receipt.card in rows]
    lots, facts, entry_ids, lot_ids = await accounts.locked_state_many(
        conn, account_ids, [(account_id, now) for account_id in account_ids]
        + [(rows[item.receipt.card].id, item.receipt.issued_at) for item in carded if item.receipt.card],
        program.program.tiers.window_days, _ENTRIES_PER_RECEIPT * len(fresh), _LOTS_PER_RECEIPT * len(fresh))
    ids = Ids(conn)
    ids.add(entry_ids, lot_ids)
    held: dict[str, _Account] = {}
    for (card, row), facts_now in zip(rows.items(), facts, strict=False):
        book = await write.open(row, [Lot(*lot) for lot in lots[row.id]], ids, settle=row.active)
        held[card] = _Account(row, book, facts_now)
    return _State(now, held, dict(zip(carded, facts[len(rows):], strict=True)))


async def _apply(write: AccountWrite, item: _Confirm, state: _State) -> tuple[repository.Confirmed, Outcome]:
    """Evaluate one receipt on the batch's state and write it into that state: (its row, its outcome)."""
    conn, program, receipt, now = write.conn, write.program, item.receipt, state.now
    window_days = program.program.tiers.window_days
    account = state.accounts.get(receipt.card) if receipt.card else None
    account_id = account.row.id if account else None
    facts = await instruments.gather(conn, receipt, program, account_id, now)
    if account is None:
        outcome = evaluate(receipt, service.state_of(None, receipt, program, None, None), program, now, facts)
    else:
        purchases = _counted(state.facts_at[item], account.purchases, receipt.issued_at, window_days)
        outcome = evaluate(receipt, service.state_of(account.row, receipt, program, account.book, purchases),
                           program, now, facts)
    links = await instruments.apply(conn, receipt, outcome, account_id)
    summary = None
    if account is not None:
        if account.row.active:
            links = links.with_points(await service.write_points(account.book, receipt, outcome))
        account.purchases.append(Purchase(receipt.issued_at, outcome.purchase_amount))
        view, changes_at = view_of(write.written(account.row), program, now, account.book.live_lots(),
                                   _counted(account.facts_now, account.purchases, now, window_days))
        write.keep(account.row.id, view, changes_at)
        summary = account_summary(account.row.card, view, outcome.tier_applied)
    result = build(receipt, outcome, "confirmed", program.version, summary)
    result["refunds"] = []
    return service.confirmed_row(receipt, outcome, account_id, item.fingerprint, program.version, links,
                                 result), outcome


def _counted(facts: Mapping[str, Any], purchases: list[Purchase], at: datetime,
             window_days: int) -> Mapping[str, Any]:
    """Purchase facts as of `at` once the batch's earlier receipts of the account are written."""
    for purchase in purchases:
        facts = with_purchase(facts, purchase, at, window_days)
    return facts
