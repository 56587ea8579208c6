"""An account's points under its row lock: the pure lot moves of `rules`, written to the ledger.

Every ledger entry's points equal the sum of its lot moves, each lot's remaining equals the sum of
the moves into and out of it, and the account's debt equals minus its debt moves. `audit` checks all
three.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from rules import Lot, Move, return_points, settle_debt, take, take_for_reversal

_INSERT_ENTRY = """
INSERT INTO ledger (account_id, kind, points, receipt_id, refund_id, reason, author, lot_id,
                    available_at, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, now()))
RETURNING id
"""

# the lot and the entry that created it, in one round trip
_INSERT_GRANT = """
WITH lot AS (
    INSERT INTO lots (account_id, amount, remaining, available_at, expires_at) VALUES ($1, $3, $3, $4, $5)
    RETURNING id
)
INSERT INTO ledger (account_id, kind, points, receipt_id, refund_id, reason, author, lot_id, available_at, expires_at)
SELECT $1, $2, $3, $6, $7, $8, $9, lot.id, $4, $5 FROM lot
RETURNING id, lot_id
"""

# the moves (in the order they were made: refunds read them back by id), the lots' remaining points and
# the account's debt, in one round trip; the CTEs touch other tables than the final UPDATE, so none sees
# another's rows
_FLUSH = """
WITH moves AS (
    INSERT INTO lot_moves (account_id, entry_id, lot_id, points)
    SELECT $1, m.entry_id, m.lot_id, m.points
    FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS m(entry_id, lot_id, points, n)
    ORDER BY m.n
), changed AS (
    UPDATE lots SET remaining = v.remaining FROM unnest($6::bigint[], $7::bigint[]) AS v(id, remaining)
    WHERE lots.account_id = $1 AND lots.id = v.id
)
UPDATE accounts SET debt = $2, version = version + 1 WHERE id = $1 RETURNING version
"""


class Book:
    def __init__(self, conn: asyncpg.Connection, account_id: int, lots: list[Lot], debt: int, now: datetime):
        self.conn = conn
        self.account_id = account_id
        self.lots = lots
        self.debt = debt
        self.now = now
        self._moves: list[tuple[int | None, int | None, int]] = []  # (entry_id, lot_id, points)

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
        return int(
            await self.conn.fetchval(
                _INSERT_ENTRY, self.account_id, kind, points, fields.get("receipt_id"), fields.get("refund_id"),
                fields.get("reason"), fields.get("author"), fields.get("lot_id"), fields.get("available_at"),
                fields.get("expires_at"), fields.get("created_at"),
            )
        )

    def live_lots(self) -> list[Lot]:
        """Every lot of the account with points left (the book loaded them all under the lock)."""
        return [lot for lot in self.lots if lot.remaining > 0]

    def settle(self) -> None:
        """Pay debt back from points that have become available (no ledger entry: the sum is unchanged)."""
        moves = settle_debt(self.lots, self.debt, self.now)
        self._record(None, moves)

    async def grant(self, kind: str, points: int, available_at: datetime, expires_at: datetime | None,
                    **fields: Any) -> tuple[int, int]:
        """A new lot and the entry that created it; returns (entry_id, lot_id)."""
        row = await self.conn.fetchrow(
            _INSERT_GRANT, self.account_id, kind, points, available_at, expires_at, fields.get("receipt_id"),
            fields.get("refund_id"), fields.get("reason"), fields.get("author"),
        )
        entry_id, lot_id = int(row["id"]), int(row["lot_id"])
        self._moves.append((entry_id, lot_id, points))
        self.lots.append(Lot(lot_id, points, available_at, expires_at))
        return entry_id, lot_id

    async def spend(self, kind: str, points: int, **fields: Any) -> tuple[int, list[Move]]:
        """Take points from available lots, earliest expiry first; what is missing becomes debt."""
        moves = take(self.lots, points, self.now)
        entry_id = await self._entry(kind, -points, **fields)
        self._record(entry_id, moves)
        return entry_id, moves

    async def reverse(self, points: int, own_lot_ids: Sequence[int], **fields: Any) -> int:
        """Reverse accrued points: from their own lots, then other lots by expiry, the rest as debt."""
        moves = take_for_reversal(self.lots, own_lot_ids, points, self.now)
        entry_id = await self._entry("accrual_reversal", -points, **fields)
        self._record(entry_id, moves)
        return entry_id

    async def give_back(self, points: int, taken: Sequence[Move], returned: Sequence[Move],
                        **fields: Any) -> int:
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
        if missing:
            rows = await self.conn.fetch(
                "SELECT id, remaining, available_at, expires_at FROM lots"
                " WHERE account_id = $1 AND id = ANY($2::bigint[])",
                self.account_id, missing,
            )
            self.lots += [Lot(r["id"], r["remaining"], r["available_at"], r["expires_at"]) for r in rows]

    async def expire(self, lot: Lot, **fields: Any) -> int:
        moves: list[Move] = [(lot.id, -lot.remaining)]
        entry_id = await self._entry("expiry", -lot.remaining, created_at=lot.expires_at, **fields)
        lot.remaining = 0
        self._record(entry_id, moves)
        return entry_id

    async def flush(self) -> int:
        """Write the moves, the lots' remaining points and the debt; returns the new account version."""
        changed = {lot for _, lot, _ in self._moves if lot is not None}
        lots = [lot for lot in self.lots if lot.id in changed]
        version = await self.conn.fetchval(
            _FLUSH, self.account_id, self.debt,
            [e for e, _, _ in self._moves], [lot for _, lot, _ in self._moves], [p for _, _, p in self._moves],
            [lot.id for lot in lots], [lot.remaining for lot in lots],
        )
        self._moves.clear()
        return int(version)
