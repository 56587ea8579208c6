"""The customer card's SQL on a seeded database, read-only: how long one card's statements take at scale.

    python -m loadtests.card_sql DATABASE_URL [--cards 200] [--seed 1] [--explain]

Picks `--cards` random accounts (a seeded choice, so a second run with the same seed is the warm one), runs
the statements `GET /v1/accounts/{card}/insights` runs (app/customers/insights.py: the account, its
purchases, receipt times, categories and points; not the profile and the RFM boundaries, one-row look-ups
by primary key), and prints p50, p99 and max in ms, then the same for the account with the most receipts in
a 1/1000 sample. `--explain` adds EXPLAIN (ANALYZE, BUFFERS) of each statement for the first account. It
writes nothing, so it may run against a database that `loadtests.reports_bench --keep-database` kept.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import asyncpg

from app.accounts import repository as accounts
from app.customers import repository as cards

TIME_ZONE = "Europe/Moscow"


async def card_ms(conn: asyncpg.Connection, account_id: int) -> float:
    started = time.perf_counter()
    await cards.purchases(conn, account_id)
    await cards.receipt_times(conn, account_id, TIME_ZONE)
    await cards.categories(conn, account_id)
    await cards.points(conn, account_id)
    return (time.perf_counter() - started) * 1000


async def explain(conn: asyncpg.Connection, account_id: int) -> None:
    statements = {
        "purchases": "SELECT count(*), sum(purchase_amount - refunded_purchase), min(issued_at), max(issued_at) "
                     + cards._STANDING,
        "categories": cards._CATEGORIES,
        "points": "SELECT kind, sum(points)::bigint FROM ledger WHERE account_id = $1 GROUP BY kind",
    }
    for name, query in statements.items():
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, account_id)
        print(f"--- {name}\n" + "\n".join(row[0] for row in plan))


async def run(url: str, count: int, seed: int, with_plans: bool) -> None:
    conn = await asyncpg.connect(url)
    try:
        random.seed(seed)
        top = int(await conn.fetchval("SELECT max(id) FROM accounts"))
        numbers = [row["card"] for row in await conn.fetch(
            "SELECT card FROM accounts WHERE id = ANY($1::bigint[])", [random.randint(1, top) for _ in range(count)])]
        times = []
        for number in numbers:
            started = time.perf_counter()
            account = await accounts.get(conn, number)
            assert account is not None
            times.append((time.perf_counter() - started) * 1000 + await card_ms(conn, account.id))
        times.sort()
        print(f"{len(times)} random cards: p50 {statistics.median(times):.1f} ms, "
              f"p99 {times[max(0, int(len(times) * 0.99) - 1)]:.1f} ms, max {times[-1]:.1f} ms")
        heavy = await conn.fetchrow(
            "SELECT account_id, count(*) AS receipts FROM receipts WHERE account_id IS NOT NULL"
            " AND owner_id IN (SELECT id FROM accounts WHERE id % 1000 = 7) GROUP BY 1 ORDER BY 2 DESC LIMIT 1")
        if heavy is not None:
            print(f"the most receipts of a 1/1000 sample ({heavy['receipts']}): "
                  f"{await card_ms(conn, heavy['account_id']):.1f} ms")
        if with_plans and numbers:
            account = await accounts.get(conn, numbers[0])
            assert account is not None
            await explain(conn, account.id)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url")
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.cards, args.seed, args.explain))


if __name__ == "__main__":
    main()
