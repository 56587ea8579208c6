"""SQL of custom segments: their documents, the membership a refresh writes on the account rows, the members."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

_SEGMENT = "id, document, members, refreshed_at, updated_at"


async def all_segments(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_SEGMENT} FROM segments ORDER BY id")


async def get(conn: asyncpg.Connection, segment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_SEGMENT} FROM segments WHERE id = $1", segment_id)


async def lock(conn: asyncpg.Connection, segment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_SEGMENT} FROM segments WHERE id = $1 FOR UPDATE", segment_id)


async def existing(conn: asyncpg.Connection, segment_ids: list[str]) -> set[str]:
    """The ids among `segment_ids` that exist, held against deletion (FOR KEY SHARE) until the caller commits:
    a program that names them is saved before any of them can be deleted, or after and then refused."""
    rows = await conn.fetch("SELECT id FROM segments WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE",
                            segment_ids)
    return {row["id"] for row in rows}


async def count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM segments"))


async def save(conn: asyncpg.Connection, segment_id: str, document: dict[str, Any]) -> bool:
    """Insert or replace; True when it created the segment. A changed document forgets its last count."""
    return bool(await conn.fetchval(
        "INSERT INTO segments AS s (id, document) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
        " SET document = excluded.document, updated_at = now(),"
        "     members = CASE WHEN s.document = excluded.document THEN s.members END,"
        "     refreshed_at = CASE WHEN s.document = excluded.document THEN s.refreshed_at END"
        " RETURNING xmax = 0", segment_id, document))


async def delete(conn: asyncpg.Connection, segment_id: str) -> None:
    await conn.execute("DELETE FROM segments WHERE id = $1", segment_id)


# --- refresh ------------------------------------------------------------------------------------------

REFRESH_LOCK = 0x5E6_14  # pg_advisory_lock key: one refresh at a time in the whole database


async def try_lock_refresh(conn: asyncpg.Connection, wait: bool) -> bool:
    if wait:
        await conn.execute("SELECT pg_advisory_lock($1)", REFRESH_LOCK)
        return True
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", REFRESH_LOCK))


async def unlock_refresh(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", REFRESH_LOCK)


async def oldest_refresh(conn: asyncpg.Connection) -> tuple[int, datetime | None]:
    """(segments defined, the oldest refresh among them; None when one was never refreshed)."""
    row = await conn.fetchrow("SELECT count(*) AS segments, min(coalesce(refreshed_at, '-infinity')) AS oldest"
                              " FROM segments")
    oldest = row["oldest"]
    return int(row["segments"]), None if oldest is None or oldest == datetime.min else oldest


STAGE_TIMEOUT_S = 3600  # one pass over every account, outside the request timeouts


async def stage(conn: asyncpg.Connection, select: str, params: list[Any]) -> None:
    """Evaluate every segment into a temporary table of the members (accounts in at least one segment)."""
    await conn.execute("DROP TABLE IF EXISTS segment_fresh")
    await conn.execute("CREATE TEMPORARY TABLE segment_fresh (id bigint PRIMARY KEY, segments text[] NOT NULL)")
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = 0")
        await conn.execute("SET LOCAL work_mem = '256MB'")  # the derived tables are hashed in memory
        # asyncpg's own command timeout (the pool's, for requests) would cut it short too
        await conn.execute(f"INSERT INTO segment_fresh SELECT * FROM ({select}) m WHERE segments IS NOT NULL",
                           *params, timeout=STAGE_TIMEOUT_S)


async def id_range(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow("SELECT coalesce(min(id), 0) AS low, coalesce(max(id), 0) AS high FROM accounts")
    return int(row["low"]), int(row["high"])


async def apply(conn: asyncpg.Connection, low: int, high: int) -> int:
    """Write the staged membership on accounts with ids in [low, high) whose membership changed (its own
    transaction: a confirm of one of them waits for this one statement at most); returns the rows changed."""
    result = await conn.execute(
        "UPDATE accounts a SET segments = f.segments FROM ("
        "  SELECT x.id, s.segments FROM accounts x LEFT JOIN segment_fresh s ON s.id = x.id"
        "  WHERE x.id >= $1 AND x.id < $2) f"
        " WHERE a.id = f.id AND a.id >= $1 AND a.id < $2 AND a.segments IS DISTINCT FROM f.segments", low, high)
    return int(result.split()[-1])


async def record_counts(conn: asyncpg.Connection, evaluated: dict[str, datetime], at: datetime) -> None:
    """Each evaluated segment's members and refresh time, unless its document changed meanwhile (the next
    refresh counts that one)."""
    await conn.execute(
        "UPDATE segments s SET members = coalesce(c.members, 0), refreshed_at = $3"
        " FROM unnest($1::text[], $2::timestamptz[]) AS e(id, updated_at)"
        " LEFT JOIN (SELECT segment_id, count(*) AS members FROM segment_fresh, unnest(segments) AS segment_id"
        "            GROUP BY segment_id) c ON c.segment_id = e.id"
        " WHERE s.id = e.id AND s.updated_at = e.updated_at",
        list(evaluated), list(evaluated.values()), at)
    await conn.execute("DROP TABLE segment_fresh")


# --- members ------------------------------------------------------------------------------------------


async def members(conn: asyncpg.Connection, segment_id: str) -> AsyncIterator[asyncpg.Record]:
    """The members as of the last refresh, with the roll-up's figures; a cursor (inside the caller's
    transaction), so a segment of millions streams. No order and a look-up per member: the first rows come
    while the scan goes on (sorted, or joined by a hash, 850k members of 1 M accounts gave nothing for 10 s)."""
    query = ("SELECT a.card, coalesce(r.revenue, 0) AS ltv, coalesce(r.receipts, 0) AS receipts, r.last_purchase_at"
             " FROM accounts a LEFT JOIN LATERAL (SELECT revenue, receipts, last_purchase_at FROM report_accounts"
             "   WHERE account_id = a.id) r ON true"
             " WHERE a.segments @> ARRAY[$1::text]")
    async for row in conn.cursor(query, segment_id, prefetch=2000):
        yield row


async def existing_ids(conn: asyncpg.Connection, segment_ids: list[str]) -> set[str]:
    """The ids among `segment_ids` that exist now (no lock: for reading)."""
    rows = await conn.fetch("SELECT id FROM segments WHERE id = ANY($1::text[])", segment_ids)
    return {row["id"] for row in rows}
