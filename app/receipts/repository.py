"""SQL for receipts and refunds. The receipt row's primary key is the idempotency guard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def claim(conn: asyncpg.Connection, receipt_id: str, fingerprint: bytes, store_id: str,
                issued_at: datetime) -> bool:
    """Insert the receipt as pending. False if it exists; a concurrent duplicate waits here for the
    first one's commit (or rollback) before it gets its answer."""
    claimed = await conn.fetchval(
        "INSERT INTO receipts (receipt_id, fingerprint, store_id, issued_at, status)"
        " VALUES ($1, $2, $3, $4, 'pending') ON CONFLICT (receipt_id) DO NOTHING RETURNING true",
        receipt_id, fingerprint, store_id, issued_at,
    )
    return bool(claimed)


async def get(conn: asyncpg.Connection, receipt_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT receipt_id, fingerprint, account_id, store_id, issued_at, status, program_version, lines, links,"
        " result FROM receipts WHERE receipt_id = $1" + (" FOR UPDATE" if lock else ""),
        receipt_id,
    )


async def complete(conn: asyncpg.Connection, receipt_id: str, *, account_id: int | None, status: str,
                   program_version: int, purchase_amount: int, lines: list[dict[str, Any]],
                   links: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE receipts SET account_id = $2, status = $3, program_version = $4, purchase_amount = $5,"
        " lines = $6, links = $7 WHERE receipt_id = $1",
        receipt_id, account_id, status, program_version, purchase_amount, lines, links,
    )


async def store_result(conn: asyncpg.Connection, receipt_id: str, result: dict[str, Any]) -> None:
    await conn.execute("UPDATE receipts SET result = $2 WHERE receipt_id = $1", receipt_id, result)


async def update_after_refund(conn: asyncpg.Connection, receipt_id: str, *, status: str, refunded_purchase: int,
                              lines: list[dict[str, Any]], links: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE receipts SET status = $2, refunded_purchase = refunded_purchase + $3, lines = $4, links = $5"
        " WHERE receipt_id = $1",
        receipt_id, status, refunded_purchase, lines, links,
    )


async def find_refund(conn: asyncpg.Connection, receipt_id: str, refund_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT fingerprint, refund FROM refunds WHERE receipt_id = $1 AND refund_id = $2", receipt_id, refund_id
    )


async def insert_refund(conn: asyncpg.Connection, receipt_id: str, refund_id: str, fingerprint: bytes,
                        account_id: int | None, store_id: str | None, response: dict[str, Any],
                        purchase_refunded: int) -> None:
    await conn.execute(
        "INSERT INTO refunds (receipt_id, refund_id, fingerprint, account_id, store_id, refund, purchase_refunded)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        receipt_id, refund_id, fingerprint, account_id, store_id, response, purchase_refunded,
    )


async def entry_moves(conn: asyncpg.Connection, entry_ids: list[int]) -> list[tuple[int | None, int]]:
    """The lot moves of ledger entries, in the order they were made."""
    rows = await conn.fetch(
        "SELECT lot_id, points FROM lot_moves WHERE entry_id = ANY($1::bigint[]) ORDER BY id", entry_ids
    )
    return [(row["lot_id"], row["points"]) for row in rows]
