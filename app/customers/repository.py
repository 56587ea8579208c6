"""SQL of the customer card and the birthday sweep: one account's rows, each read through its account's indexes
(the profile's own rows are the account's: app/accounts/repository.py)."""

from __future__ import annotations

import asyncpg

# The account's standing receipts (confirmed or partially refunded), as in tier purchases and the reports;
# owner_id routes to the account's shard, account_id = owner picks the same rows and the partial index.
_STANDING = ("FROM receipts WHERE owner_id = $1 AND account_id = $1"
             " AND status IN ('confirmed', 'partially_refunded')")


async def purchases(conn: asyncpg.Connection, account_id: int) -> asyncpg.Record:
    """Receipts, lifetime value (purchase amounts less what refunds took off; certificate sales never
    count), and the first and last purchase. The lines are not read here: `categories` reads them once."""
    return await conn.fetchrow(
        "SELECT count(*) AS receipts, coalesce(sum(purchase_amount - refunded_purchase), 0)::bigint AS ltv,"
        f" min(issued_at) AS first_purchase, max(issued_at) AS last_purchase {_STANDING}",
        account_id,
    )


async def receipt_times(conn: asyncpg.Connection, account_id: int, time_zone: str) -> list[asyncpg.Record]:
    """Receipts per ISO weekday (1 = Monday) and hour, on the clock of `time_zone`."""
    return await conn.fetch(
        "SELECT extract(isodow FROM issued_at AT TIME ZONE $2::text)::int AS weekday,"
        " extract(hour FROM issued_at AT TIME ZONE $2::text)::int AS hour, count(*) AS receipts"
        f" {_STANDING} GROUP BY 1, 2",
        account_id, time_zone,
    )


# Per category, over the lines of standing receipts (each receipt's lines read once: they are its largest,
# compressed column): `lines` every line, certificate sales included, as the reports count items; and over
# the goods lines only (certificate sales left out), what refunds left: `paid` the final amount (amount less
# discount), `amount` before the discount, `promo` the amount of the lines that carried a discount. Lines
# stored before sku and category were kept have no category: "(none)".
_CATEGORIES = f"""
SELECT category, count(*) AS lines,
       coalesce(sum(amount - discount) FILTER (WHERE goods), 0)::bigint AS paid,
       coalesce(sum(amount) FILTER (WHERE goods), 0)::bigint AS amount,
       coalesce(sum(amount) FILTER (WHERE goods AND promo), 0)::bigint AS promo
FROM (SELECT coalesce(l ->> 'category', '(none)') AS category,
             NOT coalesce((l ->> 'sells_certificate')::boolean, false) AS goods,
             (l #>> '{{figures,discount}}')::bigint > 0 AS promo,
             (l #>> '{{figures,amount}}')::bigint - coalesce((l #>> '{{refunded,amount}}')::bigint, 0) AS amount,
             (l #>> '{{figures,discount}}')::bigint - coalesce((l #>> '{{refunded,discount}}')::bigint, 0) AS discount
      FROM (SELECT lines {_STANDING}) r CROSS JOIN jsonb_array_elements(r.lines) AS l) line
GROUP BY category
"""


async def categories(conn: asyncpg.Connection, account_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(_CATEGORIES, account_id)


async def points(conn: asyncpg.Connection, account_id: int) -> dict[str, int]:
    """The sum of the account's ledger entries per kind (debits are negative)."""
    rows = await conn.fetch("SELECT kind, sum(points)::bigint AS points FROM ledger WHERE account_id = $1"
                            " GROUP BY kind", account_id)
    return {row["kind"]: int(row["points"]) for row in rows}


# The accounts whose birth month and day is one of `month_days`, each with the birthday year asked with it
# (born before that year), active, without a grant of `campaign_id` for that year: after `after_id`, by id, so
# that a sweep pages through them. The month and day expression is the one `accounts_birthday` indexes.
_BIRTHDAYS_DUE = """
SELECT a.id, k.year
FROM unnest($1::int[], $2::int[]) AS k(month_day, year)
JOIN accounts a ON (extract(month FROM a.birth_date) * 100 + extract(day FROM a.birth_date))::int = k.month_day
WHERE a.birth_date IS NOT NULL AND a.status = 'active' AND extract(year FROM a.birth_date) < k.year AND a.id > $3
  AND NOT EXISTS (SELECT 1 FROM birthday_grants g
                  WHERE g.account_id = a.id AND g.campaign_id = $4 AND g.year = k.year)
ORDER BY a.id LIMIT $5
"""


async def birthdays_due(conn: asyncpg.Connection, campaign_id: str, keys: list[tuple[int, int, int]], after_id: int,
                        limit: int) -> list[asyncpg.Record]:
    """(id, year) of the accounts due a birthday bonus of `campaign_id` for these (month, day, year) keys."""
    return await conn.fetch(_BIRTHDAYS_DUE, [month * 100 + day for month, day, _ in keys],
                            [year for _, _, year in keys], after_id, campaign_id, limit)


async def claim_birthday(conn: asyncpg.Connection, account_id: int, campaign_id: str, year: int,
                         entry_id: int) -> bool:
    """Record the grant of a birthday year; False when one is recorded already (the caller writes nothing)."""
    return bool(await conn.fetchval(
        "INSERT INTO birthday_grants (account_id, campaign_id, year, entry_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING true",
        account_id, campaign_id, year, entry_id,
    ))
