"""SQL for coupon batches, codes and uses."""

from __future__ import annotations

import asyncpg

from app.core.db import lock_in_order, on_citus, rows_as_values
from app.core.rowsets import values_list


async def insert_batch(conn: asyncpg.Connection, campaign_id: str, count: int, prefix: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO coupon_batches (campaign_id, count, prefix) VALUES ($1, $2, $3) RETURNING id",
        campaign_id, count, prefix,
    ))


async def insert_codes(conn: asyncpg.Connection, codes: list[str], campaign_id: str, batch_id: int) -> int:
    """Insert the codes that are new; returns how many were (a clash with an existing code is skipped)."""
    inserted = await conn.fetch(
        "INSERT INTO coupon_codes (code, campaign_id, batch_id)"
        " SELECT unnest($1::text[]), $2, $3 ON CONFLICT (code) DO NOTHING RETURNING code",
        codes, campaign_id, batch_id,
    )
    return len(inserted)


async def batch_codes(conn: asyncpg.Connection, batch_id: int) -> list[str]:
    return [r["code"] for r in await conn.fetch(
        "SELECT code FROM coupon_codes WHERE batch_id = $1 ORDER BY created_at, code", batch_id)]


async def find_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT code, campaign_id, batch_id, created_at FROM coupon_codes WHERE code = $1", code
    )


async def lock_codes(conn: asyncpg.Connection, codes: list[str]) -> None:
    """Lock single-use codes' rows in the order given (rows are locked after the sort)."""
    if on_citus(conn):
        await lock_in_order(conn, "coupon_codes", "code", "code", codes)
        return
    await conn.execute(
        "SELECT code FROM coupon_codes WHERE code = ANY($1::text[]) ORDER BY code COLLATE \"C\" FOR UPDATE", codes
    )


async def lock_shared(conn: asyncpg.Connection, codes: list[str]) -> None:
    """Lock shared codes (a campaign's `code`, sorted) by their rows in `shared_coupon_codes`, each made on its
    first use (in the same order, so two first uses cannot deadlock)."""
    if rows_as_values(conn):
        values, args = values_list([(code,) for code in codes], ("{}::text",), 1)
        await conn.execute(f"INSERT INTO shared_coupon_codes (code) VALUES {values} ON CONFLICT DO NOTHING", *args)
    else:
        await conn.execute("INSERT INTO shared_coupon_codes (code) SELECT c.code FROM unnest($1::text[])"
                           " WITH ORDINALITY AS c(code, n) ORDER BY c.n ON CONFLICT DO NOTHING", codes)
    if on_citus(conn):
        await lock_in_order(conn, "shared_coupon_codes", "code", "code", codes)
        return
    await conn.execute("SELECT FROM shared_coupon_codes WHERE code = ANY($1::text[]) ORDER BY code COLLATE \"C\""
                       " FOR UPDATE", codes)


async def live_uses(conn: asyncpg.Connection, code: str, account_id: int | None) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT count(*) AS uses, count(*) FILTER (WHERE account_id = $2) AS account_uses"
        " FROM coupon_uses WHERE code = $1 AND released_at IS NULL",
        code, account_id,
    )
    assert row is not None
    return int(row["uses"]), int(row["account_uses"])


async def uses_of(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT receipt_id, created_at, released_at FROM coupon_uses WHERE code = $1 ORDER BY id", code
    )


async def record_use(conn: asyncpg.Connection, code: str, campaign_id: str, account_id: int | None,
                     receipt_id: str) -> None:
    await conn.execute(
        "INSERT INTO coupon_uses (code, campaign_id, account_id, receipt_id) VALUES ($1, $2, $3, $4)",
        code, campaign_id, account_id, receipt_id,
    )


async def release_uses(conn: asyncpg.Connection, receipt_id: str, codes: list[str]) -> None:
    """Release a receipt's uses of `codes` (its links name them: coupon_uses is keyed by code)."""
    if codes:
        await conn.execute(
            "UPDATE coupon_uses SET released_at = now()"
            " WHERE code = ANY($2::text[]) AND receipt_id = $1 AND released_at IS NULL",
            receipt_id, codes,
        )
