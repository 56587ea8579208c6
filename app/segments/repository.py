"""SQL of custom segments: their documents, the membership a refresh writes on the account rows, the members."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from app.core.db import on_citus
from app.reports.rollup import HORIZON as ROLLUP_HORIZON

from . import citus
from .changes import Bounds, Seen

_SEGMENT = "id, document, members, refreshed_at, updated_at"


async def all_segments(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_SEGMENT} FROM segments ORDER BY id")


async def get(conn: asyncpg.Connection, segment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_SEGMENT} FROM segments WHERE id = $1", segment_id)


async def lock(conn: asyncpg.Connection, segment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_SEGMENT} FROM segments WHERE id = $1 FOR UPDATE", segment_id)


async def count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM segments"))


async def save(conn: asyncpg.Connection, segment_id: str, document: dict[str, Any]) -> bool:
    """Insert or replace; True when it created the segment. A changed document forgets its last count."""
    return bool(await conn.fetchval(
        # the time in VALUES, not in SET: Citus runs no function that is not IMMUTABLE in DO UPDATE SET
        "INSERT INTO segments AS s (id, document, updated_at) VALUES ($1, $2, now()) ON CONFLICT (id) DO UPDATE"
        " SET document = excluded.document, updated_at = excluded.updated_at,"
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

# every row written by a transaction below this was visible to the snapshot, and folded in by the roll-up:
# the roll-up's watermark, or the snapshot's horizon as the roll-up takes it (when the roll-up is ahead)
_SINCE = f"SELECT least(watermark, {ROLLUP_HORIZON}) FROM report_state WHERE id = 1"


async def snapshot(conn: asyncpg.Connection) -> tuple[int, Bounds]:
    """(since_xid, the RFM boundaries) of the caller's REPEATABLE READ snapshot: what a refresh sees."""
    since = await conn.fetchval(_SINCE)
    row = await conn.fetchrow("SELECT recency, frequency, monetary FROM report_rfm WHERE id = 1")
    bounds = Bounds(None, None, None) if row is None else Bounds(list(row["recency"]), list(row["frequency"]),
                                                                 list(row["monetary"]))
    return int(since), bounds


async def _fresh_table(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {name}")
    await conn.execute(f"CREATE TEMPORARY TABLE {name} (id bigint PRIMARY KEY, segments text[])")


async def stage(conn: asyncpg.Connection, select: str, params: list[Any], table: str = "segment_fresh") -> None:
    """Evaluate every account into a temporary table of the members (accounts in at least one segment), in
    the caller's transaction."""
    await _fresh_table(conn, table)
    await conn.execute("SET LOCAL statement_timeout = 0")
    await conn.execute("SET LOCAL work_mem = '256MB'")  # the derived tables are hashed in memory
    # asyncpg's own command timeout (the pool's, for requests) would cut it short too
    await conn.execute(f"INSERT INTO {table} SELECT * FROM ({select}) m WHERE segments IS NOT NULL",
                       *params, timeout=STAGE_TIMEOUT_S)


async def stage_candidates(conn: asyncpg.Connection, candidates: str, candidate_params: list[Any], select: str,
                           params: list[Any]) -> int:
    """Evaluate the accounts `candidates` lists into segment_fresh, members or not (NULL: in none), in the
    caller's transaction; returns how many. Unbounded in time as `stage` is: the turn of a day moves a day's
    accounts (at 1M accounts and 10M receipts the service's 10 s statement timeout cancelled it)."""
    await conn.execute("SET LOCAL statement_timeout = 0")
    await conn.execute("DROP TABLE IF EXISTS segment_candidates")
    await conn.execute("CREATE TEMPORARY TABLE segment_candidates (id bigint PRIMARY KEY)")
    await conn.execute(f"INSERT INTO segment_candidates SELECT DISTINCT account_id FROM ({candidates}) c (account_id)"
                       " WHERE account_id IS NOT NULL", *candidate_params, timeout=STAGE_TIMEOUT_S)
    await conn.execute("ANALYZE segment_candidates")  # the planner then looks each one up by its indexes
    # compiling the statement (a subplan per condition) would take longer than running it for a few thousand
    await conn.execute("SET LOCAL jit = off")
    await _fresh_table(conn, "segment_fresh")
    result = await conn.execute(f"INSERT INTO segment_fresh {select}", *params, timeout=STAGE_TIMEOUT_S)
    return int(result.split()[-1])


async def id_range(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow("SELECT coalesce(min(id), 0) AS low, coalesce(max(id), 0) AS high FROM accounts")
    return int(row["low"]), int(row["high"])


def apply_ids(conn: asyncpg.Connection, rows_per_statement: int) -> int:
    """The ids `apply` and `apply_one` take at a time: one statement's on one server; on Citus a wider
    range, read by one SELECT (citus.READ_IDS) and written `rows_per_statement` rows per statement."""
    return max(citus.READ_IDS, rows_per_statement) if on_citus(conn) else rows_per_statement


async def apply(conn: asyncpg.Connection, low: int, high: int, rows_per_statement: int) -> int:
    """Write the staged membership on accounts with ids in [low, high) whose membership changed (its own
    transaction: a confirm of one of them waits for this one statement at most; on Citus, one statement per
    `rows_per_statement` changed rows); returns the rows changed."""
    if on_citus(conn):  # Citus joins no temporary table in an UPDATE: the rows go as parameters (citus.py)
        return await citus.apply(conn, low, high, rows_per_statement)
    result = await conn.execute(
        "UPDATE accounts a SET segments = f.segments FROM ("
        "  SELECT x.id, s.segments FROM accounts x LEFT JOIN segment_fresh s ON s.id = x.id"
        "  WHERE x.id >= $1 AND x.id < $2) f"
        " WHERE a.id = f.id AND a.id >= $1 AND a.id < $2 AND a.segments IS DISTINCT FROM f.segments", low, high)
    return int(result.split()[-1])


async def apply_one(conn: asyncpg.Connection, segment_id: str, low: int, high: int, rows_per_statement: int) -> int:
    """Write one segment's staged members (segment_one) on accounts with ids in [low, high): add or remove its
    id where that changed, keeping each array sorted as a refresh of every segment writes it."""
    if on_citus(conn):
        return await citus.apply_one(conn, segment_id, low, high, rows_per_statement)
    result = await conn.execute(
        "UPDATE accounts a SET segments = CASE WHEN f.member"
        "   THEN ARRAY(SELECT s FROM unnest(coalesce(a.segments, '{}') || $3::text) AS s ORDER BY s)"
        "   ELSE nullif(array_remove(a.segments, $3::text), '{}') END"
        " FROM (SELECT x.id, s.id IS NOT NULL AS member FROM accounts x LEFT JOIN segment_one s ON s.id = x.id"
        "       WHERE x.id >= $1 AND x.id < $2) f"
        " WHERE a.id = f.id AND a.id >= $1 AND a.id < $2"
        "   AND f.member <> coalesce(a.segments @> ARRAY[$3::text], false)", low, high, segment_id)
    return int(result.split()[-1])


async def count_one(conn: asyncpg.Connection, segment_id: str, updated_at: datetime, at: datetime) -> None:
    """The staged segment's members and refresh time, unless its document changed meanwhile. Counted by a
    SELECT, then written as a parameter: Citus updates `segments` (a reference table) from no temporary table."""
    members = await conn.fetchval("SELECT count(*) FROM segment_one")
    await conn.execute("UPDATE segments SET members = $4, refreshed_at = $3 WHERE id = $1 AND updated_at = $2",
                       segment_id, updated_at, at, members)
    await conn.execute("DROP TABLE segment_one")


async def staged_ids(conn: asyncpg.Connection) -> list[int]:
    return [int(row["id"]) for row in await conn.fetch("SELECT id FROM segment_fresh ORDER BY id")]


async def apply_counted(conn: asyncpg.Connection, ids: list[int]) -> int:
    """Write the staged membership of the accounts `ids` where it changed, and move each segment's count by
    the members it gained and lost, in one statement (a count is never out of step with the rows); a
    segment not counted yet (its document new or changed) is left to its own refresh. Returns the rows
    changed."""
    if on_citus(conn):  # two statements in the caller's transaction there (citus.py)
        return await citus.apply_counted(conn, ids)
    return int(await conn.fetchval(
        "WITH staged AS ("
        "  SELECT f.id, f.segments, x.segments AS before FROM segment_fresh f JOIN accounts x ON x.id = f.id"
        "  WHERE f.id = ANY($1::bigint[])"
        "), changed AS ("
        "  UPDATE accounts a SET segments = s.segments FROM staged s"
        "  WHERE a.id = s.id AND a.segments IS DISTINCT FROM s.segments RETURNING s.segments, s.before"
        "), moves AS ("
        "  SELECT segment_id, sum(move) AS move FROM ("
        "    SELECT unnest(segments) AS segment_id, 1 AS move FROM changed"
        "    UNION ALL SELECT unnest(before), -1 FROM changed) m GROUP BY segment_id"
        "), counted AS ("
        "  UPDATE segments g SET members = g.members + m.move FROM moves m"
        "  WHERE g.id = m.segment_id AND g.members IS NOT NULL AND m.move <> 0"
        ") SELECT count(*) FROM changed", ids))


async def drop_staged(conn: asyncpg.Connection) -> None:
    await conn.execute("DROP TABLE IF EXISTS segment_fresh, segment_candidates")


async def mark_refreshed(conn: asyncpg.Connection, evaluated: dict[str, datetime], at: datetime) -> None:
    """The refresh time of each segment evaluated and counted, unless its document changed meanwhile."""
    await conn.execute(
        "UPDATE segments s SET refreshed_at = $3 FROM unnest($1::text[], $2::timestamptz[]) AS e(id, updated_at)"
        " WHERE s.id = e.id AND s.updated_at = e.updated_at AND s.members IS NOT NULL",
        list(evaluated), list(evaluated.values()), at)


async def record_counts(conn: asyncpg.Connection, evaluated: dict[str, datetime], at: datetime) -> None:
    """Each evaluated segment's members and refresh time, unless its document changed meanwhile (the next
    refresh counts that one). Counted by a SELECT, then written as parameters (see `count_one`)."""
    counts = {row["segment_id"]: row["members"] for row in await conn.fetch(
        "SELECT segment_id, count(*) AS members FROM segment_fresh, unnest(segments) AS segment_id"
        " GROUP BY segment_id")}
    await conn.execute(
        "UPDATE segments s SET members = e.members, refreshed_at = $3"
        " FROM unnest($1::text[], $2::timestamptz[], $4::bigint[]) AS e(id, updated_at, members)"
        " WHERE s.id = e.id AND s.updated_at = e.updated_at",
        list(evaluated), list(evaluated.values()), at, [counts.get(segment_id, 0) for segment_id in evaluated])
    await conn.execute("DROP TABLE segment_fresh")


async def seen(conn: asyncpg.Connection) -> Seen | None:
    row = await conn.fetchrow("SELECT * FROM segment_state WHERE id = 1")
    if row is None:
        return None
    return Seen(row["evaluated_at"], row["today"], row["time_zone"], row["since_xid"], row["program_key"],
                Bounds(row["rfm_recency"], row["rfm_frequency"], row["rfm_monetary"]))


async def remember(conn: asyncpg.Connection, seen: Seen) -> None:
    """What this refresh of every segment saw; the changes it has read are dropped."""
    await conn.execute(
        "INSERT INTO segment_state AS s (id, evaluated_at, today, time_zone, since_xid, program_key, rfm_recency,"
        " rfm_frequency, rfm_monetary) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET"
        " evaluated_at = $1, today = $2, time_zone = $3, since_xid = $4, program_key = $5, rfm_recency = $6,"
        " rfm_frequency = $7, rfm_monetary = $8",
        seen.evaluated_at, seen.today, seen.time_zone, seen.since_xid, seen.program_key, seen.rfm.recency,
        seen.rfm.frequency, seen.rfm.monetary)
    await conn.execute("DELETE FROM segment_changes WHERE change_xid < $1", seen.since_xid)


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
