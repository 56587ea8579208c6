"""SQL for receipts and refunds.

A receipt id is claimed in `receipt_claims` (keyed by receipt_id: the service-wide idempotency guard). The
receipt itself is stored under its owner, `owner_id`: the account, so that an account's receipts live with
it (deploy/SCALING.md section 4), or for a receipt without an account a negative number from its id. The
claim names the owner, so every read by receipt_id goes claim → owner → receipt, in one statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from app.accounts.repository import COLUMNS as ACCOUNT_COLUMNS
from app.accounts.repository import AccountRow
from app.core.db import on_citus, rows_as_values
from app.core.rowsets import values_list

_OWNER_BITS = 0x7FFF_FFFF_FFFF_FFFF
_ACCOUNT_COLUMNS = ", ".join(f"a.{column}" for column in ACCOUNT_COLUMNS.split(", "))

# one statement: the claim's owner (a scalar subquery, read first), then the receipt on that owner's shard
_BY_ID = "owner_id = (SELECT owner_id FROM receipt_claims WHERE receipt_id = $1) AND receipt_id = $1"


def _json(document: Any) -> str:
    return orjson.dumps(document).decode()


def cardless_owner(receipt_id: str) -> int:
    """The owner of a receipt without an account: negative, so it never meets an account id, and spread by
    a hash of the receipt id. Migration 0004 computes the same number in SQL for the receipts it keyed."""
    digest = hashlib.sha256(receipt_id.encode()).digest()
    return -1 - (int.from_bytes(digest[:8], "big") & _OWNER_BITS)


async def claim(conn: asyncpg.Connection, receipt_id: str, fingerprint: bytes, issued_at: datetime) -> bool:
    """Claim the receipt id. False if it is claimed; a concurrent duplicate waits here for the first one's
    commit (or rollback) before it gets its answer. The owner is filled in by `insert_confirmed_many`."""
    claimed = await conn.fetchval(
        "INSERT INTO receipt_claims (receipt_id, fingerprint, issued_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (receipt_id) DO NOTHING RETURNING true",
        receipt_id, fingerprint, issued_at,
    )
    return bool(claimed)


async def claim_many(conn: asyncpg.Connection, claims: list[tuple[str, bytes, datetime]]) -> set[str]:
    """Claim many receipt ids in id order (the one order every batch takes); returns those claimed."""
    claims = sorted(claims)
    if rows_as_values(conn):  # on Citus: routed row by row, not through the coordinator (app/core/rowsets.py)
        values, args = values_list(claims, ("{}::text", "{}::bytea", "{}::timestamptz"), 1)
        rows = await conn.fetch(f"INSERT INTO receipt_claims (receipt_id, fingerprint, issued_at) VALUES {values}"
                                " ON CONFLICT (receipt_id) DO NOTHING RETURNING receipt_id", *args)
        return {row["receipt_id"] for row in rows}
    rows = await conn.fetch(
        "INSERT INTO receipt_claims (receipt_id, fingerprint, issued_at)"
        " SELECT c.receipt_id, c.fingerprint, c.issued_at"
        " FROM unnest($1::text[], $2::bytea[], $3::timestamptz[]) WITH ORDINALITY AS c(receipt_id, fingerprint,"
        " issued_at, n) ORDER BY c.n"
        " ON CONFLICT (receipt_id) DO NOTHING RETURNING receipt_id",
        [c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims],
    )
    return {row["receipt_id"] for row in rows}


async def get_many(conn: asyncpg.Connection, receipt_ids: list[str]) -> dict[str, asyncpg.Record]:
    """The receipts of claimed ids, each by its claim's owner (a receipt without a claim is not found)."""
    rows = await conn.fetch(
        "SELECT receipt_id, fingerprint, status, result FROM receipts WHERE (owner_id, receipt_id) IN"
        " (SELECT owner_id, receipt_id FROM receipt_claims WHERE receipt_id = ANY($1::text[]))",
        receipt_ids,
    )
    return {row["receipt_id"]: row for row in rows}


_RECEIPT = ("SELECT receipt_id, owner_id, fingerprint, account_id, store_id, issued_at, status, program_version,"
            " purchase_amount, refunded_purchase, lines, links, result FROM receipts")


async def get(conn: asyncpg.Connection, receipt_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    if lock and on_citus(conn):  # a row lock must name its shard when planned: the claim's owner first
        owner_id = await conn.fetchval("SELECT owner_id FROM receipt_claims WHERE receipt_id = $1", receipt_id)
        if owner_id is None:
            return None
        return await conn.fetchrow(f"{_RECEIPT} WHERE owner_id = $1 AND receipt_id = $2 FOR UPDATE",
                                   owner_id, receipt_id)
    return await conn.fetchrow(f"{_RECEIPT} WHERE {_BY_ID}" + (" FOR UPDATE" if lock else ""), receipt_id)


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A confirmed receipt's row, written once, complete: a distributed table cannot move a row to another
    owner later."""

    receipt_id: str
    owner_id: int
    account_id: int | None
    fingerprint: bytes
    store_id: str
    issued_at: datetime
    program_version: int
    purchase_amount: int
    lines: list[dict[str, Any]]
    links: dict[str, Any]
    result: dict[str, Any]
    body: str  # the validated request as JSON text (migration 0015): what simulations replay


# The confirmed receipts written under their owners, their claims naming the owners, and the claims of
# `unclaimed` dropped; parameters numbered from {first}, so that the ledger's flush can carry them. The keys
# are named with `= ANY`, and their absence said, so that Citus goes to their shards only (see book.py).
_OWNED_CTE = """owned AS (
    UPDATE receipt_claims SET owner_id = o.owner_id
    FROM unnest(${p0}::text[], ${p1}::bigint[]) AS o(receipt_id, owner_id)
    WHERE receipt_claims.receipt_id = o.receipt_id AND receipt_claims.receipt_id = ANY(${p0}::text[])
      AND cardinality(${p0}::text[]) > 0
)"""
_DROPPED_CTE = """dropped AS (
    DELETE FROM receipt_claims WHERE receipt_id = ANY(${p0}::text[]) AND cardinality(${p0}::text[]) > 0
)"""
_CLAIMS_CTES = "\n" + _OWNED_CTE + ", " + _DROPPED_CTE.replace("{p0}", "{p2}")
_RECEIPT_COLUMNS = ("receipts (receipt_id, owner_id, account_id, fingerprint, store_id, issued_at, status,"
                    " program_version, purchase_amount, lines, links, result, body)")
_WRITTEN_CTE = """, written AS (
    INSERT INTO """ + _RECEIPT_COLUMNS + """
    SELECT r.receipt_id, r.owner_id, r.account_id, r.fingerprint, r.store_id, r.issued_at, 'confirmed',
           r.program_version, r.purchase_amount, r.lines::jsonb, r.links::jsonb, r.result::json, r.body::json
    FROM unnest(${p0}::text[], ${p1}::bigint[], ${p2}::bigint[], ${p3}::bytea[], ${p4}::text[],
                ${p5}::timestamptz[], ${p6}::int[], ${p7}::bigint[], ${p8}::text[], ${p9}::text[], ${p10}::text[],
                ${p11}::text[])
         AS r(receipt_id, owner_id, account_id, fingerprint, store_id, issued_at, program_version,
              purchase_amount, lines, links, result, body)
)"""
# each value's expression in the VALUES form (Citus: app/core/rowsets.py); documents go as text, as above
_RECEIPT_VALUES = ("{}::text", "{}::bigint", "{}::bigint", "{}::bytea", "{}::text", "{}::timestamptz", "'confirmed'",
                   "{}::int", "{}::bigint", "{}::text::jsonb", "{}::text::jsonb", "{}::text::json", "{}::text::json")


def confirmed_ctes(receipts: list[Confirmed], unclaimed: list[str], first: int,
                   as_values: bool = False) -> tuple[str, list[Any]]:
    """The CTEs that write confirmed receipts (and drop the claims of `unclaimed`: receipts of a batch that
    failed on their own, whose ids stay free), their parameters numbered from `first`; and the arguments.
    `as_values`: the receipts as a VALUES list (Citus), and no CTE that writes nothing (see book.py's
    `_values_flush`); "" when nothing is written."""
    # documents as JSON text: a list of lines would be taken for an array dimension
    rows = [(r.receipt_id, r.owner_id, r.account_id, r.fingerprint, r.store_id, r.issued_at, r.program_version,
             r.purchase_amount, _json(r.lines), _json(r.links), _json(r.result), r.body) for r in receipts]
    if not as_values:
        sql = _CLAIMS_CTES.format(p0=first, p1=first + 1, p2=first + 2)
        sql += _WRITTEN_CTE.format(**{f"p{i}": first + 3 + i for i in range(12)})
        return sql, [[r.receipt_id for r in receipts], [r.owner_id for r in receipts], unclaimed,
                     *[list(column) for column in (zip(*rows, strict=True) if rows else [()] * 12)]]
    ctes: list[str] = []
    args: list[Any] = []
    if rows:
        ctes.append(_OWNED_CTE.format(p0=first, p1=first + 1))
        values, args = values_list(rows, _RECEIPT_VALUES, first + 2)
        args = [[r.receipt_id for r in receipts], [r.owner_id for r in receipts], *args]
        ctes.append(f"written AS (INSERT INTO {_RECEIPT_COLUMNS} VALUES {values})")
    if unclaimed:
        ctes.append(_DROPPED_CTE.format(p0=first + len(args)))
        args.append(unclaimed)
    return ", ".join(ctes), args


async def insert_confirmed_many(conn: asyncpg.Connection, receipts: list[Confirmed], unclaimed: list[str]) -> None:
    """Write confirmed receipts in a statement of their own (a batch writes them with its ledger flush)."""
    ctes, args = confirmed_ctes(receipts, unclaimed, 1, rows_as_values(conn))
    if ctes:
        await conn.execute("WITH " + ctes + " SELECT 1", *args)


async def lock_account_finding_refund(conn: asyncpg.Connection, account_id: int, receipt_id: str,
                                      refund_id: str) -> tuple[AccountRow, dict[str, Any] | None]:
    """(the account of a receipt stored under it, locked; `find_refund`'s answer), in one round trip. The
    refund is read under the receipt's row lock, which every refund of the receipt takes first: none can
    commit while this statement waits for the account's lock, so its snapshot is fresh enough."""
    row = await conn.fetchrow(
        f"SELECT {_ACCOUNT_COLUMNS}, f.fingerprint AS done_fingerprint, f.refund AS done_refund FROM accounts a"
        " LEFT JOIN refunds f ON f.owner_id = a.id AND f.receipt_id = $2 AND f.refund_id = $3"
        " WHERE a.id = $1 FOR UPDATE OF a",
        account_id, receipt_id, refund_id,
    )
    assert row is not None
    done = None if row["done_fingerprint"] is None else {"fingerprint": row["done_fingerprint"],
                                                         "refund": row["done_refund"]}
    return AccountRow.of(row), done


# The refunded receipt's new state and the refund, written with the ledger's flush; parameters numbered
# from {first}
_REFUNDED_CTES = """
refunded AS (
    UPDATE receipts SET status = ${p2}, refunded_purchase = refunded_purchase + ${p3}, lines = ${p4}::jsonb,
                        links = ${p5}::jsonb, result = ${p6}::json
    WHERE owner_id = ${p0} AND receipt_id = ${p1}
), refund AS (
    INSERT INTO refunds (owner_id, receipt_id, refund_id, fingerprint, account_id, store_id, refund,
                         purchase_refunded)
    VALUES (${p0}, ${p1}, ${p7}, ${p8}, ${p9}, ${p10}, ${p11}::json, ${p3})
)"""


def refunded_ctes(owner_id: int, receipt_id: str, *, status: str, refunded_purchase: int,
                  lines: list[dict[str, Any]], links: dict[str, Any], result: dict[str, Any], refund_id: str,
                  fingerprint: bytes, account_id: int | None, store_id: str | None, response: dict[str, Any],
                  first: int) -> tuple[str, list[Any]]:
    """The CTEs that write a refund: the receipt's status, refunded purchase, lines, links and result, and the
    refund's own row; their parameters numbered from `first`, and the arguments."""
    sql = _REFUNDED_CTES.format(**{f"p{i}": first + i for i in range(12)})
    return sql, [owner_id, receipt_id, status, refunded_purchase, lines, links, result, refund_id, fingerprint,
                 account_id, store_id, response]


async def find_refund(conn: asyncpg.Connection, owner_id: int, receipt_id: str,
                      refund_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT fingerprint, refund FROM refunds WHERE owner_id = $1 AND receipt_id = $2 AND refund_id = $3",
        owner_id, receipt_id, refund_id,
    )
