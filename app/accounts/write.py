"""The unit of work of a transaction that writes accounts.

Every write of an account follows one sequence, kept here once:
1. lock its row (several: in id order, the one order every transaction takes);
2. read `now` after the locks: balances are as of the moment they are held, not of the request's arrival;
3. open its book (its lots, read under the lock or by the caller with its other facts) and settle its debt
   from the points that have become available;
4. make the ledger entries, and flush every book of the transaction in one statement (with the caller's
   own rows: a batch's receipts, a refund);
5. view the row as the write leaves it (`AccountRow.written`), without reading it again;
6. once the transaction has committed, and only then, put the views in the cache.

Confirm (alone and batched), refund and cancel, adjust, block, register, the birthday bonus and the expiry
sweep all go through it:

    async with AccountWrite.begin(ctx) as write:
        account = await write.lock(card)
        book = await write.open(account)
        await book.grant(...)
        await write.flush()
        view = await write.view(account)
    # committed, and the view is cached
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from app.core.context import AppContext, utcnow
from app.points.book import Book, MoreCtes, flush_books
from app.points.ids import Ids
from rules import CompiledProgram, Lot

from . import repository
from .repository import AccountRow
from .view import Purchase, account_view


class AccountWrite:
    """The accounts one transaction writes: their books, their new versions, and their views to cache.

    `clock` gives `now` after each lock: the time of day for a request, the sweep's moment for a sweep (the
    expiry and birthday sweeps judge every account as of one `now`)."""

    def __init__(self, conn: asyncpg.Connection, program: CompiledProgram | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.conn = conn
        self._program = program
        self._clock = clock
        self.now = clock()
        self.books: dict[int, Book] = {}  # account id → its book
        self.versions: dict[int, int] = {}  # account id → its version as this transaction writes it
        self._views: dict[int, tuple[dict[str, Any], datetime | None]] = {}  # account id → (view, changes_at)

    @classmethod
    @asynccontextmanager
    async def begin(cls, ctx: AppContext, *, clock: Callable[[], datetime] = utcnow,
                    generic_plans: bool = False) -> AsyncIterator[AccountWrite]:
        """A transaction and its unit of work; the views it made are cached once it has committed (a read
        right after the write shows it), never when it fails."""
        async with ctx.db.transaction(generic_plans=generic_plans) as conn:
            write = cls(conn, ctx.programs.current, clock)
            yield write
        if write._views:
            await ctx.cache_accounts([(view, write.versions[account_id], changes_at)
                                      for account_id, (view, changes_at) in write._views.items()])

    @property
    def program(self) -> CompiledProgram:
        assert self._program is not None, "a unit of work without a program makes no views"
        return self._program

    def locked(self) -> datetime:
        """Every lock is held: `now` is read again, after waiting for them (a confirm also waits for its
        coupon and certificate locks)."""
        self.now = self._clock()
        return self.now

    async def lock(self, card: str) -> AccountRow | None:
        account = await repository.lock(self.conn, card)
        self.locked()
        return account

    async def lock_id(self, account_id: int) -> AccountRow:
        account = await repository.lock_by_id(self.conn, account_id)
        self.locked()
        return account

    async def lock_cards(self, cards: list[str]) -> dict[str, AccountRow]:
        """The accounts of these cards, locked in id order; cards without one are left out."""
        accounts = await repository.lock_many(self.conn, cards) if cards else {}
        self.locked()
        return accounts

    async def open(self, account: AccountRow, lots: list[Lot] | None = None, ids: Ids | None = None, *,
                   settle: bool = True) -> Book:
        """The account's book: its lots with points left, read now under the lock, or `lots` the caller read
        with its other facts (with `ids` it reserved there); its debt settled from the points that have
        become available, unless `settle` is False (a blocked account's, or one whose new points settle it)."""
        if lots is None:
            book = await Book.open(self.conn, account.id, account.debt, self.now)
        else:
            book = Book(self.conn, account.id, lots, account.debt, self.now, ids)
        if settle:
            book.settle()
        self.books[account.id] = book
        return book

    async def flush(self, also: MoreCtes | None = None) -> dict[int, int]:
        """Every book's rows in one statement, with `also`'s; returns each account's new version."""
        self.versions.update(await flush_books(self.conn, list(self.books.values()), also))
        return self.versions

    def written(self, account: AccountRow) -> AccountRow:
        """The row as this transaction leaves it: its book's debt, and its new version once flushed."""
        book = self.books.get(account.id)
        return account.written(book.debt if book is not None else account.debt, self.versions.get(account.id))

    async def view(self, account: AccountRow, purchase: Purchase | None = None) -> dict[str, Any]:
        """The account's view as this transaction leaves it, cached after the commit. `purchase`: a receipt
        written after the view (it carries the view in its result), counted for the tier in memory."""
        book = self.books.get(account.id)
        row = self.written(account)
        view, changes_at = await account_view(self.conn, row, self.program, self.now,
                                              book.live_lots() if book is not None else None, purchase)
        self.versions.setdefault(account.id, row.version)  # written by another statement, or not at all
        self.keep(account.id, view, changes_at)
        return view

    def keep(self, account_id: int, view: dict[str, Any], changes_at: datetime | None) -> None:
        """A view the caller made (from facts it read with others), cached after the commit with the version
        the flush gives; the last one kept of an account wins."""
        self._views[account_id] = (view, changes_at)
