"""The roll-up: folds what confirms, refunds, cancels and the ledger wrote into the report summaries.

Rows carry `change_xid`, the transaction that wrote them. One roll-up runs in a REPEATABLE READ
transaction and folds in the rows with `watermark <= change_xid < horizon`, where the horizon is the
oldest transaction of this database still running at its snapshot (`_STATE`): every transaction of this
database below it has finished, so no row of that range can still appear, and the next roll-up starts
exactly there. Summaries change by deltas (a confirm adds its receipt, a refund
takes off what it returned, a refund that ends a receipt takes the whole receipt off), so the cost is
that of the new rows, never of the history. The write path does not know this module exists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg

from app.core import metrics
from app.core.db import Database, on_citus

from . import repository

log = logging.getLogger("bonus_engine.reports")

# a request folds in a window of at most this many transaction ids, or rebuilds a history of at most
# this many receipts; anything bigger is left to the background roll-up
REQUEST_SPAN_XIDS = 200_000
REQUEST_REBUILD_RECEIPTS = 20_000
# a fold outside a request may read the whole history (about 200 s for 10 M receipts on 2 cores)
BACKGROUND_TIMEOUT_S = 6 * 3600
REBUILD_WORK_MEM = "256MB"  # one transaction at a time rebuilds (it holds the state row)

SUMMARIES = ("report_sales", "report_members", "report_campaigns", "report_points", "report_expiry",
             "report_accounts", "report_items", "report_store_items", "report_holdout", "report_holdout_members")

# A refund ends its receipt when it leaves it refunded or cancelled: the receipt no longer stands.
_EVENTS = """
WITH fresh AS (
    SELECT receipt_id, account_id, store_id, issued_at, (issued_at AT TIME ZONE $3::text)::date AS day,
           jsonb_array_length(lines) AS lines, result, 1 AS receipts, purchase_amount AS revenue
    FROM receipts
    WHERE change_xid >= $1 AND change_xid < $2 AND status <> 'pending'
), undone AS (
    SELECT r.receipt_id, r.account_id, r.store_id, r.issued_at, (r.issued_at AT TIME ZONE $3::text)::date,
           jsonb_array_length(r.lines), r.result,
           -((f.refund ->> 'status') IN ('refunded', 'cancelled'))::int, -f.purchase_refunded
    FROM refunds f JOIN receipts r ON r.owner_id = f.owner_id AND r.receipt_id = f.receipt_id
    WHERE f.change_xid >= $1 AND f.change_xid < $2
), events AS (
    SELECT * FROM fresh UNION ALL SELECT * FROM undone
)
"""

_FOLD_RECEIPTS = _EVENTS + """
, sales AS (
    INSERT INTO report_sales AS s (day, store_id, receipts, with_card, revenue, card_revenue, lines)
    SELECT day, store_id, sum(receipts), coalesce(sum(receipts) FILTER (WHERE account_id IS NOT NULL), 0),
           sum(revenue), coalesce(sum(revenue) FILTER (WHERE account_id IS NOT NULL), 0), sum(receipts * lines)
    FROM events GROUP BY day, store_id
    ON CONFLICT (day, store_id) DO UPDATE SET
        receipts = s.receipts + excluded.receipts, with_card = s.with_card + excluded.with_card,
        revenue = s.revenue + excluded.revenue, card_revenue = s.card_revenue + excluded.card_revenue,
        lines = s.lines + excluded.lines
), members AS (
    -- a partial refund changes revenue only: its row is kept by the revenue
    INSERT INTO report_members AS m (day, store_id, account_id, receipts, revenue, lines)
    SELECT day, store_id, account_id, sum(receipts), sum(revenue), sum(receipts * lines) FROM events
    WHERE account_id IS NOT NULL GROUP BY day, store_id, account_id HAVING sum(receipts) <> 0 OR sum(revenue) <> 0
    ON CONFLICT (day, store_id, account_id) DO UPDATE SET receipts = m.receipts + excluded.receipts,
        revenue = m.revenue + excluded.revenue, lines = m.lines + excluded.lines
), buyers AS (
    -- first and last purchase only move outward here; a receipt that stops standing is handled by _RESPAN.
    -- The first store is that of the earliest receipt, ties by store id: (first_purchase_at, first_store_id)
    -- is the least pair, so the order receipts are folded in does not matter
    INSERT INTO report_accounts AS a (account_id, receipts, revenue, lines, first_purchase_at, last_purchase_at,
                                      first_store_id)
    SELECT account_id, sum(receipts), sum(revenue), sum(receipts * lines),
           coalesce(min(issued_at) FILTER (WHERE receipts > 0), 'infinity'),
           coalesce(max(issued_at) FILTER (WHERE receipts > 0), '-infinity'),
           coalesce((array_agg(store_id ORDER BY issued_at, store_id) FILTER (WHERE receipts > 0))[1], '')
    FROM events WHERE account_id IS NOT NULL GROUP BY account_id
    ON CONFLICT (account_id) DO UPDATE SET
        receipts = a.receipts + excluded.receipts, revenue = a.revenue + excluded.revenue,
        lines = a.lines + excluded.lines, first_purchase_at = least(a.first_purchase_at, excluded.first_purchase_at),
        last_purchase_at = greatest(a.last_purchase_at, excluded.last_purchase_at),
        first_store_id = CASE WHEN (excluded.first_purchase_at, excluded.first_store_id)
                                   < (a.first_purchase_at, a.first_store_id)
                              THEN excluded.first_store_id ELSE a.first_store_id END
), held AS (
    -- the uplift's groups (migration 0012): a receipt eligible for a campaign with a control group counts,
    -- with its revenue, for its member in the group its result names
    SELECT g.campaign_id, e.day, e.account_id, g.held_out, e.receipts, e.revenue
    FROM events e CROSS JOIN LATERAL (
        SELECT value AS campaign_id, false AS held_out FROM json_array_elements_text(e.result -> 'holdout' -> 'treated')
        UNION ALL
        SELECT value, true FROM json_array_elements_text(e.result -> 'holdout' -> 'held_out')
    ) AS g
    -- `result` is json (text): a text search skips the parse of every result without a holdout (nearly all)
    WHERE e.account_id IS NOT NULL AND strpos(e.result::text, '"holdout"') > 0
), holdout AS (
    INSERT INTO report_holdout AS h (campaign_id, day, account_id, held_out, receipts, revenue)
    SELECT campaign_id, day, account_id, held_out, sum(receipts), sum(revenue) FROM held GROUP BY 1, 2, 3, 4
    ON CONFLICT (campaign_id, day, account_id, held_out) DO UPDATE SET
        receipts = h.receipts + excluded.receipts, revenue = h.revenue + excluded.revenue
), holdout_members AS (
    -- the same, summed over every day (migration 0019)
    INSERT INTO report_holdout_members AS h (campaign_id, account_id, held_out, receipts, revenue)
    SELECT campaign_id, account_id, held_out, sum(receipts), sum(revenue) FROM held GROUP BY 1, 2, 3
    ON CONFLICT (campaign_id, account_id, held_out) DO UPDATE SET
        receipts = h.receipts + excluded.receipts, revenue = h.revenue + excluded.revenue
), campaign_events AS (
    SELECT e.day, e.store_id, c ->> 'id' AS campaign_id, e.receipts,
           e.receipts * (c ->> 'discount')::bigint AS discount, e.receipts * (c ->> 'points')::bigint AS points,
           0 AS coupon_uses, e.revenue
    FROM events e CROSS JOIN json_array_elements(e.result -> 'campaigns') AS c
    UNION ALL
    SELECT e.day, e.store_id, u.campaign_id, 0, 0, 0, e.receipts, 0
    FROM events e JOIN coupon_uses u ON u.receipt_id = e.receipt_id
)
INSERT INTO report_campaigns AS c (day, store_id, campaign_id, receipts, discount, points, coupon_uses, revenue)
SELECT day, store_id, campaign_id, sum(receipts), sum(discount), sum(points), sum(coupon_uses), sum(revenue)
FROM campaign_events GROUP BY day, store_id, campaign_id
ON CONFLICT (day, store_id, campaign_id) DO UPDATE SET
    receipts = c.receipts + excluded.receipts, discount = c.discount + excluded.discount,
    points = c.points + excluded.points, coupon_uses = c.coupon_uses + excluded.coupon_uses,
    revenue = c.revenue + excluded.revenue
"""

# When a member's receipt stops standing, their first or last purchase (and first store) may move inward:
# read them again.
_RESPAN = """
WITH touched AS (
    SELECT DISTINCT r.account_id FROM refunds f
    JOIN receipts r ON r.owner_id = f.owner_id AND r.receipt_id = f.receipt_id
    WHERE f.change_xid >= $1 AND f.change_xid < $2 AND r.account_id IS NOT NULL
      AND (f.refund ->> 'status') IN ('refunded', 'cancelled')
), span AS (
    SELECT r.account_id, min(r.issued_at) AS first_at, max(r.issued_at) AS last_at,
           (array_agg(r.store_id ORDER BY r.issued_at, r.store_id))[1] AS first_store
    FROM receipts r JOIN touched ON r.owner_id = touched.account_id AND r.account_id IS NOT NULL
    WHERE r.status IN ('confirmed', 'partially_refunded')
    GROUP BY r.account_id
)
UPDATE report_accounts a SET first_purchase_at = span.first_at, last_purchase_at = span.last_at,
                             first_store_id = span.first_store
FROM span WHERE a.account_id = span.account_id
"""

# The ABC analysis (migration 0008): each line of a standing receipt under its SKU and its category ('' when
# the line has none). A confirmed receipt adds its lines' final amounts and quantities, and one receipt to each
# key it holds (however many of its lines share it: the per-receipt aggregate below); a refund takes off
# what its lines returned, as report_sales takes off `purchase_refunded`; a refund that ends its receipt also
# takes the receipt off each of its keys. Certificate-sale lines are no goods: they count nowhere here, as
# they count in no revenue. The store rows are summed once per fold, the chain's rows from them.
_ITEM_KEY = "coalesce(CASE k.kind WHEN 'sku' THEN l ->> 'sku' ELSE l ->> 'category' END, '')"
_GOODS = "NOT coalesce((l ->> 'sells_certificate')::boolean, false)"
# A line's keys read out of its JSON once (below: `goods` and `returned_lines`), in the "C" collation, which
# groups exactly as any other does and compares bytes; then each row of `kinds` takes its own
_LINE_KEYS = """coalesce(l ->> 'sku', '') COLLATE "C" AS sku, coalesce(l ->> 'category', '') COLLATE "C" AS category"""
_KIND_KEY = "CASE k.kind WHEN 'sku' THEN g.sku ELSE g.category END"
_FOLD_ITEMS = f"""
WITH kinds (kind) AS (VALUES ('sku'), ('category')),
goods AS MATERIALIZED (
    -- each line's fields read out of its JSON once, not once per kind
    SELECT r.owner_id, r.receipt_id, r.store_id, (r.issued_at AT TIME ZONE $3::text)::date AS day, {_LINE_KEYS},
           (l -> 'figures' ->> 'amount')::bigint - (l -> 'figures' ->> 'discount')::bigint AS revenue,
           round((l ->> 'quantity')::numeric * 1000)::bigint AS quantity
    FROM receipts r CROSS JOIN LATERAL jsonb_array_elements(r.lines) AS l
    WHERE r.change_xid >= $1 AND r.change_xid < $2 AND r.status <> 'pending' AND {_GOODS}
), sold AS (
    SELECT g.store_id, g.day, k.kind, {_KIND_KEY} AS key,
           sum(g.revenue)::bigint AS revenue, sum(g.quantity)::bigint AS quantity, 1 AS receipts
    FROM goods g CROSS JOIN kinds k
    GROUP BY g.owner_id, g.receipt_id, g.store_id, g.day, k.kind, key
), returned_lines AS MATERIALIZED (
    -- each refund's document parsed once (it is the largest of the window's: once per kind was a fifth of the
    -- step), each returned line matched to its stored line for the keys
    SELECT r.store_id, (r.issued_at AT TIME ZONE $3::text)::date AS day, {_LINE_KEYS},
           -((back ->> 'amount')::bigint - (back ->> 'discount')::bigint) AS revenue,
           -round((back ->> 'quantity')::numeric * 1000)::bigint AS quantity
    FROM refunds f JOIN receipts r ON r.owner_id = f.owner_id AND r.receipt_id = f.receipt_id
    CROSS JOIN json_array_elements(f.refund -> 'refund' -> 'lines') AS back
    JOIN LATERAL jsonb_array_elements(r.lines) AS l ON l ->> 'line_id' = back ->> 'line_id'
    WHERE f.change_xid >= $1 AND f.change_xid < $2 AND {_GOODS}
), returned AS (
    SELECT g.store_id, g.day, k.kind, {_KIND_KEY}, g.revenue, g.quantity, 0
    FROM returned_lines g CROSS JOIN kinds k
), ended AS (
    SELECT r.store_id, (r.issued_at AT TIME ZONE $3::text)::date AS day, k.kind, {_ITEM_KEY} AS key, 0, 0, -1
    FROM refunds f JOIN receipts r ON r.owner_id = f.owner_id AND r.receipt_id = f.receipt_id
    CROSS JOIN LATERAL jsonb_array_elements(r.lines) AS l CROSS JOIN kinds k
    WHERE f.change_xid >= $1 AND f.change_xid < $2 AND (f.refund ->> 'status') IN ('refunded', 'cancelled')
      AND {_GOODS}
    GROUP BY f.owner_id, f.receipt_id, f.refund_id, r.store_id, day, k.kind, key
), per_store AS (
    SELECT store_id, kind, day, key, sum(revenue)::bigint AS revenue, sum(quantity)::bigint AS quantity,
           sum(receipts)::bigint AS receipts
    FROM (SELECT * FROM sold UNION ALL SELECT * FROM returned UNION ALL SELECT * FROM ended) AS events
    GROUP BY store_id, kind, day, key
), stores AS (
    INSERT INTO report_store_items AS s (store_id, kind, day, key, revenue, quantity_thousandths, receipts)
    SELECT * FROM per_store
    ON CONFLICT (store_id, kind, day, key) DO UPDATE SET revenue = s.revenue + excluded.revenue,
        quantity_thousandths = s.quantity_thousandths + excluded.quantity_thousandths,
        receipts = s.receipts + excluded.receipts
)
INSERT INTO report_items AS i (kind, day, key, revenue, quantity_thousandths, receipts)
SELECT kind, day, key, sum(revenue), sum(quantity), sum(receipts) FROM per_store GROUP BY kind, day, key
ON CONFLICT (kind, day, key) DO UPDATE SET revenue = i.revenue + excluded.revenue,
    quantity_thousandths = i.quantity_thousandths + excluded.quantity_thousandths,
    receipts = i.receipts + excluded.receipts
"""

_FOLD_LEDGER = """
INSERT INTO report_points AS p (day, store_id, kind, points, entries)
SELECT (l.created_at AT TIME ZONE $3::text)::date, coalesce(r.store_id, ''), l.kind, sum(l.points), count(*)
FROM ledger l LEFT JOIN receipts r ON r.owner_id = l.account_id AND r.receipt_id = l.receipt_id
WHERE l.change_xid >= $1 AND l.change_xid < $2
GROUP BY 1, 2, 3
ON CONFLICT (day, store_id, kind) DO UPDATE SET points = p.points + excluded.points,
                                                entries = p.entries + excluded.entries
"""

# a lot's remaining points are the sum of its moves (the audit proves it), so moves keep this exact
_FOLD_EXPIRY = """
INSERT INTO report_expiry AS x (day, points)
SELECT coalesce((lots.expires_at AT TIME ZONE $3::text)::date, 'infinity'), sum(m.points)
FROM lot_moves m JOIN lots ON lots.account_id = m.account_id AND lots.id = m.lot_id
WHERE m.change_xid >= $1 AND m.change_xid < $2
GROUP BY 1
ON CONFLICT (day) DO UPDATE SET points = x.points + excluded.points
"""

# When a new buyer's account was opened (migration 0019: the stores report's registrations read it from here);
# it never changes, so it is copied once
_REGISTERED = """
UPDATE report_accounts a SET created_at = c.created_at FROM accounts c
WHERE a.created_at = '-infinity' AND c.id = a.account_id
"""

# (name, statement, whether it takes the time zone as $3)
_STEPS = (("receipts", _FOLD_RECEIPTS, True), ("spans", _RESPAN, False), ("items", _FOLD_ITEMS, True),
          ("ledger", _FOLD_LEDGER, True), ("expiry", _FOLD_EXPIRY, True))


# The horizon: the oldest transaction of this database still running when the snapshot was taken, or the
# snapshot's xmax when none is. Transaction ids are shared by the whole cluster, so a long transaction in
# another database (a bulk load, a migration) would otherwise hold every report back; one that is shown in
# pg_stat_activity as another database's is skipped. Any other (finished since, or hidden from this role,
# or prepared) counts as ours: waiting is safe, skipping one of ours would lose its rows.
HORIZON = """coalesce(
    (SELECT min(running::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS running
     WHERE NOT EXISTS (SELECT FROM pg_stat_activity AS other
                       WHERE other.datname <> current_database()
                         AND other.backend_xid::text::bigint = running::text::bigint % 4294967296)),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"""
_STATE = f"SELECT watermark, time_zone, {HORIZON} AS horizon FROM report_state WHERE id = 1 FOR UPDATE"

# On Citus a transaction commits on the coordinator first, then on each worker it prepared on (COMMIT PREPARED):
# in between, its id is below the coordinator's horizon while its rows on that worker are not visible yet, and
# a roll-up reading them then would move the watermark past rows it never saw. So a roll-up there first takes
# a horizon, waits until the transactions prepared on the workers at that moment are gone, and folds up to
# that horizon only. Every row the coordinator routes carries the coordinator's transaction id (Citus
# evaluates the column default there; checked in tests/test_citus.py).
_PREPARED_ON_WORKERS = ("SELECT success, result FROM run_command_on_workers($$SELECT coalesce(string_agg(gid, ' '), '')"
                        " FROM pg_prepared_xacts WHERE database = current_database()$$)")
SETTLE_TIMEOUT_S = 5.0  # past it (a worker down, its prepared transactions waiting for recovery) the roll-up waits


async def settled_horizon(conn: asyncpg.Connection, timeout_s: float = SETTLE_TIMEOUT_S) -> int | None:
    """On Citus: a horizon below which every transaction has committed on every worker too; None when a worker
    cannot be asked, or still holds one of the transactions prepared when it was taken after `timeout_s`."""
    horizon = int(await conn.fetchval(f"SELECT {HORIZON}"))
    pending = await _prepared_on_workers(conn)
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.02)
        still = await _prepared_on_workers(conn)
        pending = None if still is None else pending & still
    return None if pending is None else horizon


async def _prepared_on_workers(conn: asyncpg.Connection) -> frozenset[str] | None:
    """The gids of the transactions prepared on the workers for this database; None if a worker did not answer."""
    rows = await conn.fetch(_PREPARED_ON_WORKERS)
    if not all(row["success"] for row in rows):
        return None
    return frozenset(gid for row in rows for gid in row["result"].split())


@dataclass(frozen=True, slots=True)
class Window:
    watermark: int
    horizon: int
    time_zone: str
    rebuilt: bool


async def _open_window(conn: asyncpg.Connection, time_zone: str, rebuild: bool, settled: int | None) -> Window:
    """Lock the roll-up state (a concurrent roll-up that committed first makes this one fail to serialize,
    and the caller lets it go); a new time zone, or a rebuild asked for, starts again from the beginning.
    `settled`: on Citus, the horizon every worker has caught up with (`settled_horizon`)."""
    state = await conn.fetchrow(_STATE)
    horizon = state["horizon"] if settled is None else min(state["horizon"], settled)
    if state["time_zone"] == time_zone and not rebuild:
        return Window(state["watermark"], max(horizon, state["watermark"]), time_zone, False)
    return Window(0, horizon, time_zone, True)


async def _small(conn: asyncpg.Connection, window: Window, max_span: int) -> bool:
    if not window.rebuilt:
        return window.horizon - window.watermark <= max_span
    # a column in the subquery: Citus passes its rows on as an intermediate result, which needs one
    return bool(await conn.fetchval("SELECT count(*) < $1 FROM (SELECT 1 FROM receipts LIMIT $1) AS r",
                                    REQUEST_REBUILD_RECEIPTS))


async def roll_up(db: Database, time_zone: str, *, max_span: int | None = None, rebuild: bool = False,
                  progress: bool = False) -> Window | None:
    """Fold in everything up to the current horizon (`rebuild`: the whole history again). None when another
    roll-up won the state row, or the window is wider than `max_span` transaction ids (a request leaves that
    to the background)."""
    started = time.perf_counter()
    try:
        window = await _fold(db, time_zone, max_span, rebuild, progress)
    except asyncpg.SerializationError:
        window = None
    metrics.REPORT_ROLLUPS.labels("done" if window else "skipped").inc()
    if window is not None:
        metrics.REPORT_ROLLUP_SECONDS.observe(time.perf_counter() - started)
        if window.rebuilt:
            log.warning("report summaries rebuilt for time zone %s", time_zone)
    return window


async def _fold(db: Database, time_zone: str, max_span: int | None, rebuild: bool,
                progress: bool) -> Window | None:
    settled = None
    async with db.connection() as conn:
        if on_citus(conn):
            settled = await settled_horizon(conn)
            if settled is None:
                log.warning("report roll-up waits: a worker has not finished its transactions' commits")
                return None
    async with db.connection() as conn, conn.transaction(isolation="repeatable_read"):
        window = await _open_window(conn, time_zone, rebuild, settled)
        if max_span is not None and not await _small(conn, window, max_span):
            return None
        if window.rebuilt:
            await conn.execute(f"TRUNCATE {', '.join(SUMMARIES)}")
        timeout = None  # the pool's command timeout, as for any request
        if max_span is None:
            # both the server's statement_timeout and asyncpg's own command timeout would cut a rebuild short
            await conn.execute("SET LOCAL statement_timeout = 0")
            timeout = BACKGROUND_TIMEOUT_S
        if window.rebuilt and max_span is None:
            # a rebuild groups every line of the history by store, day and key: in memory rather than in
            # batches spilled to disk (the items step of 100,000 receipts spilled 120 MB at the default 4 MB)
            await conn.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
        if not window.rebuilt:
            # the planner's estimates of a few seconds' window pass the JIT threshold: compiling the two big
            # statements took 60-90 ms each of a fold of 10 s of the register mix, more than it saved
            await conn.execute("SET LOCAL jit = off")
        for name, statement, zoned in _STEPS:
            step_started = time.perf_counter()
            await conn.execute(statement, window.watermark, window.horizon, *([window.time_zone] if zoned else []),
                               timeout=timeout)
            if progress:
                print(f"  {name}: {time.perf_counter() - step_started:.1f} s", flush=True)
        await conn.execute(_REGISTERED)
        await conn.execute("DELETE FROM report_members WHERE receipts = 0")
        await conn.execute("DELETE FROM report_accounts WHERE receipts = 0")
        await conn.execute("DELETE FROM report_holdout WHERE receipts = 0")
        await conn.execute("DELETE FROM report_holdout_members WHERE receipts = 0")
        # a key's day with no standing receipt left (full refunds returned all its revenue and quantity too)
        for table in ("report_items", "report_store_items"):
            await conn.execute(f"DELETE FROM {table} WHERE receipts = 0 AND revenue = 0 AND quantity_thousandths = 0")
        await conn.execute("UPDATE report_state SET watermark = $1, time_zone = $2, rolled_at = now() WHERE id = 1",
                           window.horizon, window.time_zone)
    return window


# The customer card scores RFM against boundaries remembered in report_rfm (a pass over every buyer to
# compute: about 1 s at 1 M); the background keeps them at most this old, so no card request pays for it.
RFM_REFRESH_S = 15 * 60


async def refresh_rfm_bounds(db: Database, older_than_s: float = RFM_REFRESH_S) -> bool:
    """Compute the RFM boundaries again when the stored ones are older than `older_than_s`; True if it did."""
    async with db.connection() as conn:
        stale = await conn.fetchval(
            "SELECT coalesce((SELECT computed_at < now() - make_interval(secs => $1) FROM report_rfm WHERE id = 1),"
            " true)", older_than_s)
        if not stale:
            return False
        async with conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = 0")
            refreshed = await repository.refresh_rfm_bounds(conn) is not None
    if refreshed:
        metrics.RFM_REFRESHES.labels("rollup").inc()
    return refreshed


async def roll_up_forever(db: Database, time_zone: str, interval_s: float) -> None:
    """The periodic roll-up inside `serve`, safe in every worker at once (one wins the state row)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await roll_up(db, time_zone)
            await refresh_rfm_bounds(db)
        except Exception as error:  # a database outage must not end the loop
            metrics.REPORT_ROLLUPS.labels("failed").inc()
            log.warning("report roll-up failed: %s", error)
