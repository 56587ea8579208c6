"""The refresh's writes on a Citus coordinator (repository.py chooses them with `on_citus(conn)`).

On one server the refresh joins its staged rows (the temporary tables segment_fresh, segment_one) with
`accounts` in one UPDATE, and counts members from them inside the UPDATE of `segments`. Citus refuses both:
a temporary table lives on the coordinator alone, and an UPDATE of a distributed or reference table may
join only distributed and reference tables (`relation segment_fresh is not distributed`). So here the staged
rows are read back first, a batch at a time, and written by statements that carry them as parameters; the
counts moved by those writes go to `segments` (a reference table) as parameters too, in the same transaction
as the rows (repository.py counts a whole segment the same way on both).

Only the rows whose membership changes go out: a multi-shard UPDATE sends its parameters to every shard, so
the batch's membership is compared with the stored one first (nothing else writes `accounts.segments`: the
refresh holds its lock). An account's segments travel as one text, the ids joined by commas (a custom
segment's id has none: rules' CUSTOM_SEGMENT_PATTERN), and are split again in the statement.
"""

from __future__ import annotations

from collections import Counter

import asyncpg

SEPARATOR = ","
# accounts whose stored membership one SELECT reads: a multi-shard SELECT is a task on each of the 128 shards,
# about 0.2 s on a coordinator and two workers sharing 2 cores whatever it returns (100 per million accounts
# at 10,000); reading locks nothing, and the writes still go refresh.APPLY_IDS rows per statement
READ_IDS = 100_000


def _joined(segments: list[str] | None) -> str | None:
    return None if segments is None else SEPARATOR.join(segments)


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


async def write(conn: asyncpg.Connection, rows: list[tuple[int, list[str] | None]]) -> list[asyncpg.Record]:
    """Each account's new membership (None: in no segment) where it differs from the stored one, in one
    statement; returns, for each row changed, its segments after and before."""
    if not rows:
        return []
    ids = [account_id for account_id, _ in rows]
    changed: list[asyncpg.Record] = await conn.fetch(
        "UPDATE accounts a SET segments = f.segments FROM ("
        f"  SELECT x.id, x.segments AS before, string_to_array(u.segments, '{SEPARATOR}') AS segments"
        "  FROM accounts x JOIN unnest($1::bigint[], $2::text[]) AS u(id, segments) ON u.id = x.id"
        "  WHERE x.id = ANY($1::bigint[])) f"
        " WHERE a.id = f.id AND a.id = ANY($1::bigint[]) AND a.segments IS DISTINCT FROM f.segments"
        " RETURNING f.segments AS after, f.before", ids, [_joined(segments) for _, segments in rows])
    return changed


async def apply(conn: asyncpg.Connection, low: int, high: int, rows_per_statement: int) -> int:
    """repository.apply over ids in [low, high): the staged membership against the stored one, the
    differences written `rows_per_statement` accounts per statement (each its own transaction)."""
    staged = {row["id"]: row["segments"] for row in await conn.fetch(
        "SELECT id, segments FROM segment_fresh WHERE id >= $1 AND id < $2", low, high)}
    stored = {row["id"]: row["segments"] for row in await conn.fetch(
        "SELECT id, segments FROM accounts WHERE id >= $1 AND id < $2 AND segments IS NOT NULL", low, high)}
    changed = [account_id for account_id in sorted(staged.keys() | stored.keys())
               if staged.get(account_id) != stored.get(account_id)]
    written = 0
    for ids in _chunks(changed, rows_per_statement):
        written += len(await write(conn, [(account_id, staged.get(account_id)) for account_id in ids]))
    return written


async def apply_one(conn: asyncpg.Connection, segment_id: str, low: int, high: int, rows_per_statement: int) -> int:
    """repository.apply_one over ids in [low, high): the id added where a staged member lacks it and removed
    where an account holds it without being one, `rows_per_statement` accounts per statement; the array
    sorted by the database, as a refresh of every segment writes it."""
    members = {row["id"] for row in await conn.fetch(
        "SELECT id FROM segment_one WHERE id >= $1 AND id < $2", low, high)}
    holders = {row["id"] for row in await conn.fetch(
        "SELECT id FROM accounts WHERE id >= $1 AND id < $2 AND segments @> ARRAY[$3::text]", low, high, segment_id)}
    written = 0
    for ids in _chunks(sorted(members ^ holders), rows_per_statement):
        result = await conn.execute(
            "UPDATE accounts a SET segments = CASE WHEN a.id = ANY($2::bigint[])"
            "   THEN ARRAY(SELECT s FROM unnest(coalesce(a.segments, '{}') || $3::text) AS s ORDER BY s)"
            "   ELSE nullif(array_remove(a.segments, $3::text), '{}') END"
            " WHERE a.id = ANY($1::bigint[])"
            "   AND (a.id = ANY($2::bigint[])) <> coalesce(a.segments @> ARRAY[$3::text], false)",
            ids, [account_id for account_id in ids if account_id in members], segment_id)
        written += int(result.split()[-1])
    return written


async def apply_counted(conn: asyncpg.Connection, ids: list[int]) -> int:
    """repository.apply_counted, in the caller's transaction: the staged membership of `ids` written where
    it changed, then each segment's count moved by the members it gained and lost in those rows."""
    rows = await conn.fetch("SELECT id, segments FROM segment_fresh WHERE id = ANY($1::bigint[]) ORDER BY id",
                            ids)
    changed = await write(conn, [(row["id"], row["segments"]) for row in rows])
    moves: Counter[str] = Counter()
    for row in changed:
        moves.update(row["after"] or ())
        moves.subtract(row["before"] or ())
    moved = {segment_id: move for segment_id, move in moves.items() if move != 0}
    if moved:
        await conn.execute(
            "UPDATE segments g SET members = g.members + m.move FROM unnest($1::text[], $2::bigint[]) AS m(id, move)"
            " WHERE g.id = m.id AND g.members IS NOT NULL", list(moved), list(moved.values()))
    return len(changed)
