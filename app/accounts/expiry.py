"""The expiry sweep: an `expiry` entry for each lot past its expiry, one account transaction at a time.

It locks the account row like a receipt does, so it never races a redemption from the same lots,
and a lot it has expired has no points left, so running it twice writes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from app.core import metrics
from app.core.db import Database

from .write import AccountWrite

BATCH = 500
log = logging.getLogger("bonus_engine.expiry")


async def sweep(db: Database, now: datetime) -> int:
    """Expire every lot whose time has come; returns how many lots were expired."""
    expired = 0
    while True:
        async with db.connection() as conn:
            due = await conn.fetch(
                "SELECT DISTINCT account_id FROM lots WHERE remaining > 0 AND expires_at <= $1 LIMIT $2", now, BATCH
            )
        if not due:
            return expired
        for row in due:
            async with db.transaction() as conn:
                write = AccountWrite(conn, clock=lambda: now)  # no view: its snapshot lives until `now` at most
                account = await write.lock_id(row["account_id"])
                book = await write.open(account, settle=False)  # the sweep takes points, it pays back no debt
                for lot in list(book.lots):
                    if lot.is_expired(now) and lot.remaining > 0:
                        await book.expire(lot, reason="expired")
                        expired += 1
                        metrics.EXPIRED.inc()
                await write.flush()


async def sweep_forever(db: Database, interval_s: int,
                        also: Callable[[datetime], Awaitable[object]] | None = None) -> None:
    """The periodic sweep inside `serve`: safe in every worker at once (each lot is expired under its
    account's lock, and an expired lot has nothing left to expire). `also` runs after it each time with the
    same `now`: the birthday sweep (app/customers/birthdays.py), as safe in every worker."""
    from app.core.context import utcnow

    while True:
        await asyncio.sleep(interval_s)
        now = utcnow()
        try:
            await sweep(db, now)
        except Exception as error:  # a database outage must not end the loop
            log.warning("expiry sweep failed: %s", error)
        if also is not None:
            try:
                await also(now)
            except Exception as error:
                log.warning("sweep after expiry failed: %s", error)
