"""Ledger entry and lot ids, reserved from their sequences in blocks so that a book can name its rows
before it writes them, and write them all in one statement.

Ids are reserved under the account lock(s) of the transaction that uses them, so one account's entries
still get growing ids in the order they were made: its ledger pages and its refunds read them by id.
An id reserved and not used is a gap, as a rolled-back `nextval` always was.
"""

from __future__ import annotations

import asyncpg

_RESERVE = """
SELECT array(SELECT nextval('ledger_id_seq') FROM generate_series(1, $1)) AS entries,
       array(SELECT nextval('lots_id_seq') FROM generate_series(1, $2)) AS lots
"""

# what one refill takes when a book runs out: a confirm needs at most one redemption, one accrual and a
# few bonus grants
ENTRIES_PER_REFILL = 8
LOTS_PER_REFILL = 4


async def reserve(conn: asyncpg.Connection, entries: int, lots: int) -> tuple[list[int], list[int]]:
    """(entry ids, lot ids) reserved in one round trip. A statement of its own, on no table: on Citus it runs
    on the coordinator, whose sequences give the ids; a statement whose tables sit on one shard would go to
    that worker whole, `nextval` included, and a worker hands out ids of its own range (its group id << 48),
    so one account's entries would no longer grow in the order they were made."""
    row = await conn.fetchrow(_RESERVE, entries, lots)
    return list(row["entries"]), list(row["lots"])


class Ids:
    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn
        self._entries: list[int] = []
        self._lots: list[int] = []

    async def reserve(self, entries: int, lots: int) -> None:
        """Reserve at least this many more of each, in one round trip."""
        self.add(*await reserve(self._conn, entries, lots))

    def add(self, entries: list[int], lots: list[int]) -> None:
        """Ids reserved by another statement (a batch reads its state and reserves them in one); pop()
        hands them out in the order the sequence gave them."""
        self._entries = list(reversed(entries)) + self._entries
        self._lots = list(reversed(lots)) + self._lots

    async def entry(self) -> int:
        if not self._entries:
            await self.reserve(ENTRIES_PER_REFILL, 0 if self._lots else LOTS_PER_REFILL)
        return int(self._entries.pop())

    async def lot(self) -> int:
        if not self._lots:
            await self.reserve(0 if self._entries else ENTRIES_PER_REFILL, LOTS_PER_REFILL)
        return int(self._lots.pop())
