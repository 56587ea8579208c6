"""SQL for accounts: rows, purchase facts for tiers and segments, the ledger pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from app.core.db import lock_in_order, on_citus
from app.points.ids import reserve
from rules import Lot

# an account row as every reader gets it
COLUMNS = "id, card, status, phone, birth_date, registration_fingerprint, debt, version, created_at, segments"


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account row (`COLUMNS`) as every reader gets it: built here, from the record, and nowhere else."""

    id: int
    card: str
    status: str  # active, blocked
    phone: str | None
    birth_date: date | None
    registration_fingerprint: bytes | None  # None: enrolled by a receipt, not registered
    debt: int  # points owed: repaid by the next points that become available
    version: int  # moves with every write that changes the account's view (the cache's check)
    created_at: datetime
    segments: frozenset[str]  # the custom segments it is in (app/segments/refresh.py writes them)

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> AccountRow:
        """The row from a record that holds `COLUMNS` (and perhaps more)."""
        return cls(record["id"], record["card"], record["status"], record["phone"], record["birth_date"],
                   record["registration_fingerprint"], record["debt"], record["version"], record["created_at"],
                   frozenset(record["segments"] or ()))

    @property
    def active(self) -> bool:
        return self.status == "active"

    def written(self, debt: int, version: int | None = None) -> AccountRow:
        """The row as this transaction's ledger write leaves it, without reading it again."""
        # not dataclasses.replace: on every confirm of an account
        return AccountRow(self.id, self.card, self.status, self.phone, self.birth_date,
                          self.registration_fingerprint, debt, self.version if version is None else version,
                          self.created_at, self.segments)


def _row(record: asyncpg.Record | None) -> AccountRow | None:
    return None if record is None else AccountRow.of(record)


# `cards` holds the uniqueness of a card and its account, so a look-up by card goes through it, in the same
# statement. A scalar subquery rather than a join: on Citus (accounts by id, cards by card) it is read
# first on the card's shard and the rest routes to the account's shard.
_BY_CARD = f"SELECT {COLUMNS} FROM accounts WHERE id = (SELECT account_id FROM cards WHERE card = $1)"


async def get(conn: asyncpg.Connection, card: str) -> AccountRow | None:
    return _row(await conn.fetchrow(_BY_CARD, card))


async def account_id_of(conn: asyncpg.Connection, card: str) -> int | None:
    """The card's account, read on its own: on Citus a statement must name the account's shard when it is
    planned (to take a row lock there, or to read one shard instead of every one)."""
    return await conn.fetchval("SELECT account_id FROM cards WHERE card = $1", card)


async def lock(conn: asyncpg.Connection, card: str) -> AccountRow | None:
    if on_citus(conn):
        account_id = await account_id_of(conn, card)
        return None if account_id is None else await lock_by_id(conn, account_id)
    return _row(await conn.fetchrow(_BY_CARD + " FOR UPDATE", card))


async def lock_many(conn: asyncpg.Connection, cards: list[str]) -> dict[str, AccountRow]:
    """Lock the accounts of these cards in id order (rows are locked after the sort), the one order every
    transaction that locks several accounts takes; cards without an account are left out."""
    if on_citus(conn):
        account_ids = await conn.fetchval(
            "SELECT array_agg(account_id) FROM cards WHERE card = ANY($1::text[])", cards)
        rows = await lock_in_order(conn, "accounts", COLUMNS, "id", sorted(account_ids or ()))
    else:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM accounts WHERE id IN (SELECT account_id FROM cards WHERE card = ANY($1::text[]))"
            " ORDER BY id FOR UPDATE",
            cards,
        )
    return {row["card"]: AccountRow.of(row) for row in rows}


async def lock_by_id(conn: asyncpg.Connection, account_id: int) -> AccountRow:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE", account_id)
    assert row is not None
    return AccountRow.of(row)


async def insert(conn: asyncpg.Connection, card: str, phone: str | None, birth_date: date | None,
                 fingerprint: bytes | None) -> bool:
    """True when this call created the account (a concurrent creator makes it False: this one waits on the
    card's row until that one commits). The card row claims the card and names the account's new id."""
    created = await conn.fetchval(
        """
        WITH claimed AS (
            INSERT INTO cards (card, account_id) VALUES ($1, nextval('accounts_id_seq'))
            ON CONFLICT (card) DO NOTHING RETURNING account_id
        )
        INSERT INTO accounts (id, card, phone, birth_date, registration_fingerprint)
        SELECT account_id, $1, $2, $3, $4 FROM claimed RETURNING true
        """,
        card, phone, birth_date, fingerprint,
    )
    return bool(created)


async def note_change(conn: asyncpg.Connection, account_id: int) -> None:
    """An account opened, or its birth date or profile written: the next refresh of the custom segments
    evaluates it again (app/segments/changes.py reads `segment_changes`). In the writer's transaction, so the
    row's `change_xid` is the change's."""
    await conn.execute("INSERT INTO segment_changes (account_id) VALUES ($1)", account_id)


async def set_registration(conn: asyncpg.Connection, account_id: int, phone: str | None,
                           birth_date: date | None, fingerprint: bytes) -> int:
    version = int(await conn.fetchval(
        "UPDATE accounts SET phone = $2, birth_date = $3, registration_fingerprint = $4, version = version + 1"
        " WHERE id = $1 RETURNING version",
        account_id, phone, birth_date, fingerprint,
    ))
    await note_change(conn, account_id)  # custom segments read the birth date
    return version


# --- the profile (issue 14): the birth date on the account row, gender and attributes in `profiles` ---------

async def profile(conn: asyncpg.Connection, account_id: int) -> asyncpg.Record | None:
    """The birth date (kept on the account since registration), gender, attributes and when they changed."""
    return await conn.fetchrow(
        "SELECT a.birth_date, p.gender, coalesce(p.attributes, '{}') AS attributes, p.updated_at"
        " FROM accounts a LEFT JOIN profiles p ON p.account_id = a.id WHERE a.id = $1",
        account_id,
    )


async def set_birth_date(conn: asyncpg.Connection, account_id: int, birth_date: date | None) -> None:
    await conn.execute("UPDATE accounts SET birth_date = $2 WHERE id = $1", account_id, birth_date)
    await note_change(conn, account_id)  # custom segments read the birth date and the profile


async def save_profile(conn: asyncpg.Connection, account_id: int, gender: str | None,
                       attributes: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO profiles (account_id, gender, attributes, updated_at) VALUES ($1, $2, $3, now())"
        " ON CONFLICT (account_id) DO UPDATE SET gender = excluded.gender, attributes = excluded.attributes,"
        " updated_at = excluded.updated_at",
        account_id, gender, attributes,
    )
    await note_change(conn, account_id)


async def erase_profile(conn: asyncpg.Connection, account_id: int) -> None:
    """Forget the person: profile, birth date, phone, and the registration's fingerprint (a hash of those,
    which a short phone number would let anyone reverse). Receipts and the ledger stay."""
    await conn.execute("DELETE FROM profiles WHERE account_id = $1", account_id)
    await conn.execute(
        "UPDATE accounts SET birth_date = NULL, phone = NULL, registration_fingerprint = NULL WHERE id = $1",
        account_id,
    )
    await note_change(conn, account_id)


async def touch(conn: asyncpg.Connection, account_id: int) -> int:
    """Bump the version of an account whose view changed without a points write (e.g. its purchases)."""
    return int(await conn.fetchval(
        "UPDATE accounts SET version = version + 1 WHERE id = $1 RETURNING version", account_id
    ))


async def set_status(conn: asyncpg.Connection, account_id: int, status: str) -> int:
    return int(await conn.fetchval(
        "UPDATE accounts SET status = $2, version = version + 1 WHERE id = $1 RETURNING version", account_id, status
    ))


# Tier purchases in [since, at], and the first and last purchase up to `at`, of account `owner`:
# cancelled and fully refunded receipts do not count; partial refunds lower the purchases. owner_id routes
# to the account's shard; account_id = owner picks the same rows and matches the index.
_PURCHASES = """
SELECT coalesce(sum(purchase_amount - refunded_purchase) FILTER (WHERE issued_at >= {since}), 0)::bigint AS purchases,
       min(issued_at) FILTER (WHERE issued_at >= {since}) AS oldest_in_window,
       min(issued_at) AS first_purchase,
       max(issued_at) AS last_purchase
FROM receipts
WHERE owner_id = {owner} AND account_id = {owner} AND status IN ('confirmed', 'partially_refunded')
  AND issued_at <= {at}
"""


async def purchase_facts(conn: asyncpg.Connection, account_id: int, at: datetime, window_days: int) -> asyncpg.Record:
    """Tier purchases in [at − window, at], and the first and last purchase up to `at`."""
    return await conn.fetchrow(_PURCHASES.format(owner="$1", at="$2", since="$3"),
                               account_id, at, window_start(at, window_days))


def window_start(at: datetime, window_days: int) -> datetime:
    """Where the tier window ending at `at` starts; a window of 0 days is the whole lifetime (from the first
    representable instant: datetime.min in a positive offset would be year 0 in UTC)."""
    return at - timedelta(days=window_days) if window_days else datetime.min.replace(tzinfo=UTC)


async def live_lots(conn: asyncpg.Connection, account_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, remaining, available_at, expires_at FROM lots WHERE account_id = $1 AND remaining > 0",
        account_id,
    )


_FACTS = ("purchases", "oldest_in_window", "first_purchase", "last_purchase")


def _facts_row(owner: str, at: str, since: str, also: str = "") -> str:
    """`purchase_facts` as one record column of a larger statement (`also`: more conditions on receipts)."""
    return f"(SELECT row(f.*)::purchase_facts_row FROM ({_PURCHASES.format(owner=owner, at=at, since=since)}{also}) f)"


def _facts(values: Any) -> dict[str, Any]:
    """A `_facts_row` record (or an aggregated one) read back by name."""
    return dict(zip(_FACTS, values, strict=True))


# `_PURCHASES` for many (owner, at, since) asks at once, a row per ask numbered n: a lateral subquery per ask
# (an index look-up each).
_PURCHASES_PER_ASK = f"""
SELECT q.n, f.*
FROM unnest($2::bigint[], $3::timestamptz[], $6::timestamptz[]) WITH ORDINALITY AS q(owner, at, since, n)
CROSS JOIN LATERAL ({_PURCHASES.format(owner="q.owner", at="q.at", since="q.since")}) f
"""
# The same on Citus, which refuses that lateral subquery: a join grouped by ask, which it pushes down to the
# owners' shards (`owner_id = ANY($1)` names them) and whose groups it merges; an ask without receipts has no
# row (`purchases` 0). On plain PostgreSQL it costs 10-20% more than the lateral form.
_PURCHASES_BY_ASK = """
SELECT q.n, coalesce(sum(r.purchase_amount - r.refunded_purchase) FILTER (WHERE r.issued_at >= q.since), 0)::bigint
              AS purchases,
       min(r.issued_at) FILTER (WHERE r.issued_at >= q.since) AS oldest_in_window,
       min(r.issued_at) AS first_purchase, max(r.issued_at) AS last_purchase
FROM unnest($2::bigint[], $3::timestamptz[], $6::timestamptz[]) WITH ORDINALITY AS q(owner, at, since, n)
JOIN receipts r ON r.owner_id = q.owner AND r.account_id = q.owner
WHERE r.owner_id = ANY($1::bigint[]) AND r.status IN ('confirmed', 'partially_refunded') AND r.issued_at <= q.at
GROUP BY q.n
"""


def _ids_here(conn: asyncpg.Connection, entry_ids: int, lot_ids: int) -> tuple[int, int]:
    """How many ids a state statement reserves itself: none on Citus, where `ids.reserve` must (see there)."""
    return (0, 0) if on_citus(conn) else (entry_ids, lot_ids)


async def _ids_of(conn: asyncpg.Connection, row: asyncpg.Record, entry_ids: int, lot_ids: int
                  ) -> tuple[list[int], list[int]]:
    """The ids a state statement reserved, or on Citus those reserved by a statement of their own."""
    if on_citus(conn):
        return await reserve(conn, entry_ids, lot_ids)
    return list(row["entry_ids"]), list(row.get("lot_ids") or ())


_NO_PURCHASES = {"purchases": 0, "oldest_in_window": None, "first_purchase": None, "last_purchase": None}


async def locked_state_many(conn: asyncpg.Connection, account_ids: list[int], asks: list[tuple[int, datetime]],
                            window_days: int, entry_ids: int, lot_ids: int
                            ) -> tuple[dict[int, list[tuple[int, int, datetime, datetime | None]]],
                                       list[dict[str, Any]], list[int], list[int]]:
    """What a batch of confirms reads under its accounts' locks, in one round trip: each account's live
    lots as (id, remaining, available_at, expires_at), `purchase_facts` for each (account_id, at) asked in
    that order (of the accounts in `account_ids`), and `entry_ids` ledger and `lot_ids` lot ids reserved
    from their sequences."""
    row = await conn.fetchrow(
        f"WITH facts AS ({_PURCHASES_BY_ASK if on_citus(conn) else _PURCHASES_PER_ASK})"
        " SELECT array(SELECT nextval('ledger_id_seq') FROM generate_series(1, $4)) AS entry_ids,"
        "       array(SELECT nextval('lots_id_seq') FROM generate_series(1, $5)) AS lot_ids,"
        "       (SELECT array_agg((account_id, id, remaining, available_at, expires_at)::account_lot_row) FROM lots"
        "        WHERE account_id = ANY($1::bigint[]) AND remaining > 0) AS lots,"
        "       (SELECT array_agg(n ORDER BY n) FROM facts) AS asked,"
        "       (SELECT array_agg((purchases, oldest_in_window, first_purchase, last_purchase)::purchase_facts_row"
        "        ORDER BY n) FROM facts) AS facts",
        account_ids, [account_id for account_id, _ in asks], [at for _, at in asks],
        *_ids_here(conn, entry_ids, lot_ids), [window_start(at, window_days) for _, at in asks],
    )
    lots: dict[int, list[tuple[int, int, datetime, datetime | None]]] = {account_id: [] for account_id in account_ids}
    for account_id, *lot in row["lots"] or ():
        lots[account_id].append(tuple(lot))
    facts = [_NO_PURCHASES] * len(asks)
    for n, values in zip(row["asked"] or (), row["facts"] or (), strict=True):
        facts[n - 1] = _facts(values)
    return lots, facts, *await _ids_of(conn, row, entry_ids, lot_ids)


async def calculation_state(conn: asyncpg.Connection, card: str, issued_at: datetime, now: datetime, window_days: int
                            ) -> tuple[AccountRow, list[Lot], dict[str, Any], dict[str, Any]] | None:
    """(the account of `card`, its live lots, its purchase facts as of `issued_at` and as of `now`) in one
    statement and one snapshot, without a lock: what calculate reads; None without an account. On Citus the
    card's account is read first: with the account's id unknown when it plans, Citus sent each subquery to
    every shard (236 ms a calculate on two workers); with it, the statement goes to one shard."""
    first: str | int = card  # the statement's $1: the card, or on Citus its account's id
    account_sql, account = _BY_CARD, "a.id"
    if on_citus(conn):
        account_id = await account_id_of(conn, card)
        if account_id is None:
            return None
        account_sql, account, first = f"SELECT {COLUMNS} FROM accounts WHERE id = $1", "$1::bigint", account_id
    row = await conn.fetchrow(
        f"WITH a AS ({account_sql})"
        " SELECT a.*,"
        "       (SELECT array_agg((id, remaining, available_at, expires_at)::lot_row) FROM lots"
        f"        WHERE account_id = {account} AND remaining > 0) AS lots,"
        f"       {_facts_row(account, '$2', '$3')} AS at_receipt, {_facts_row(account, '$4', '$5')} AS at_now"
        " FROM a",
        first, issued_at, window_start(issued_at, window_days), now, window_start(now, window_days),
    )
    if row is None:
        return None
    return (AccountRow.of(row), [Lot(*lot) for lot in row["lots"] or ()], _facts(row["at_receipt"]),
            _facts(row["at_now"]))


@dataclass(frozen=True, slots=True)
class RefundState:
    """What a refund reads under its account's lock, in one round trip (`refund_state`)."""

    lots: list[Lot]  # live lots
    moved_lots: list[Lot]  # the lots of `moves`, emptied ones included: returned points go back into them
    moves: list[tuple[int, int | None, int]]  # (entry_id, lot_id, points) of the entries asked, in order made
    facts: dict[str, Any]  # purchase facts as of `at`, the refunded receipt left out
    entry_ids: list[int]  # reserved from the ledger's sequence


async def refund_state(conn: asyncpg.Connection, account_id: int, receipt_id: str, at: datetime, window_days: int,
                       moves_of: list[int], entry_ids: int) -> RefundState:
    """An account's live lots, the moves of the entries `moves_of` (a redemption and its earlier returns)
    with their lots, its purchase facts as of `at` without the receipt being refunded (the caller counts
    what is left of it), and `entry_ids` ids reserved: what `Book.open`, the moves of the entries, the lots
    a return needs, `purchase_facts` and `Ids.reserve` read one at a time. Under the account's lock, taken
    by an earlier statement: this one's snapshot is taken after it."""
    row = await conn.fetchrow(
        "WITH moved AS (SELECT id, entry_id, lot_id, points FROM lot_moves"
        "               WHERE account_id = $1 AND entry_id = ANY($5::bigint[])) "
        "SELECT array(SELECT nextval('ledger_id_seq') FROM generate_series(1, $6)) AS entry_ids,"
        "       (SELECT array_agg((id, remaining, available_at, expires_at)::lot_row ORDER BY id) FROM lots"
        "        WHERE account_id = $1 AND remaining > 0) AS lots,"
        "       (SELECT array_agg((entry_id, lot_id, points)::lot_move_row ORDER BY id) FROM moved) AS moves,"
        "       (SELECT array_agg((id, remaining, available_at, expires_at)::lot_row ORDER BY id) FROM lots"
        "        WHERE account_id = $1 AND id IN (SELECT lot_id FROM moved)) AS moved_lots,"
        f"       {_facts_row('$1', '$2', '$3', ' AND receipt_id <> $4')} AS facts",
        account_id, at, window_start(at, window_days), receipt_id, moves_of, _ids_here(conn, entry_ids, 0)[0],
    )
    return RefundState(
        lots=[Lot(*lot) for lot in row["lots"] or ()],
        moved_lots=[Lot(*lot) for lot in row["moved_lots"] or ()],
        moves=[tuple(move) for move in row["moves"] or ()],
        facts=_facts(row["facts"]),
        entry_ids=(await _ids_of(conn, row, entry_ids, 0))[0],
    )


async def ledger_page(conn: asyncpg.Connection, account_id: int, before_id: int | None,
                      limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, kind, points, receipt_id, refund_id, reason, author, created_at, available_at, expires_at
        FROM ledger WHERE account_id = $1 AND ($2::bigint IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        account_id, before_id, limit,
    )


async def entry(conn: asyncpg.Connection, account_id: int, entry_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT id, kind, points, receipt_id, refund_id, reason, author, created_at, available_at, expires_at"
        " FROM ledger WHERE account_id = $1 AND id = $2",
        account_id, entry_id,
    )
    assert row is not None
    return row


async def find_adjustment(conn: asyncpg.Connection, account_id: int, adjustment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT fingerprint, result FROM adjustments WHERE account_id = $1 AND adjustment_id = $2",
        account_id, adjustment_id,
    )


async def save_adjustment(conn: asyncpg.Connection, account_id: int, adjustment_id: str, fingerprint: bytes,
                          result: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO adjustments (account_id, adjustment_id, fingerprint, result) VALUES ($1, $2, $3, $4)",
        account_id, adjustment_id, fingerprint, result,
    )
