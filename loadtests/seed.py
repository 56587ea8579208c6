"""Seed a benchmark database in bulk with SQL (generate_series): accounts with points, and ledger history.

Every seeded row keeps the audit's invariants: each account gets one lot of 1,000.00 points with its
ledger entry and lot move; extra ledger rows come as redemption/return pairs on that lot (net zero).
"""

from __future__ import annotations

import asyncpg

SEED_POINTS = 100_000


def card_of(index: int) -> str:
    return f"29{index:011d}"


async def seed(conn: asyncpg.Connection, accounts: int, ledger_rows: int = 0) -> None:
    await conn.execute(
        "INSERT INTO accounts (id, card) SELECT i, '29' || lpad(i::text, 11, '0') FROM generate_series(1, $1) i",
        accounts,
    )
    await conn.execute(
        "INSERT INTO cards (card, account_id) SELECT '29' || lpad(i::text, 11, '0'), i FROM generate_series(1, $1) i",
        accounts,
    )
    await conn.execute(
        "INSERT INTO lots (id, account_id, amount, remaining, available_at, expires_at)"
        " SELECT i, i, $2, $2, now() - interval '1 day', now() + interval '300 days' FROM generate_series(1, $1) i",
        accounts, SEED_POINTS,
    )
    await conn.execute(
        "INSERT INTO ledger (id, account_id, kind, points, reason, author, lot_id, available_at, expires_at)"
        " SELECT i, i, 'adjustment', $2, 'benchmark seed', 'bench', i, now() - interval '1 day',"
        " now() + interval '300 days' FROM generate_series(1, $1) i",
        accounts, SEED_POINTS,
    )
    await conn.execute(
        "INSERT INTO lot_moves (account_id, entry_id, lot_id, points) SELECT i, i, i, $2 FROM generate_series(1, $1) i",
        accounts, SEED_POINTS,
    )
    pairs = ledger_rows // 2
    if pairs:
        # entry ids after the seed entries: 2k+1 is a redemption of 1.00 from account (k mod N)+1, 2k+2 its return
        await conn.execute(
            """
            INSERT INTO ledger (id, account_id, kind, points, reason, author, created_at)
            SELECT $1 + 2 * k + r, (k % $3) + 1, CASE r WHEN 1 THEN 'redemption' ELSE 'redemption_return' END,
                   CASE r WHEN 1 THEN -100 ELSE 100 END, 'benchmark history', 'bench',
                   now() - make_interval(mins => (k % 500000))
            FROM generate_series(0, $2 - 1) k, (VALUES (1), (2)) AS v(r)
            """,
            accounts, pairs, accounts,
        )
        await conn.execute(
            """
            INSERT INTO lot_moves (account_id, entry_id, lot_id, points)
            SELECT (k % $3) + 1, $1 + 2 * k + r, (k % $3) + 1, CASE r WHEN 1 THEN -100 ELSE 100 END
            FROM generate_series(0, $2 - 1) k, (VALUES (1), (2)) AS v(r)
            """,
            accounts, pairs, accounts,
        )
    for table in ("accounts", "lots", "ledger", "lot_moves"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    await conn.execute("ANALYZE")
