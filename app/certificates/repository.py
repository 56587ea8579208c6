"""SQL for gift certificates: rows, balances and the moves behind every balance change."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.core.db import lock_in_order, on_citus

_COLUMNS = "code, status, nominal, balance, expires_at, single_use, sold_receipt_id"


async def insert(conn: asyncpg.Connection, codes: list[str], nominal: int, expires_at: datetime | None,
                 single_use: bool, active: bool) -> list[str]:
    """Insert new certificates (an active one holds its nominal at once); returns the codes inserted."""
    rows = await conn.fetch(
        "INSERT INTO gift_certificates (code, status, nominal, balance, expires_at, single_use)"
        " SELECT unnest($1::text[]), $2, $3, $4, $5, $6 ON CONFLICT (code) DO NOTHING RETURNING code",
        codes, "active" if active else "issued", nominal, nominal if active else 0, expires_at, single_use,
    )
    inserted = [r["code"] for r in rows]
    if active and inserted:
        await conn.execute(
            "INSERT INTO certificate_moves (code, kind, amount) SELECT unnest($1::text[]), 'issue', $2",
            inserted, nominal,
        )
    return inserted


async def get(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM gift_certificates WHERE code = $1", code)


async def lock_many(conn: asyncpg.Connection, codes: list[str]) -> dict[str, asyncpg.Record]:
    """Lock in code order (Python's order of strings is the "C" collation's), the same order in every
    transaction, so two receipts never deadlock."""
    if on_citus(conn):
        rows = await lock_in_order(conn, "gift_certificates", _COLUMNS, "code", sorted(set(codes)))
    else:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM gift_certificates WHERE code = ANY($1::text[]) ORDER BY code COLLATE \"C\""
            " FOR UPDATE",
            sorted(set(codes)),
        )
    return {r["code"]: r for r in rows}


async def read_many(conn: asyncpg.Connection, codes: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM gift_certificates WHERE code = ANY($1::text[])", codes)
    return {r["code"]: r for r in rows}


async def move(conn: asyncpg.Connection, code: str, kind: str, amount: int, *, status: str | None = None,
               receipt_id: str | None = None, refund_id: str | None = None, sold_receipt_id: str | None = None
               ) -> None:
    """Change a balance by `amount` (signed) and record why; `status` None keeps it, except that an
    active certificate whose balance reaches 0 becomes `used`, and a used one given points back
    becomes `active` again."""
    await conn.execute(
        """
        UPDATE gift_certificates SET
            balance = balance + $2,
            status = coalesce($3, CASE WHEN status IN ('active', 'used')
                                       THEN CASE WHEN balance + $2 > 0 THEN 'active' ELSE 'used' END
                                       ELSE status END),
            sold_receipt_id = coalesce($4, sold_receipt_id)
        WHERE code = $1
        """,
        code, amount, status, sold_receipt_id,
    )
    await conn.execute(
        "INSERT INTO certificate_moves (code, kind, amount, receipt_id, refund_id) VALUES ($1, $2, $3, $4, $5)",
        code, kind, amount, receipt_id, refund_id,
    )


async def has_payments(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM certificate_moves WHERE code = $1 AND kind = 'payment')", code
    ))
