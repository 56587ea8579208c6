"""An account's points under its row lock: the pure lot moves of `rules`, written to the ledger.

A book makes its entries and lots in memory, with ids reserved from their sequences (`Ids`), and
`flush` writes everything in one statement: entries, new lots, moves, changed lots and the account. Many
books of one transaction (a batch of confirms) flush together, one statement for all of them.

Every ledger entry's points equal the sum of its lot moves, each lot's remaining equals the sum of
the moves into and out of it, and the account's debt equals minus its debt moves. `audit` checks all
three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.core.db import rows_as_values
from app.core.rowsets import MAX_PARAMETERS, values_list
from rules import Lot, Move, return_points, settle_debt, take, take_for_reversal

from .ids import Ids

# Every book's rows in one round trip. The CTEs write other tables than the final UPDATE, and each
# table once, so none needs to see another's rows; the foreign keys are checked at the end of the
# statement. Moves keep the order they were made in (refunds read them back by id). An UPDATE names its
# accounts with `= ANY` as well as in its join, and says when there are none: Citus routes it to their
# shards only (the join alone, or `= ANY` of an empty array, sends it to every shard, and fails while any
# worker node is down).
_FLUSH_CTES = """
entries AS (
    INSERT INTO ledger (id, account_id, kind, points, receipt_id, refund_id, reason, author, lot_id,
                        available_at, expires_at, created_at)
    SELECT e.id, e.account_id, e.kind, e.points, e.receipt_id, e.refund_id, e.reason, e.author, e.lot_id,
           e.available_at, e.expires_at, coalesce(e.created_at, now())
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::bigint[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])
         AS e(id, account_id, kind, points, receipt_id, refund_id, reason, author, lot_id, available_at,
              expires_at, created_at)
), new_lots AS (
    INSERT INTO lots (id, account_id, amount, remaining, available_at, expires_at)
    SELECT * FROM unnest($13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::timestamptz[],
                         $18::timestamptz[])
), moves AS (
    INSERT INTO lot_moves (account_id, entry_id, lot_id, points)
    SELECT m.account_id, m.entry_id, m.lot_id, m.points
    FROM unnest($19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[]) WITH ORDINALITY
         AS m(account_id, entry_id, lot_id, points, n)
    ORDER BY m.n
), """
_FLUSH_CHANGED = """changed AS (
    UPDATE lots SET remaining = v.remaining
    FROM unnest({p0}::bigint[], {p1}::bigint[], {p2}::bigint[]) AS v(account_id, id, remaining)
    WHERE lots.account_id = v.account_id AND lots.id = v.id AND lots.account_id = ANY({p0}::bigint[])
      AND cardinality({p0}::bigint[]) > 0
)"""
_FLUSH_ACCOUNTS = """
UPDATE accounts SET debt = a.debt, version = accounts.version + 1
FROM unnest({p0}::bigint[], {p1}::bigint[]) AS a(id, debt)
WHERE accounts.id = a.id AND accounts.id = ANY({p0}::bigint[]) AND cardinality({p0}::bigint[]) > 0
RETURNING accounts.id, accounts.version
"""
_FLUSH = (_FLUSH_CTES + _FLUSH_CHANGED.format(p0="$23", p1="$24", p2="$25"),
          _FLUSH_ACCOUNTS.format(p0="$26", p1="$27"))
# On Citus the new rows go in as multi-row VALUES (app/core/rowsets.py): the table, its columns, and the
# expression of each value
_VALUES_INSERTS = (
    ("entries", "ledger (id, account_id, kind, points, receipt_id, refund_id, reason, author, lot_id, available_at,"
     " expires_at, created_at)",
     ("{}::bigint", "{}::bigint", "{}::text", "{}::bigint", "{}::text", "{}::text", "{}::text", "{}::text",
      "{}::bigint", "{}::timestamptz", "{}::timestamptz", "coalesce({}::timestamptz, now())")),
    ("new_lots", "lots (id, account_id, amount, remaining, available_at, expires_at)",
     ("{}::bigint", "{}::bigint", "{}::bigint", "{}::bigint", "{}::timestamptz", "{}::timestamptz")),
    ("moves", "lot_moves (account_id, entry_id, lot_id, points)",
     ("{}::bigint", "{}::bigint", "{}::bigint", "{}::bigint")),
)
# More CTEs for the flush's statement to write: given the number of their first parameter, their text and
# arguments
MoreCtes = Callable[[int], tuple[str, list[Any]]]


@dataclass(frozen=True, slots=True)
class Entry:
    """A ledger entry not written yet; `lot_id` names the lot a grant created."""

    id: int
    kind: str
    points: int
    receipt_id: str | None = None
    refund_id: str | None = None
    reason: str | None = None
    author: str | None = None
    lot_id: int | None = None
    available_at: datetime | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None  # None: the transaction's time


class Book:
    def __init__(self, conn: asyncpg.Connection, account_id: int, lots: list[Lot], debt: int, now: datetime,
                 ids: Ids | None = None):
        self.conn = conn
        self.account_id = account_id
        self.lots = lots
        self.debt = debt
        self.now = now
        self.ids = ids or Ids(conn)
        self._entries: list[Entry] = []
        self._granted: dict[int, int] = {}  # lot id → the points of a lot this book created
        self._moves: list[tuple[int | None, int | None, int]] = []  # (entry_id, lot_id, points)
        self._spare: dict[int, Lot] = {}  # lots read by another statement, for `give_back`

    def know(self, lots: Sequence[Lot]) -> None:
        """Lots another statement read (emptied ones included) that `give_back` may return points into."""
        self._spare.update((lot.id, lot) for lot in lots)

    @classmethod
    async def open(cls, conn: asyncpg.Connection, account_id: int, debt: int, now: datetime) -> Book:
        rows = await conn.fetch(
            "SELECT id, remaining, available_at, expires_at FROM lots WHERE account_id = $1 AND remaining > 0",
            account_id,
        )
        lots = [Lot(r["id"], r["remaining"], r["available_at"], r["expires_at"]) for r in rows]
        return cls(conn, account_id, lots, debt, now)

    def _record(self, entry_id: int | None, moves: Sequence[Move]) -> None:
        """Keep moves for `flush`; lots were already lowered by the pure functions, debt is kept here."""
        for lot_id, points in moves:
            self._moves.append((entry_id, lot_id, points))
            if lot_id is None:
                self.debt -= points

    async def _entry(self, kind: str, points: int, **fields: Any) -> int:
        entry = Entry(await self.ids.entry(), kind, points, **fields)
        self._entries.append(entry)
        return entry.id

    def live_lots(self) -> list[Lot]:
        """Every lot of the account with points left (the book loaded them all under the lock)."""
        return [lot for lot in self.lots if lot.remaining > 0]

    def settle(self) -> None:
        """Pay debt back from points that have become available (no ledger entry: the sum is unchanged)."""
        moves = settle_debt(self.lots, self.debt, self.now)
        self._record(None, moves)

    async def grant(self, kind: str, points: int, available_at: datetime, expires_at: datetime | None,
                    **fields: str | None) -> tuple[int, int]:
        """A new lot and the entry that created it; returns (entry_id, lot_id)."""
        lot_id = await self.ids.lot()
        entry_id = await self._entry(kind, points, lot_id=lot_id, available_at=available_at, expires_at=expires_at,
                                     **fields)
        self._moves.append((entry_id, lot_id, points))
        self._granted[lot_id] = points
        self.lots.append(Lot(lot_id, points, available_at, expires_at))
        return entry_id, lot_id

    async def spend(self, kind: str, points: int, **fields: str | None) -> tuple[int, list[Move]]:
        """Take points from available lots, earliest expiry first; what is missing becomes debt."""
        moves = take(self.lots, points, self.now)
        entry_id = await self._entry(kind, -points, **fields)
        self._record(entry_id, moves)
        return entry_id, moves

    async def reverse(self, points: int, own_lot_ids: Sequence[int], **fields: str | None) -> int:
        """Reverse accrued points: from their own lots, then other lots by expiry, the rest as debt."""
        moves = take_for_reversal(self.lots, own_lot_ids, points, self.now)
        entry_id = await self._entry("accrual_reversal", -points, **fields)
        self._record(entry_id, moves)
        return entry_id

    async def give_back(self, points: int, taken: Sequence[Move], returned: Sequence[Move],
                        **fields: str | None) -> int:
        """Return redeemed points into the lots they left, with those lots' expiry."""
        moves = return_points(taken, returned, points)
        await self._load_lots([lot_id for lot_id, _ in moves if lot_id is not None])
        by_id = {lot.id: lot for lot in self.lots}
        for lot_id, part in moves:
            if lot_id is not None:
                by_id[lot_id].remaining += part
        entry_id = await self._entry("redemption_return", points, **fields)
        self._record(entry_id, moves)
        return entry_id

    async def _load_lots(self, lot_ids: Sequence[int]) -> None:
        """Lots emptied earlier are not loaded by `open`; returns may need them."""
        missing = sorted(set(lot_ids) - {lot.id for lot in self.lots})
        self.lots += [self._spare[lot_id] for lot_id in missing if lot_id in self._spare]
        missing = [lot_id for lot_id in missing if lot_id not in self._spare]
        if missing:
            rows = await self.conn.fetch(
                "SELECT id, remaining, available_at, expires_at FROM lots"
                " WHERE account_id = $1 AND id = ANY($2::bigint[])",
                self.account_id, missing,
            )
            self.lots += [Lot(r["id"], r["remaining"], r["available_at"], r["expires_at"]) for r in rows]

    async def expire(self, lot: Lot, **fields: str | None) -> int:
        moves: list[Move] = [(lot.id, -lot.remaining)]
        entry_id = await self._entry("expiry", -lot.remaining, created_at=lot.expires_at, **fields)
        lot.remaining = 0
        self._record(entry_id, moves)
        return entry_id

    async def flush(self) -> int:
        """Write the entries, lots and moves, the lots' remaining points and the debt; returns the new
        account version."""
        return (await flush_books(self.conn, [self]))[self.account_id]


async def flush_books(conn: asyncpg.Connection, books: Sequence[Book], also: MoreCtes | None = None) -> dict[int, int]:
    """Write every book's rows in one statement, one account per book; returns each account's new version.
    Every account is written (its version bumped) even when its book holds nothing new. `also`: more CTEs
    written by the same statement."""
    if not books and also is None:
        return {}
    entries = [(book.account_id, entry) for book in books for entry in book._entries]
    moves = [(book.account_id, *move) for book in books for move in book._moves]
    new_lots, changed = [], []
    for book in books:
        touched = {lot_id for _, lot_id, _ in book._moves if lot_id is not None}
        for lot in book.lots:
            if lot.id in book._granted:
                new_lots.append((book.account_id, lot, book._granted[lot.id]))
            elif lot.id in touched:
                changed.append((book.account_id, lot))
    inserted = (
        [(e.id, a, e.kind, e.points, e.receipt_id, e.refund_id, e.reason, e.author, e.lot_id, e.available_at,
          e.expires_at, e.created_at) for a, e in entries],
        [(lot.id, a, amount, lot.remaining, lot.available_at, lot.expires_at) for a, lot, amount in new_lots],
        [(a, entry_id, lot_id, points) for a, entry_id, lot_id, points in moves],
    )
    updated = ([a for a, _ in changed], [lot.id for _, lot in changed], [lot.remaining for _, lot in changed],
               [book.account_id for book in books], [book.debt for book in books])
    # half the parameters at most, the other half left to `also` (a batch's receipts); past it, arrays
    values_count = sum(len(rows) * len(rows[0]) for rows in inserted if rows)
    as_values = rows_as_values(conn) and values_count <= MAX_PARAMETERS // 2
    ctes, main, args = _values_flush(inserted, updated) if as_values else _unnest_flush(inserted, updated)
    if also is not None:
        more_ctes, more_args = also(len(args) + 1)
        ctes, args = [*ctes, more_ctes] if more_ctes else ctes, args + more_args
    rows = await conn.fetch(("WITH " + ", ".join(ctes) if ctes else "") + main, *args)
    for book in books:
        book._entries.clear()
        book._granted.clear()
        book._moves.clear()
    return {row["id"]: row["version"] for row in rows}


def _unnest_flush(inserted: tuple[list[tuple[Any, ...]], ...],
                  updated: tuple[list[Any], ...]) -> tuple[list[str], str, list[Any]]:
    """The statement as `unnest` of arrays: one text whatever the rows (one generic plan)."""
    columns = [list(column) for rows, (_, _, expressions) in zip(inserted, _VALUES_INSERTS, strict=True)
               for column in (zip(*rows, strict=True) if rows else [()] * len(expressions))]
    return [_FLUSH[0]], _FLUSH[1], columns + list(updated)


def _values_flush(inserted: tuple[list[tuple[Any, ...]], ...],
                  updated: tuple[list[Any], ...]) -> tuple[list[str], str, list[Any]]:
    """The statement with its new rows as VALUES lists (Citus). It holds no part that writes nothing: Citus
    plans a statement whose parts each go to one shard as one statement on one shard, and a part that goes
    to no shard took the whole statement with it (measured: the account's UPDATE then answered no row)."""
    changed_accounts, changed_ids, changed_remaining, account_ids, debts = updated
    ctes: list[str] = []
    args: list[Any] = []
    for (name, table, expressions), rows in zip(_VALUES_INSERTS, inserted, strict=True):
        if rows:
            values, values_args = values_list(rows, expressions, len(args) + 1)
            ctes.append(f"{name} AS (INSERT INTO {table} VALUES {values})")
            args += values_args
    if changed_ids:
        first = len(args) + 1
        ctes.append(_FLUSH_CHANGED.format(p0=f"${first}", p1=f"${first + 1}", p2=f"${first + 2}"))
        args += [changed_accounts, changed_ids, changed_remaining]
    if not account_ids:
        return ctes, " SELECT NULL::bigint AS id, NULL::bigint AS version WHERE false", args
    first = len(args) + 1
    return ctes, _FLUSH_ACCOUNTS.format(p0=f"${first}", p1=f"${first + 1}"), [*args, account_ids, debts]
