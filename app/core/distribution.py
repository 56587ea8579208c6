"""Where every table goes on a Citus cluster (deploy/SCALING.md section 4), and the step that puts it there.

The plan is data: colocation groups, each with its tables' distribution columns, reference tables, and
tables local to the coordinator. `tests/test_schema_plan.py` checks the migrated schema against it (a new
table must be placed before it can be created), and `distribute` applies it. `bonus-engine migrate` calls
`distribute` after the migrations when the database has the `citus` extension, so one set of migrations
serves plain PostgreSQL and a cluster; on plain PostgreSQL it does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Group:
    """Colocated tables: the rows with one value of the distribution column share a shard."""

    anchor: str
    tables: dict[str, str]  # table → distribution column, the anchor first
    shard_count: int


GROUPS = (
    # everything one account's transaction writes
    Group("accounts", {"accounts": "id", "lots": "account_id", "ledger": "account_id", "lot_moves": "account_id",
                       "adjustments": "account_id", "receipts": "owner_id", "refunds": "owner_id",
                       "report_accounts": "account_id", "report_members": "account_id", "profiles": "account_id",
                       "birthday_grants": "account_id", "report_holdout": "account_id",
                       "report_holdout_members": "account_id",
                       "segment_changes": "account_id"},
          shard_count=128),
    # keyed by what clients send: a card, a receipt id, a coupon or certificate code
    Group("cards", {"cards": "card", "receipt_claims": "receipt_id", "coupon_codes": "code", "coupon_uses": "code",
                    "shared_coupon_codes": "code", "gift_certificates": "code", "certificate_moves": "code"},
          shard_count=64),
    # the ABC summary per store, day and key (millions of rows, too many to copy to every node): a store's
    # report reads one shard
    Group("report_store_items", {"report_store_items": "store_id"}, shard_count=32),
)
# small, read everywhere, rarely written; first, so that distributed tables may keep foreign keys to them
REFERENCE = ("programs", "api_keys", "cache_state", "coupon_batches", "report_state", "report_sales",
             "report_campaigns", "report_points", "report_expiry", "report_rfm",
             "report_items", "segments", "segment_state", "simulations")
LOCAL = frozenset({"alembic_version"})  # the migrations' bookkeeping, on the coordinator only

DISTRIBUTED = {table: (group, column) for group in GROUPS for table, column in group.tables.items()}


async def is_citus(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"))


async def distribute(conn: asyncpg.Connection) -> list[str]:
    """Place every table of the plan that is not placed yet; returns what it did, one line a table. Run
    again after a migration adds a table: what is placed already is left alone."""
    if not await is_citus(conn):
        return []
    placed = {row["name"] for row in await conn.fetch(
        "SELECT logicalrelid::regclass::text AS name FROM pg_dist_partition")}
    done = []
    for table in REFERENCE:
        if table not in placed:
            await conn.execute("SELECT create_reference_table($1)", table)
            done.append(f"{table}: reference table")
    for group in GROUPS:
        for table, column in group.tables.items():
            if table in placed:
                continue
            if table == group.anchor:
                await conn.execute("SELECT create_distributed_table($1, $2, shard_count => $3)", table, column,
                                   group.shard_count)
            else:
                await conn.execute("SELECT create_distributed_table($1, $2, colocate_with => $3)", table, column,
                                   group.anchor)
            done.append(f"{table}: distributed by {column}" + ("" if table == group.anchor else
                                                                f", colocated with {group.anchor}"))
    return done
