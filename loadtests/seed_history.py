"""Seed a year of history in bulk with SQL (generate_series), for the report benchmark; no HTTP.

    python -m loadtests.seed_history --accounts 1000000 --receipts 10000000   # DATABASE_URL: a migrated database

What it writes, all dated within the last 365 days (UTC):
- accounts with cards `29` + 11 digits (as loadtests.seed.card_of), 70% with a phone, created any time in the year;
- receipts in about 100 stores (`s1` is the biggest), more at weekends, in December and as the year goes on,
  09:00 to 22:00; 80% with a card, the member drawn from a power law (the busiest ~300 receipts a year,
  most a few); 1 to 10 lines, each one of 1,000 SKUs in 20 categories, also drawn from a power law (a tenth
  of the SKUs sell two thirds of the lines), for the ABC report; 96% confirmed, 1% refunded, 1% cancelled, 2%
  partially refunded (half of every line back), each of the last three with its `refunds` row naming the
  lines it returned; 30% with one campaign of the example program;
- a control group for the uplift report: every carded receipt is eligible for the example program's first
  campaign (`HOLDOUT_CAMPAIGN`), and a tenth of the members (account id ending in 0) are held out of it: a
  row of `report_holdout` per member and day, the most a campaign can have;
- per carded receipt: an accrual of 3% (a lot available after 14 days, expiring 365 days after the
  purchase, its ledger entry and lot move), and for a refund the accrual reversal (all or half of the
  points) with its lot move, so that `bonus-engine audit` stays clean.

Coupon uses, redemptions, bonuses and expiries are not seeded. Foreign keys are not checked while seeding
(session_replication_role = replica: the rows are consistent by construction, the audit proves it on a
small run) and secondary indexes are built after the rows: each step is then one sequential pass. It writes
the schema at migration 0004 (receipts and refunds keyed by owner, `cards`, `receipt_claims`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from app.core.db import asyncpg_dsn

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("accounts", "cards", "receipts", "receipt_claims", "refunds", "ledger", "lots", "lot_moves")
# the owner of a receipt without an account (migration 0004: receipts and refunds are keyed by owner)
CARDLESS_OWNER = importlib.import_module("migrations.versions.0004_citus_keys").CARDLESS_OWNER
FINGERPRINT = bytes(32)  # a sha256's size; nothing re-checks seeded bodies
# what a campaign of each type gives on a receipt: a discount, points (a part of the accrual) or neither
GIVES = {"receipt_discount": "discount", "n_for_m": "discount", "quantity_discount": "discount",
         "coupon": "discount", "accrual": "points", "bonus": "points"}


def example_campaigns() -> list[tuple[int, str, str, str]]:
    """(index, id, name, what it gives) of the example program's campaigns that act on receipts."""
    document = yaml.safe_load((ROOT / "rules" / "examples" / "program.yaml").read_text())
    found = [c for c in document["campaigns"] if c.get("trigger") != "registration"]
    return [(i, c["id"], c["name"], GIVES.get(c["type"], "")) for i, c in enumerate(found)]


# the campaign every carded receipt is eligible for, with a tenth of the members held out
HOLDOUT_CAMPAIGN = example_campaigns()[0][1]


# The year's days (the 365 days before today), weighted, and the range of receipt numbers each gets.
_DAYS = """
CREATE TEMP TABLE seed_days AS
WITH d AS (
    SELECT day::date, g FROM generate_series(1, 365) g,
         LATERAL (SELECT (now() AT TIME ZONE 'UTC')::date - g AS day) x
), w AS (
    SELECT day, (1.6 - 0.6 * g / 365.0)                                       -- the program grows
              * CASE extract(isodow FROM day) WHEN 5 THEN 1.2 WHEN 6 THEN 1.5 WHEN 7 THEN 1.3 ELSE 1 END
              * CASE extract(month FROM day) WHEN 12 THEN 1.3 ELSE 1 END AS w  -- numeric: exact sums
    FROM d
), c AS (
    SELECT day, sum(w) OVER (ORDER BY day) AS upto, w, sum(w) OVER () AS total FROM w
)
SELECT day, floor($1::bigint * (upto - w) / total)::bigint AS first,
       floor($1::bigint * upto / total)::bigint - floor($1::bigint * (upto - w) / total)::bigint AS n
FROM c ORDER BY day
"""

# Receipt lines: LINE_VARIANTS arrays of each length 1..10, every line one of the SKUs (`SKU-0000` the most
# sold, category `cat-00` its first 50) at its own price, as app/receipts/result.stored_lines keeps them (the
# figures reports and refunds read). A receipt takes one array; its purchase is the array's total. `half` and
# `whole` are what a partial refund (half of each line) and a full one return, as the refund's lines.
LINE_VARIANTS = 2000
SKUS = 1000
_LINES = f"""
CREATE TEMP TABLE seed_lines AS
WITH drawn AS (
    SELECT n, v, g, floor({SKUS} * random() ^ 6)::int AS sku, (90 + floor(4000 * random())::bigint) * 100 AS price
    FROM generate_series(1, 10) n, generate_series(0, {LINE_VARIANTS} - 1) v, generate_series(1, n) g
)
SELECT n, v, sum(price)::bigint AS total,
       jsonb_agg(jsonb_build_object(
           'line_id', g::text, 'sku', 'SKU-' || lpad(sku::text, 4, '0'),
           'category', 'cat-' || lpad((sku * 20 / {SKUS})::text, 2, '0'), 'quantity', '1', 'returned', '0',
           'sells_certificate', false, 'figures', jsonb_build_object('amount', price, 'discount', 0),
           'refunded', '{{}}'::jsonb) ORDER BY g) AS lines,
       json_agg(json_build_object('line_id', g::text, 'quantity', '0.5', 'amount', price / 2, 'discount', 0)
                ORDER BY g) AS half,
       json_agg(json_build_object('line_id', g::text, 'quantity', '1', 'amount', price, 'discount', 0)
                ORDER BY g) AS whole
FROM drawn GROUP BY n, v
"""

# Every random choice of a receipt, drawn once (a subquery with volatile outputs is not flattened, so each
# draw is made once per row) and kept: receipts, refunds, lots, ledger and moves read the same draws.
_DRAWS = f"""
CREATE TEMP TABLE seed_draws AS
SELECT i, issued_at, account_id, coalesce(account_id, {CARDLESS_OWNER.replace("receipt_id", "('r' || i)")}) AS owner,
       store, n_lines, variant, purchase, status, campaign,
       CASE WHEN status = 'confirmed' THEN 0 WHEN status = 'partially_refunded' THEN purchase / 2
            ELSE purchase END AS refunded,
       least(issued_at + (1 + floor(14 * refund_u)) * interval '1 day', now()) AS refund_at
FROM (
    SELECT i, issued_at, account_id, store, n_lines, variant, l.total AS purchase,
           CASE WHEN status_u < 0.01 THEN 'refunded' WHEN status_u < 0.02 THEN 'cancelled'
                WHEN status_u < 0.04 THEN 'partially_refunded' ELSE 'confirmed' END AS status,
           CASE WHEN campaign_u < 0.3 THEN floor(campaign_u / 0.3 * $2::int)::int END AS campaign, refund_u
    FROM (
        SELECT d.first + k + 1 AS i,
               (d.day::timestamp AT TIME ZONE 'UTC') + interval '9 hours' + random() * interval '13 hours' AS issued_at,
               CASE WHEN random() < 0.8
                    THEN 1 + floor($1::bigint * (0.1 + 0.9 * random()) ^ 3)::bigint END AS account_id,
               1 + floor(100 * random() ^ 2)::int AS store, 1 + floor(10 * random())::int AS n_lines,
               floor($3::int * random())::int AS variant, random() AS status_u, random() AS campaign_u,
               random() AS refund_u
        FROM seed_days d, generate_series(0, d.n - 1) k
    ) AS raw JOIN seed_lines l ON l.n = raw.n_lines AND l.v = raw.variant
) AS drawn
"""

# points: 3% of the purchase; reversed: all of them for a refund or cancel, half for a partial refund
_POINTS = "(d.purchase * 3 / 100)"
_REVERSED = f"(CASE WHEN d.refunded = 0 THEN 0 WHEN d.refunded = d.purchase THEN {_POINTS} ELSE {_POINTS} / 2 END)"

_ACCOUNTS = """
INSERT INTO accounts (id, card, phone, created_at)
SELECT i, '29' || lpad(i::text, 11, '0'), CASE WHEN random() < 0.7 THEN '+7' || (9000000000 + i) END,
       now() - random() * interval '365 days'
FROM generate_series(1, $1::bigint) i
"""

_RECEIPTS = f"""
INSERT INTO receipts (receipt_id, owner_id, fingerprint, account_id, store_id, issued_at, status, program_version,
                      purchase_amount, refunded_purchase, lines, links, result, created_at)
SELECT 'r' || d.i, d.owner, $1::bytea, d.account_id, 's' || d.store, d.issued_at, d.status, 1, d.purchase,
       d.refunded, l.lines,
       CASE WHEN d.account_id IS NULL THEN '{{}}'::jsonb
            ELSE jsonb_build_object('accrual_lot', d.i, 'bonus_lots', '[]'::jsonb, 'return_entries', '[]'::jsonb) END,
       json_build_object(
           'receipt_id', 'r' || d.i, 'status', d.status, 'program_version', 1,
           'card_status', CASE WHEN d.account_id IS NULL THEN 'none' ELSE 'ok' END,
           'totals', json_build_object('amount', d.purchase, 'discount', 0, 'points_redeemed', 0,
                                       'points_accrued', CASE WHEN d.account_id IS NULL THEN 0 ELSE {_POINTS} END),
           'campaigns', CASE WHEN c.id IS NULL THEN '[]'::json ELSE json_build_array(json_build_object(
               'id', c.id, 'name', c.name,
               'discount', CASE WHEN c.gives = 'discount' THEN d.purchase / 20 ELSE 0 END,
               'points', CASE WHEN c.gives = 'points' AND d.account_id IS NOT NULL THEN {_POINTS} / 3 ELSE 0 END))
           END,
           'holdout', CASE WHEN d.account_id IS NOT NULL THEN json_build_object(
               'treated', CASE WHEN d.account_id % 10 = 0 THEN '[]'::json ELSE json_build_array($2::text) END,
               'held_out', CASE WHEN d.account_id % 10 = 0 THEN json_build_array($2::text) ELSE '[]'::json END)
           END),
       d.issued_at
FROM seed_draws d JOIN seed_lines l ON l.n = d.n_lines AND l.v = d.variant
LEFT JOIN seed_campaigns c ON c.idx = d.campaign
"""

# the response a refund stores: the receipt's new status on top, and what this refund took back
_REFUNDS = f"""
INSERT INTO refunds (receipt_id, owner_id, refund_id, fingerprint, account_id, store_id, refund, purchase_refunded,
                     created_at)
SELECT 'r' || d.i, d.owner, CASE d.status WHEN 'cancelled' THEN '~cancel' ELSE 'f1' END, $1::bytea, d.account_id,
       's' || d.store,
       json_build_object('status', d.status, 'refund', json_build_object(
           'refund_id', CASE d.status WHEN 'cancelled' THEN '~cancel' ELSE 'f1' END, 'created_at', d.refund_at,
           'lines', CASE d.status WHEN 'partially_refunded' THEN l.half ELSE l.whole END,
           'totals', json_build_object('amount', d.refunded, 'discount', 0, 'points_redeemed', 0,
                                       'points_accrued', CASE WHEN d.account_id IS NULL THEN 0 ELSE {_REVERSED} END))),
       d.refunded, d.refund_at
FROM seed_draws d JOIN seed_lines l ON l.n = d.n_lines AND l.v = d.variant WHERE d.refunded > 0
"""

# a carded receipt's lot, accrual entry and move share its number i; a reversal entry is $1 + i
_LOTS = f"""
INSERT INTO lots (id, account_id, amount, remaining, available_at, expires_at, created_at)
SELECT d.i, d.account_id, {_POINTS}, {_POINTS} - {_REVERSED}, d.issued_at + interval '14 days',
       d.issued_at + interval '365 days', d.issued_at
FROM seed_draws d WHERE d.account_id IS NOT NULL
"""

_ACCRUALS = f"""
INSERT INTO ledger (id, account_id, kind, points, receipt_id, lot_id, created_at, available_at, expires_at)
SELECT d.i, d.account_id, 'accrual', {_POINTS}, 'r' || d.i, d.i, d.issued_at, d.issued_at + interval '14 days',
       d.issued_at + interval '365 days'
FROM seed_draws d WHERE d.account_id IS NOT NULL
"""

_REVERSALS = f"""
INSERT INTO ledger (id, account_id, kind, points, receipt_id, refund_id, reason, created_at)
SELECT $1::bigint + d.i, d.account_id, 'accrual_reversal', -{_REVERSED}, 'r' || d.i,
       CASE WHEN d.status <> 'cancelled' THEN 'f1' END, CASE WHEN d.status = 'cancelled' THEN 'cancel' END, d.refund_at
FROM seed_draws d WHERE d.account_id IS NOT NULL AND d.refunded > 0
"""

_CLAIMS = """
INSERT INTO receipt_claims (receipt_id, fingerprint, issued_at, owner_id, created_at)
SELECT receipt_id, fingerprint, issued_at, owner_id, created_at FROM receipts
"""

_MOVES = """
INSERT INTO lot_moves (account_id, entry_id, lot_id, points)
SELECT account_id, id, CASE WHEN id > $1::bigint THEN id - $1::bigint ELSE id END, points FROM ledger
"""


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the seeded tables' indexes that back no constraint (primary keys stay)."""
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1::text[])"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)", list(TABLES))
    return [(row["indexname"], row["indexdef"]) for row in rows]


async def seed_history(conn: asyncpg.Connection, accounts: int, receipts: int,
                       log: Callable[[str], Any] = print) -> dict[str, float]:
    """Seed a freshly migrated database (no accounts, receipts or ledger yet); returns each step's seconds."""
    timings: dict[str, float] = {}

    async def step(name: str, statement: str, *args: Any) -> None:
        started = time.perf_counter()
        status = await conn.execute(statement, *args)
        timings[name] = round(time.perf_counter() - started, 1)
        log(f"  {name}: {timings[name]} s ({status})")

    campaigns = example_campaigns()
    await conn.execute("SET session_replication_role = replica")  # no FK triggers: consistent by construction
    await conn.execute("SET maintenance_work_mem = '1GB'")
    await conn.execute("SET work_mem = '256MB'")
    indexes = await _secondary_indexes(conn)
    for name, _ in indexes:  # built again after the rows: one sort each instead of 10M random inserts
        await conn.execute(f"DROP INDEX {name}")
    await conn.execute(_LINES)
    await conn.execute("CREATE UNIQUE INDEX ON seed_lines (n, v)")
    await conn.execute("CREATE TEMP TABLE seed_campaigns (idx int, id text, name text, gives text)")
    await conn.executemany("INSERT INTO seed_campaigns VALUES ($1, $2, $3, $4)", campaigns)
    await step("days", _DAYS, receipts)
    await step("draws", _DRAWS, accounts, len(campaigns), LINE_VARIANTS)
    await step("accounts", _ACCOUNTS, accounts)
    await step("cards", "INSERT INTO cards (card, account_id) SELECT card, id FROM accounts")
    await step("receipts", _RECEIPTS, FINGERPRINT, HOLDOUT_CAMPAIGN)
    await step("receipt claims", _CLAIMS)
    await step("refunds", _REFUNDS, FINGERPRINT)
    await step("lots", _LOTS)
    await step("ledger accruals", _ACCRUALS)
    await step("ledger reversals", _REVERSALS, receipts)
    await step("lot moves", _MOVES, receipts)
    for name, statement in indexes:
        await step(f"index {name}", statement)
    for table in ("accounts", "ledger", "lots", "lot_moves"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    await conn.execute("RESET session_replication_role")
    await conn.execute("DROP TABLE seed_days, seed_draws, seed_lines, seed_campaigns")
    await step("analyze", f"ANALYZE {', '.join(TABLES)}")
    return timings


async def _main(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(args.database_url))
    try:
        started = time.perf_counter()
        await seed_history(conn, args.accounts, args.receipts)
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"seeded in {time.perf_counter() - started:.1f} s; database size {size}")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.seed_history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="a migrated database")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--receipts", type=int, default=10_000_000)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
