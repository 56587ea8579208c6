"""SQL over the report summaries (migration 0003); every query reads summaries, never the history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from rules import Segments


def _days(store: str | None) -> str:
    """The period filter; the store is a parameter, $3, only when one is asked for."""
    return "day BETWEEN $1 AND $2" + (" AND store_id = $3" if store else "")


def _args(start: date, end: date, store: str | None) -> tuple[Any, ...]:
    return (start, end, store) if store else (start, end)


async def custom_plans(conn: asyncpg.Connection) -> None:
    """Plan this transaction's statements for their parameters every time: after 5 executions PostgreSQL may
    keep a generic plan, whose guess of a period's rows is blind (at 10 M receipts the stores and customers
    reports of a year took 3.3 to 3.7 s from the 6th request on, 1.2 to 1.6 s before; the uplift's statement
    for a year 3.6 s against 1.9 s, a seq scan and a sort instead of its key's member order). Every report's
    reads run so (`service._reading`)."""
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")


async def state(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow("SELECT time_zone, rolled_at FROM report_state WHERE id = 1")


async def sales(conn: asyncpg.Connection, start: date, end: date, store: str | None) -> list[asyncpg.Record]:
    """Per day: receipts, with a card, revenue, card revenue, lines."""
    return await conn.fetch(
        "SELECT day, sum(receipts)::bigint AS receipts, sum(with_card)::bigint AS with_card,"
        " sum(revenue)::bigint AS revenue, sum(card_revenue)::bigint AS card_revenue, sum(lines)::bigint AS lines"
        f" FROM report_sales WHERE {_days(store)} GROUP BY day ORDER BY day",
        *_args(start, end, store),
    )


async def points(conn: asyncpg.Connection, start: date, end: date, store: str | None) -> list[asyncpg.Record]:
    """Per day and ledger kind: the sum of points."""
    return await conn.fetch(
        f"SELECT day, kind, sum(points)::bigint AS points FROM report_points WHERE {_days(store)} GROUP BY day, kind",
        *_args(start, end, store),
    )


async def active_members(conn: asyncpg.Connection, start: date, end: date, store: str | None,
                         start_at: datetime | None = None) -> int:
    if store is None and start_at is not None:
        # a period that reaches the newest summarised day: a member bought in it iff their last purchase is in it
        # (report_accounts, one row per buyer), instead of a DISTINCT over every member-day of the period
        active = await conn.fetchval(
            "SELECT CASE WHEN $1::date >= (SELECT max(day) FROM report_members)"
            " THEN (SELECT count(*) FROM report_accounts WHERE last_purchase_at >= $2) END", end, start_at)
        if active is not None:
            return int(active)
    return int(await conn.fetchval(
        f"SELECT count(DISTINCT account_id) FROM report_members WHERE {_days(store)}", *_args(start, end, store)
    ))


async def members(conn: asyncpg.Connection, start_at: datetime, end_at: datetime) -> asyncpg.Record:
    """Accounts opened before the end of the period, and those opened within it."""
    return await conn.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE created_at >= $1) AS new FROM accounts"
        " WHERE created_at < $2",
        start_at, end_at,
    )


async def liability(conn: asyncpg.Connection, today: date) -> asyncpg.Record:
    """Outstanding points (the sum of the whole ledger), and those in lots expiring within 30 and 90 days
    (lots already past their expiry but not yet swept count as expiring)."""
    return await conn.fetchrow(
        "SELECT (SELECT coalesce(sum(points), 0)::bigint FROM report_points) AS outstanding,"
        " coalesce(sum(points) FILTER (WHERE day < $1::date + 30), 0)::bigint AS expiring_30_days,"
        " coalesce(sum(points), 0)::bigint AS expiring_90_days"
        " FROM report_expiry WHERE day < $1::date + 90",
        today,
    )


async def campaigns(conn: asyncpg.Connection, start: date, end: date, store: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT campaign_id, sum(receipts)::bigint AS receipts, sum(discount)::bigint AS discount,"
        " sum(points)::bigint AS points, sum(coupon_uses)::bigint AS coupon_uses, sum(revenue)::bigint AS revenue"
        f" FROM report_campaigns WHERE {_days(store)} GROUP BY campaign_id",
        *_args(start, end, store),
    )


# The CVM segment of a member at $1, exactly as rules.segment_of decides it.
_SEGMENT = """CASE WHEN last_purchase_at <= $1::timestamptz - make_interval(days => $4::int) THEN 'churn'
                   WHEN last_purchase_at <= $1::timestamptz - make_interval(days => $3::int) THEN 'pre_churn'
                   WHEN first_purchase_at > $1::timestamptz - make_interval(days => $2::int) THEN 'newcomer'
                   ELSE 'loyal' END"""


def _segment_args(now: datetime, settings: Segments) -> tuple[Any, ...]:
    return now, settings.newcomer_days, settings.pre_churn_days, settings.churn_days


async def segments(conn: asyncpg.Connection, now: datetime, settings: Segments) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_SEGMENT} AS segment, count(*) AS members, sum(revenue)::bigint AS revenue FROM report_accounts"
        " GROUP BY 1",
        *_segment_args(now, settings),
    )


async def account_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM accounts"))


# Scores 1 to 5: one plus the number of quintile boundaries below the value, so equal values share a
# score (ntile would split ties at random). Recency scores the last purchase: later is better.
_RFM_BOUNDS = """
    SELECT percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY last_purchase_at) AS r,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY receipts) AS f,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue) AS m
    FROM report_accounts
"""

_RFM = f"""
WITH bounds AS ({_RFM_BOUNDS}), cells AS (
    SELECT 1 + (a.last_purchase_at > b.r[1])::int + (a.last_purchase_at > b.r[2])::int
             + (a.last_purchase_at > b.r[3])::int + (a.last_purchase_at > b.r[4])::int AS r,
           1 + (a.receipts > b.f[1])::int + (a.receipts > b.f[2])::int
             + (a.receipts > b.f[3])::int + (a.receipts > b.f[4])::int AS f,
           1 + (a.revenue > b.m[1])::int + (a.revenue > b.m[2])::int
             + (a.revenue > b.m[3])::int + (a.revenue > b.m[4])::int AS m,
           count(*) AS members, sum(a.revenue)::bigint AS revenue
    FROM report_accounts a CROSS JOIN bounds b
    GROUP BY 1, 2, 3  -- the scores only: a hash of 125 cells, not a sort of every member by six keys
)
SELECT c.r, c.f, c.m, c.members, c.revenue,
       b.r AS recency_bounds, b.f AS frequency_bounds, b.m AS monetary_bounds
FROM cells c CROSS JOIN bounds b ORDER BY c.r DESC, c.f DESC, c.m DESC
"""


async def rfm(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The non-empty cells of the grid; every row also carries the quintile boundaries."""
    return await conn.fetch(_RFM)


async def rfm_bounds(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The boundaries the customer card scores against (migration 0007), and when they were computed."""
    return await conn.fetchrow("SELECT recency, frequency, monetary, computed_at FROM report_rfm WHERE id = 1")


async def save_rfm_bounds(conn: asyncpg.Connection, recency: list[datetime], frequency: list[int],
                          monetary: list[int]) -> None:
    """Remember boundaries the grid has just computed, so the card needs no pass over every buyer."""
    await conn.execute(
        "INSERT INTO report_rfm (id, recency, frequency, monetary, computed_at) VALUES (1, $1, $2, $3, now())"
        " ON CONFLICT (id) DO UPDATE SET recency = excluded.recency, frequency = excluded.frequency,"
        " monetary = excluded.monetary, computed_at = excluded.computed_at",
        recency, frequency, monetary,
    )


async def refresh_rfm_bounds(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """Compute the boundaries over every buyer now (a pass over report_accounts: about 1 s at 1 M) and
    remember them; None while no buyer is rolled up (the stored ones, if any, are left as they are)."""
    bounds = await conn.fetchrow(_RFM_BOUNDS)
    if bounds is None or bounds["r"] is None:
        return None
    await save_rfm_bounds(conn, bounds["r"], bounds["f"], bounds["m"])
    return await rfm_bounds(conn)


# Buyers ranked by lifetime value (report_accounts.revenue), highest first, cut into ten groups of equal size
# (sizes differ by one at most); ties by account id, so the cut is the same on every run.
_LTV_DECILES = """
SELECT decile, count(*) AS members, sum(revenue)::bigint AS revenue, min(revenue) AS min_ltv, max(revenue) AS max_ltv
FROM (SELECT revenue, ntile(10) OVER (ORDER BY revenue DESC, account_id) AS decile FROM report_accounts) ranked
GROUP BY decile ORDER BY decile
"""


async def ltv_deciles(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The non-empty deciles (fewer than ten buyers make fewer), top decile first."""
    return await conn.fetch(_LTV_DECILES)


_EVER = datetime(1, 1, 2, tzinfo=UTC)
_NEVER = datetime(9999, 12, 30, tzinfo=UTC)


def _segment_ranges(segment: str, now: datetime, settings: Segments) -> tuple[datetime, ...]:
    """(last after, last up to, first after, first up to) of a segment, as _SEGMENT decides it."""
    churn = now - timedelta(days=settings.churn_days)
    pre_churn = now - timedelta(days=settings.pre_churn_days)
    newcomer = now - timedelta(days=settings.newcomer_days)
    recent = max(churn, pre_churn)
    return {"churn": (_EVER, churn, _EVER, _NEVER), "pre_churn": (churn, pre_churn, _EVER, _NEVER),
            "newcomer": (recent, _NEVER, newcomer, _NEVER), "loyal": (recent, _NEVER, _EVER, newcomer)}[segment]


async def segment_members(conn: asyncpg.Connection, segment: str, now: datetime,
                          settings: Segments, limit: int | None = None) -> AsyncIterator[asyncpg.Record]:
    """The members of one CVM segment, by card (the first `limit` of them); a cursor, so a segment of
    millions streams."""
    if segment == "none":
        query = ("SELECT c.card, c.phone, NULL::timestamptz AS first_purchase_at, NULL::timestamptz AS"
                 " last_purchase_at, 0::bigint AS receipts, 0::bigint AS revenue FROM accounts c"
                 " WHERE NOT EXISTS (SELECT FROM report_accounts a WHERE a.account_id = c.id) ORDER BY c.card")
        args: tuple[Any, ...] = ()
    else:
        # plain ranges, not `CASE ... = $5`: the planner estimates them (a CASE is guessed at 0.5% of the rows,
        # which picked a nested loop over 630k members); custom plans keep the estimates after 5 executions
        await custom_plans(conn)
        query = ("SELECT c.card, c.phone, a.first_purchase_at, a.last_purchase_at, a.receipts, a.revenue"
                 " FROM report_accounts a JOIN accounts c ON c.id = a.account_id"
                 " WHERE a.last_purchase_at > $1 AND a.last_purchase_at <= $2"
                 " AND a.first_purchase_at > $3 AND a.first_purchase_at <= $4 ORDER BY c.card")
        args = _segment_ranges(segment, now, settings)
    if limit is not None:
        query += f" LIMIT {int(limit)}"  # an int: the planner sees the limit, as a parameter it would guess
    async for row in conn.cursor(query, *args, prefetch=2000):
        yield row


# --- stores (migration 0006) --------------------------------------------------------------------------


async def store_sales(conn: asyncpg.Connection, start: date, end: date, store: str | None) -> list[asyncpg.Record]:
    """Per store and day with sales: receipts, with a card, revenue."""
    return await conn.fetch(
        "SELECT store_id, day, receipts, with_card, revenue FROM report_sales"
        f" WHERE {_days(store)} AND receipts <> 0 ORDER BY store_id, day",
        *_args(start, end, store),
    )


async def store_members(conn: asyncpg.Connection, start: date, end: date, store: str | None) -> list[asyncpg.Record]:
    """Per store: the members with a standing receipt there in the period."""
    return await conn.fetch(
        f"SELECT store_id, count(DISTINCT account_id) AS members FROM report_members WHERE {_days(store)}"
        " GROUP BY store_id",
        *_args(start, end, store),
    )


async def registrations(conn: asyncpg.Connection, start_at: datetime, end_at: datetime, time_zone: str,
                        store: str | None) -> list[dict[str, Any]]:
    """Accounts opened in the period, per day they were opened and the store of their first standing
    receipt (None: no standing receipt). Two passes of one table each: the buyers' from report_accounts,
    which keeps when each account was opened (migration 0019), and every account's per day; the difference
    is those without a purchase (a join of every account opened with every buyer took twice as long: 1.0 s
    against 0.55 s for a year at 1M accounts)."""
    day = "(created_at AT TIME ZONE $3::text)::date"
    buyers = await conn.fetch(
        f"SELECT nullif(first_store_id, '') AS store_id, {day} AS day, count(*) AS registrations"
        " FROM report_accounts WHERE created_at >= $1 AND created_at < $2"
        + (" AND first_store_id = $4" if store else "") + " GROUP BY 1, 2",
        start_at, end_at, time_zone, *([store] if store else []),
    )
    rows = [dict(row) for row in buyers if row["store_id"] is not None]
    if store:
        return rows
    opened = await conn.fetch(f"SELECT {day} AS day, count(*) AS accounts FROM accounts"
                              " WHERE created_at >= $1 AND created_at < $2 GROUP BY 1", start_at, end_at, time_zone)
    without = {row["day"]: int(row["accounts"]) for row in opened}
    for row in rows:  # a buyer without a store (none on their first receipt) stays with those without a purchase
        without[row["day"]] = without.get(row["day"], 0) - int(row["registrations"])
    return rows + [{"store_id": None, "day": day, "registrations": n} for day, n in without.items() if n > 0]


# --- KPIs -------------------------------------------------------------------------------------------


async def segment_flows(conn: asyncpg.Connection, start_at: datetime, end_at: datetime, now: datetime,
                        settings: Segments) -> list[asyncpg.Record]:
    """Per CVM segment now (one pass over the buyers): its members' standing receipts and revenue of all time,
    the members whose first standing purchase is in the period (`new_buyers`), and those who passed into
    churn in it: their last standing purchase + churn_days is in the period and not after now (`churned`)."""
    return await conn.fetch(
        f"SELECT {_SEGMENT} AS segment, sum(receipts)::bigint AS receipts, sum(revenue)::bigint AS revenue,"
        " count(*) FILTER (WHERE first_purchase_at >= $5 AND first_purchase_at < $6) AS new_buyers,"
        " count(*) FILTER (WHERE last_purchase_at >= $5 - make_interval(days => $4::int)"
        "                    AND last_purchase_at < least($6, $1 + interval '1 microsecond')"
        "                                           - make_interval(days => $4::int)) AS churned"
        " FROM report_accounts GROUP BY 1",
        *_segment_args(now, settings), start_at, end_at,
    )


# --- customers --------------------------------------------------------------------------------------

# The ranking key of each order, a numeric (items: lines per receipt exactly; -1 for no receipt in the period)
CUSTOMER_ORDERS = {
    "ltv": "a.revenue::numeric",
    "receipts": "coalesce(p.receipts, 0)::numeric",
    "amount": "coalesce(p.amount, 0)::numeric",
    "items": "CASE WHEN p.receipts > 0 THEN p.lines::numeric / p.receipts ELSE -1 END",
}


async def mostly_inside(conn: asyncpg.Connection, start: date, end: date) -> bool:
    """Whether the period holds more than two thirds of the history's carded receipts (`report_sales`, one
    small pass). Then a member's figures over it are cheaper read as their lifetime figures less the days
    outside it (migration 0019): that reads the member-days outside plus one row per member, the period
    alone its member-days inside, and at 10M receipts a member has about eight member-days."""
    inside, total = await conn.fetchrow(
        "SELECT coalesce(sum(with_card) FILTER (WHERE day BETWEEN $1 AND $2), 0), coalesce(sum(with_card), 0)"
        " FROM report_sales", start, end)
    return bool(3 * inside > 2 * total)


def customers_query(order: str, store: bool, inactive: bool, after: bool, limit: bool,
                    lifetime_less_outside: bool = False) -> str:
    """Members by the key of `order` descending, ties by account id. Parameters: $1 $2 the period's days,
    then as present: the store, the cut-off of the inactive list (last purchase before it), the cursor's key
    and account id, the limit.

    Only what the ranking needs is joined before the limit: a ranking by the period's figures reads the
    lifetime figures of the rows it keeps, one by lifetime value sums the period only for them (a join of
    every member-day of the period with every buyer would be most of the cost). With
    `lifetime_less_outside` (no store; see `mostly_inside`) the period's figures are each member's lifetime
    figures less those of the days outside the period: the same numbers, as rows at zero receipts are
    deleted by the roll-up (a member with none left in the period is not in it)."""
    assert not (store and lifetime_less_outside)
    args = iter(range(3, 10))
    days = "day BETWEEN $1 AND $2" + (f" AND store_id = ${next(args)}" if store else "")
    cutoff = f"a.last_purchase_at < ${next(args)}" if inactive else ""
    by_ltv = order == "ltv"
    if by_ltv:  # the period's figures come after the ranking
        period_members = "SELECT account_id FROM period" if lifetime_less_outside else \
            f"SELECT account_id FROM report_members WHERE {days}"
        members = (f"report_accounts a WHERE {cutoff}" if inactive else
                   f"report_accounts a WHERE a.account_id IN ({period_members})")
        ranked = f"SELECT a.account_id, {CUSTOMER_ORDERS[order]} AS key FROM {members}"
    else:
        members = f"report_accounts a LEFT JOIN period p ON p.account_id = a.account_id WHERE {cutoff}" if inactive \
            else "period p"
        ranked = (f"SELECT {'a' if inactive else 'p'}.account_id, coalesce(p.receipts, 0) AS receipts,"
                  " coalesce(p.amount, 0) AS amount, coalesce(p.lines, 0) AS lines,"
                  f" {CUSTOMER_ORDERS[order]} AS key FROM {members}")
    page = ""
    if after:
        key, account = next(args), next(args)
        page = f" WHERE key < ${key}::numeric OR (key = ${key}::numeric AND account_id > ${account}::bigint)"
    sums = "sum(receipts)::bigint AS receipts, sum(revenue)::bigint AS amount, sum(lines)::bigint AS lines"
    period = f"SELECT account_id, {sums} FROM report_members WHERE {days}"
    ctes = [f"ranked AS ({ranked})",
            f"chosen AS (SELECT * FROM ranked{page} ORDER BY key DESC, account_id"
            + (f" LIMIT ${next(args)}" if limit else "") + ")"]
    if lifetime_less_outside:
        ctes.insert(0, "period AS (SELECT t.account_id, t.receipts - coalesce(o.receipts, 0) AS receipts,"
                       " t.revenue - coalesce(o.amount, 0) AS amount, t.lines - coalesce(o.lines, 0) AS lines"
                       f" FROM report_accounts t LEFT JOIN (SELECT account_id, {sums} FROM report_members"
                       "  WHERE day < $1 OR day > $2 GROUP BY account_id) o ON o.account_id = t.account_id"
                       " WHERE t.receipts > coalesce(o.receipts, 0))")
        if by_ltv:
            ctes.append("p AS (SELECT * FROM period WHERE account_id IN (SELECT account_id FROM chosen))")
    elif by_ltv:
        ctes.append(f"p AS ({period} AND account_id IN (SELECT account_id FROM chosen) GROUP BY account_id)")
    else:
        ctes.insert(0, f"period AS ({period} GROUP BY account_id)")
    figures = ("coalesce(p.receipts, 0) AS receipts, coalesce(p.amount, 0) AS amount, coalesce(p.lines, 0) AS lines"
               if by_ltv else "chosen.receipts, chosen.amount, chosen.lines")
    return (
        f"WITH {', '.join(ctes)}"
        f" SELECT c.card, c.phone, chosen.account_id, chosen.key, {figures}, a.revenue AS ltv,"
        " a.receipts AS lifetime_receipts, a.first_purchase_at, a.last_purchase_at"
        " FROM chosen JOIN report_accounts a ON a.account_id = chosen.account_id"
        " JOIN accounts c ON c.id = chosen.account_id" + (" LEFT JOIN p ON p.account_id = chosen.account_id"
                                                         if by_ltv else "")
        + " ORDER BY chosen.key DESC, chosen.account_id"
    )


async def customers(conn: asyncpg.Connection, order: str, start: date, end: date, store: str | None,
                    inactive_before: datetime | None, after: tuple[Decimal, int] | None,
                    limit: int | None, lifetime_less_outside: bool | None = None) -> AsyncIterator[asyncpg.Record]:
    """The rows of the customers report; a cursor, so that the CSV of every member streams. In a transaction.
    `lifetime_less_outside`: None decides by `mostly_inside` (an inactive list by lifetime value reads the
    period for the rows it keeps only, and a store's figures have no lifetime sums: never)."""
    await custom_plans(conn)
    if lifetime_less_outside is None:
        lifetime_less_outside = (store is None and not (order == "ltv" and inactive_before is not None)
                                 and await mostly_inside(conn, start, end))
    query = customers_query(order, store is not None, inactive_before is not None, after is not None,
                            limit is not None, lifetime_less_outside)
    args = [start, end, *([store] if store else []), *([inactive_before] if inactive_before else []),
            *(after or ()), *([limit] if limit is not None else [])]
    async for row in conn.cursor(query, *args, prefetch=2000 if limit is None else limit):
        yield row


# --- ABC (migration 0008) ---------------------------------------------------------------------------


async def items(conn: asyncpg.Connection, kind: str, start: date, end: date,
                store: str | None) -> list[asyncpg.Record]:
    """Per key of `kind` ('sku' or 'category'; '' for lines without one): revenue, quantity in thousandths and
    standing receipts over the period's days; the chain's summary, or with `store` that store's."""
    table, where = ("report_store_items", "store_id = $4 AND ") if store else ("report_items", "")
    return await conn.fetch(
        "SELECT key, sum(revenue)::bigint AS revenue, sum(quantity_thousandths)::bigint AS quantity_thousandths,"
        f" sum(receipts)::bigint AS receipts FROM {table}"
        f" WHERE {where}kind = $1 AND day BETWEEN $2 AND $3 GROUP BY key",
        kind, start, end, *([store] if store else []),
    )


async def holdout_groups(conn: asyncpg.Connection, campaign_id: str, start: date, end: date,
                         lifetime_less_outside: bool | None = None) -> list[asyncpg.Record]:
    """Per group of one campaign's eligible members (migration 0012): members, their eligible receipts and
    revenue, the sum of the squares of each member's revenue (numeric: exact), and the members with two
    receipts or more. The rows come in member order by the key (migration 0017), so each member is summed as
    its rows pass, not hashed; its sums are bigints, so the groups' sums add 128-bit integers, not numerics.
    With `lifetime_less_outside` (None: `mostly_inside` decides) a member's sums are their lifetime sums
    (`report_holdout_members`, migration 0019) less those of the days outside the period: the same numbers."""
    if lifetime_less_outside is None:
        lifetime_less_outside = await mostly_inside(conn, start, end)
    if lifetime_less_outside:
        member = ("SELECT t.account_id, t.held_out, t.receipts - coalesce(o.receipts, 0) AS receipts,"
                  "       t.revenue - coalesce(o.revenue, 0) AS revenue"
                  " FROM report_holdout_members t LEFT JOIN ("
                  "   SELECT account_id, held_out, sum(receipts)::bigint AS receipts, sum(revenue)::bigint AS revenue"
                  "   FROM report_holdout WHERE campaign_id = $1 AND (day < $2 OR day > $3)"
                  "   GROUP BY account_id, held_out) o ON o.account_id = t.account_id AND o.held_out = t.held_out"
                  " WHERE t.campaign_id = $1 AND t.receipts > coalesce(o.receipts, 0)")
    else:
        member = ("SELECT account_id, held_out, sum(receipts)::bigint AS receipts, sum(revenue)::bigint AS revenue"
                  " FROM report_holdout WHERE campaign_id = $1 AND day BETWEEN $2 AND $3 GROUP BY account_id, held_out"
                  " HAVING sum(receipts) > 0")
    return await conn.fetch(
        "SELECT held_out, count(*) AS members, sum(receipts)::bigint AS receipts, sum(revenue)::bigint AS revenue,"
        " sum(revenue::numeric * revenue) AS revenue_squares, count(*) FILTER (WHERE receipts > 1) AS repeat_buyers"
        f" FROM ({member}) AS member GROUP BY held_out",
        campaign_id, start, end,
    )


async def campaign_cost(conn: asyncpg.Connection, campaign_id: str, start: date, end: date) -> asyncpg.Record:
    """What one campaign gave in the period (every store): discount and points, as the campaigns report."""
    return await conn.fetchrow(
        "SELECT coalesce(sum(discount), 0)::bigint AS discount, coalesce(sum(points), 0)::bigint AS points"
        " FROM report_campaigns WHERE campaign_id = $1 AND day BETWEEN $2 AND $3",
        campaign_id, start, end,
    )
