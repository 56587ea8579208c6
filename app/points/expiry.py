"""The expiry sweep: an `expiry` entry for each lot past its expiry, one account transaction at a time.

It locks the account row like a receipt does, so it never races a redemption from the same lots,
and a lot it has expired has no points left, so running it twice writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from app.core import metrics
from app.core.db import Database
from app.points.book import Book

BATCH = 500


async def sweep(db: Database, now: datetime) -> int:
    """Expire every lot whose time has come; returns how many lots were expired."""
    expired = 0
    while True:
        async with db.connection() as conn:
            accounts = await conn.fetch(
                "SELECT DISTINCT account_id FROM lots WHERE remaining > 0 AND expires_at <= $1 LIMIT $2", now, BATCH
            )
        if not accounts:
            return expired
        for row in accounts:
            async with db.transaction() as conn:
                account = await conn.fetchrow("SELECT id, debt FROM accounts WHERE id = $1 FOR UPDATE", row["account_id"])
                assert account is not None
                book = await Book.open(conn, account["id"], account["debt"], now)
                for lot in list(book.lots):
                    if lot.is_expired(now) and lot.remaining > 0:
                        await book.expire(lot, reason="expired")
                        expired += 1
                        metrics.EXPIRED.inc()
                await book.flush()
