"""All SQL of simulations: the stored receipts of a period, the accounts' state at its start, and the jobs.

The receipt and account reads are streamed through server-side cursors (the caller holds a transaction), so
a period of a million receipts never sits in memory as rows; each is one set-based statement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import asyncpg

PREFETCH_ROWS = 2000  # rows a cursor fetches per round trip

# Receipts that were confirmed (whatever happened to them after: refunds are not replayed), in the order they
# were confirmed: created_at is the confirming transaction's start, so the receipts of one group commit tie
# and are ordered by issued_at, then by id.
_PERIOD = "issued_at >= $1 AND issued_at < $2 AND status <> 'pending'"
# One of `count` parts by owner (the account, or the cardless receipt's own negative number): every receipt of
# an account in one part. $3 = the part, $4 = the count; the modulo of a negative number is negative in SQL.
_PART = " AND ((owner_id % $4) + $4) % $4 = $3"

Part = tuple[int, int]  # (index, count)
WHOLE: Part = (0, 1)


async def count_receipts(conn: asyncpg.Connection, start: datetime, end: datetime,
                         part: Part = WHOLE) -> tuple[int, int]:
    """(receipts with a stored body, receipts confirmed before bodies were stored) in [start, end)."""
    row = await conn.fetchrow(f"SELECT count(body) AS stored, count(*) - count(body) AS bodiless FROM receipts"
                              f" WHERE {_PERIOD}{_PART}", start, end, *part)
    return int(row["stored"]), int(row["bodiless"])


async def bodies(conn: asyncpg.Connection, start: datetime, end: datetime,
                 part: Part = WHOLE) -> AsyncIterator[str]:
    """The stored request bodies of [start, end) as JSON text, in confirm order; inside a transaction."""
    query = (f"SELECT body::text AS body FROM receipts WHERE {_PERIOD}{_PART} AND body IS NOT NULL"
             " ORDER BY created_at, issued_at, receipt_id")
    async for row in conn.cursor(query, start, end, *part, prefetch=PREFETCH_ROWS):
        yield row["body"]


# Every account with a receipt in [$1, $2) and its state at $1, in one statement:
# - tier purchases: standing receipts in [$3, $1) as dated amounts (refunds taken off), first and last purchase
#   before $1 (as app.accounts.repository's purchase facts count them today);
# - points: each lot's remaining as the moves of the entries made before $1 left it, for lots not expired at
#   $1. An entry of a receipt counts at the receipt's issued_at (the time the simulation runs on), any other
#   entry (refunds, adjustments, bonuses, expiry) at its created_at. Debt settlements (moves without an entry)
#   and the debt itself are left out;
# - blocked, custom segments and birth date as the account holds them now (the service keeps no history).
_OPENINGS = """
WITH members AS (
    SELECT DISTINCT account_id FROM receipts WHERE issued_at >= $1 AND issued_at < $2 AND status <> 'pending'
                                               AND account_id IS NOT NULL AND ((account_id % $5) + $5) % $5 = $4
), purchases AS (
    SELECT r.account_id,
           array_agg(r.issued_at ORDER BY r.issued_at) FILTER (WHERE r.issued_at >= $3) AS purchased_at,
           array_agg(r.purchase_amount - r.refunded_purchase ORDER BY r.issued_at)
               FILTER (WHERE r.issued_at >= $3) AS purchased,
           min(r.issued_at) AS first_purchase, max(r.issued_at) AS last_purchase
    FROM members m JOIN receipts r ON r.owner_id = m.account_id AND r.account_id = m.account_id
    WHERE r.status IN ('confirmed', 'partially_refunded') AND r.issued_at < $1
    GROUP BY r.account_id
), moved AS (
    SELECT mv.account_id, mv.lot_id, sum(mv.points)::bigint AS remaining  -- points are integers (rules.Lot)
    FROM members m
    JOIN lot_moves mv ON mv.account_id = m.account_id AND mv.lot_id IS NOT NULL
    JOIN ledger l ON l.account_id = mv.account_id AND l.id = mv.entry_id
    LEFT JOIN receipts r ON l.refund_id IS NULL AND l.receipt_id IS NOT NULL
                        AND r.owner_id = l.account_id AND r.receipt_id = l.receipt_id
    WHERE coalesce(r.issued_at, l.created_at) < $1
    GROUP BY mv.account_id, mv.lot_id
), points AS (
    SELECT s.account_id, array_agg(s.remaining ORDER BY lo.id) AS remaining,
           array_agg(lo.available_at ORDER BY lo.id) AS available_at,
           array_agg(lo.expires_at ORDER BY lo.id) AS expires_at
    FROM moved s JOIN lots lo ON lo.account_id = s.account_id AND lo.id = s.lot_id
    WHERE s.remaining > 0 AND (lo.expires_at IS NULL OR lo.expires_at > $1)
    GROUP BY s.account_id
)
SELECT a.card, a.status = 'blocked' AS blocked, a.segments, a.birth_date,
       p.purchased_at, p.purchased, p.first_purchase, p.last_purchase,
       pt.remaining, pt.available_at, pt.expires_at
FROM members m JOIN accounts a ON a.id = m.account_id
LEFT JOIN purchases p ON p.account_id = m.account_id
LEFT JOIN points pt ON pt.account_id = m.account_id
WHERE a.created_at < $1 OR p.account_id IS NOT NULL OR pt.account_id IS NOT NULL
"""


async def openings(conn: asyncpg.Connection, start: datetime, end: datetime,
                   window_start: datetime, part: Part = WHOLE) -> AsyncIterator[asyncpg.Record]:
    """The state at `start` of every account that has a receipt in [start, end) and existed then (created
    before, or with purchases or points from before: a receipt confirmed late enrols a card after its time);
    other accounts are not here (the simulation enrols them as a receipt would). Inside a transaction."""
    async for row in conn.cursor(_OPENINGS, start, end, window_start, *part, prefetch=PREFETCH_ROWS):
        yield row


# ------------------------------------------------------------------------------------------------- jobs

JOB_COLUMNS = ("id, status, period_from, period_to, baseline_version, author, receipts_done, receipts_total, error,"
               " created_at, started_at, finished_at")


async def insert_job(conn: asyncpg.Connection, period_from: date, period_to: date, program: dict[str, Any],
                     baseline: dict[str, Any], baseline_version: int, author: str | None) -> int:
    return int(await conn.fetchval(
        "INSERT INTO simulations (period_from, period_to, program, baseline, baseline_version, author)"
        " VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6) RETURNING id",
        period_from, period_to, program, baseline, baseline_version, author,
    ))


async def queued_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM simulations WHERE status = 'queued'"))


async def job(conn: asyncpg.Connection, job_id: int, *, documents: bool = False) -> asyncpg.Record | None:
    extra = ", program, baseline" if documents else ""
    return await conn.fetchrow(f"SELECT {JOB_COLUMNS}, result{extra} FROM simulations WHERE id = $1", job_id)


async def jobs_page(conn: asyncpg.Connection, limit: int, before_id: int | None) -> list[asyncpg.Record]:
    """Newest first: `limit` + 1 rows (one more tells whether there is a next page)."""
    return await conn.fetch(
        f"SELECT {JOB_COLUMNS} FROM simulations WHERE $2::bigint IS NULL OR id < $2 ORDER BY id DESC LIMIT $1",
        limit + 1, before_id,
    )


async def claim(conn: asyncpg.Connection, runner: str) -> int | None:
    """The oldest queued job, now running under `runner`; None when none is queued. A job claimed by another
    instance in between fails the `status = 'queued'` check again after its update commits: one claim wins."""
    return await conn.fetchval(
        "UPDATE simulations SET status = 'running', runner = $1, started_at = now(), heartbeat_at = now()"
        " WHERE id = (SELECT id FROM simulations WHERE status = 'queued' ORDER BY id LIMIT 1)"
        " AND status = 'queued' RETURNING id",
        runner,
    )


async def claim_one(conn: asyncpg.Connection, job_id: int, runner: str) -> bool:
    """Job `job_id`, if still queued, now running under `runner` (a run started by hand)."""
    return await conn.fetchval(
        "UPDATE simulations SET status = 'running', runner = $2, started_at = now(), heartbeat_at = now()"
        " WHERE id = $1 AND status = 'queued' RETURNING true", job_id, runner,
    ) is not None


async def adopt(conn: asyncpg.Connection, job_id: int, runner: str) -> bool:
    """The job's process says it is the one running it (claimed for it by its serving instance)."""
    return await conn.fetchval(
        "UPDATE simulations SET runner = $2, heartbeat_at = now() WHERE id = $1 AND status = 'running'"
        " RETURNING true", job_id, runner,
    ) is not None


async def progress(conn: asyncpg.Connection, job_id: int, done: int, total: int | None) -> None:
    await conn.execute(
        "UPDATE simulations SET receipts_done = $2, receipts_total = coalesce($3, receipts_total),"
        " heartbeat_at = now() WHERE id = $1 AND status = 'running'", job_id, done, total,
    )


async def finish(conn: asyncpg.Connection, job_id: int, done: int, result: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE simulations SET status = 'done', receipts_done = $2, result = $3::jsonb, finished_at = now(),"
        " heartbeat_at = now() WHERE id = $1 AND status = 'running'", job_id, done, result,
    )


async def fail(conn: asyncpg.Connection, job_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE simulations SET status = 'failed', error = $2, finished_at = now() WHERE id = $1"
        " AND status IN ('queued', 'running')", job_id, error,
    )


async def fail_stale(conn: asyncpg.Connection, stale_s: float) -> list[int]:
    """Running jobs whose process has written nothing for `stale_s` (it died, or its instance did): failed."""
    rows = await conn.fetch(
        "UPDATE simulations SET status = 'failed', finished_at = now(),"
        " error = 'its process stopped reporting progress (killed, or its instance restarted); submit it again'"
        " WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1) RETURNING id", stale_s,
    )
    return [int(row["id"]) for row in rows]
