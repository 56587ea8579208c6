"""The ledger audit: proves, per account, that the ledger, the lot moves, the lots and the debt agree.

1. every ledger entry's points equal the sum of its lot moves;
2. every lot's remaining points equal the sum of the moves into and out of it;
3. every account's debt equals minus the sum of its debt moves;
4. so the ledger of every account sums to its lots' remaining points minus its debt
   (available + pending, plus expired lots the sweep has not reached yet);
5. every confirmed receipt's accrued and redeemed points are in the ledger, minus what refunds reversed;
6. every gift certificate's balance equals the sum of its moves, and no refunded or cancelled receipt
   still holds a coupon use;
7. the links that migration 0004 took from foreign keys, because on Citus they join tables distributed by
   different keys (deploy/SCALING.md section 4): every account and its `cards` row name each other; every
   receipt is stored under the owner its claim names, which is its account (a negative number when it has
   none), and that account exists; every coupon use's receipt exists, has the use's account and names the
   code in its links (a full refund releases the uses by those codes).
"""

from __future__ import annotations

import asyncpg

CHECKS: dict[str, str] = {
    "entry points differ from its lot moves": """
        SELECT l.account_id, 'entry ' || l.id || ': ' || l.points || ' vs moves ' || coalesce(sum(m.points), 0)
        FROM ledger l LEFT JOIN lot_moves m ON m.account_id = l.account_id AND m.entry_id = l.id
        GROUP BY l.account_id, l.id HAVING l.points <> coalesce(sum(m.points), 0)""",
    "lot remaining differs from its moves": """
        SELECT lo.account_id,
               'lot ' || lo.id || ': remaining ' || lo.remaining || ' vs moves ' || coalesce(sum(m.points), 0)
        FROM lots lo LEFT JOIN lot_moves m ON m.account_id = lo.account_id AND m.lot_id = lo.id
        GROUP BY lo.account_id, lo.id HAVING lo.remaining <> coalesce(sum(m.points), 0)""",
    "debt differs from its moves": """
        SELECT a.id, 'debt ' || a.debt || ' vs moves ' || coalesce(-sum(m.points), 0)
        FROM accounts a LEFT JOIN lot_moves m ON m.account_id = a.id AND m.lot_id IS NULL
        GROUP BY a.id HAVING a.debt <> coalesce(-sum(m.points), 0)""",
    "ledger sum differs from lots minus debt": """
        SELECT a.id, 'ledger ' || coalesce(l.total, 0) || ' vs lots ' || coalesce(lo.total, 0) || ' - debt ' || a.debt
        FROM accounts a
        LEFT JOIN (SELECT account_id, sum(points) AS total FROM ledger GROUP BY account_id) l ON l.account_id = a.id
        LEFT JOIN (SELECT account_id, sum(remaining) AS total FROM lots GROUP BY account_id) lo ON lo.account_id = a.id
        WHERE coalesce(l.total, 0) <> coalesce(lo.total, 0) - a.debt""",
    "receipt points differ from its ledger entries": """
        SELECT r.account_id, 'receipt ' || r.receipt_id || ': accrued-reversed ' || coalesce(e.accrued, 0)
               || ', redeemed-returned ' || coalesce(e.redeemed, 0) || ' vs result '
               || ((r.result->'totals'->>'points_accrued')::bigint - coalesce(f.accrued, 0)) || ', '
               || ((r.result->'totals'->>'points_redeemed')::bigint - coalesce(f.redeemed, 0))
        FROM receipts r
        LEFT JOIN (SELECT receipt_id,
                          sum(points) FILTER (WHERE kind IN ('accrual', 'bonus', 'accrual_reversal')) AS accrued,
                          -sum(points) FILTER (WHERE kind IN ('redemption', 'redemption_return')) AS redeemed
                   FROM ledger WHERE receipt_id IS NOT NULL GROUP BY receipt_id) e ON e.receipt_id = r.receipt_id
        LEFT JOIN (SELECT receipt_id,
                          sum((refund->'refund'->'totals'->>'points_accrued')::bigint) AS accrued,
                          sum((refund->'refund'->'totals'->>'points_redeemed')::bigint) AS redeemed
                   FROM refunds GROUP BY receipt_id) f ON f.receipt_id = r.receipt_id
        WHERE r.account_id IS NOT NULL AND r.status <> 'pending' AND r.result->>'card_status' = 'ok'
          AND (coalesce(e.accrued, 0) <> (r.result->'totals'->>'points_accrued')::bigint - coalesce(f.accrued, 0)
            OR coalesce(e.redeemed, 0)
               <> (r.result->'totals'->>'points_redeemed')::bigint - coalesce(f.redeemed, 0))""",
    "certificate balance differs from its moves": """
        SELECT NULL::bigint, 'certificate ' || g.code || ': balance ' || g.balance || ' vs moves '
               || coalesce(sum(m.amount), 0)
        FROM gift_certificates g LEFT JOIN certificate_moves m ON m.code = g.code
        GROUP BY g.code HAVING g.balance <> coalesce(sum(m.amount), 0)""",
    # The checks from here on join tables of different colocation groups, which Citus joins outright only on
    # their distribution columns (else by repartitioning both, seconds even when small): the smaller side
    # is read first, as a whole (a MATERIALIZED CTE, which Citus sends to every shard), and each shard's
    # rows are joined with it.
    "coupon use held by a refunded receipt": """
        WITH u AS MATERIALIZED (SELECT code, account_id, receipt_id FROM coupon_uses WHERE released_at IS NULL)
        SELECT u.account_id, 'coupon ' || u.code || ' still used by ' || r.status || ' receipt ' || r.receipt_id
        FROM receipts r JOIN u ON u.receipt_id = r.receipt_id
        WHERE r.status IN ('refunded', 'cancelled')""",
    "account and its card row disagree": """
        WITH c AS MATERIALIZED (SELECT card, account_id FROM cards)
        SELECT a.id, 'account ' || a.id || ' has card ' || a.card || ', whose row names '
               || coalesce('account ' || c.account_id, 'no account')
        FROM accounts a LEFT JOIN c ON c.card = a.card
        WHERE c.account_id IS DISTINCT FROM a.id""",
    "card row names a missing account": """
        WITH a AS MATERIALIZED (SELECT id, card FROM accounts)
        SELECT c.account_id, 'card ' || c.card || ' names account ' || c.account_id || ', which '
               || CASE WHEN a.id IS NULL THEN 'does not exist' ELSE 'has card ' || a.card END
        FROM cards c LEFT JOIN a ON a.id = c.account_id
        WHERE a.id IS NULL OR a.card <> c.card""",
    "receipt and its claim disagree": """
        WITH r AS MATERIALIZED (SELECT receipt_id, owner_id, account_id, fingerprint, issued_at FROM receipts),
             c AS MATERIALIZED (SELECT receipt_id, owner_id FROM receipt_claims)
        SELECT r.account_id, 'receipt ' || c.receipt_id || ': '
               || CASE WHEN r.receipt_id IS NULL
                       THEN 'claimed for owner ' || coalesce(c.owner_id::text, 'none') || ', not stored there'
                       ELSE 'fingerprint or issued_at differ from the claim' END
        FROM receipt_claims c LEFT JOIN r ON r.receipt_id = c.receipt_id AND r.owner_id = c.owner_id
        WHERE r.receipt_id IS NULL OR r.fingerprint <> c.fingerprint OR r.issued_at <> c.issued_at
        UNION ALL
        SELECT r.account_id, 'receipt ' || r.receipt_id || ': stored under owner ' || r.owner_id
               || ' without a claim for it'
        FROM receipts r LEFT JOIN c ON c.receipt_id = r.receipt_id AND c.owner_id = r.owner_id
        WHERE c.receipt_id IS NULL""",
    "receipt and its account disagree": """
        WITH a AS MATERIALIZED (SELECT id FROM accounts)
        SELECT r.account_id, 'receipt ' || r.receipt_id || ' of account ' || coalesce(r.account_id::text, 'none')
               || CASE WHEN r.account_id IS NOT NULL AND a.id IS NULL THEN ', which does not exist'
                       ELSE ' is stored under owner ' || r.owner_id END
        FROM receipts r LEFT JOIN a ON a.id = r.account_id
        WHERE (r.account_id IS NOT NULL AND (a.id IS NULL OR r.owner_id <> r.account_id))
           OR (r.account_id IS NULL AND r.owner_id >= 0)""",
    "coupon use and its receipt disagree": """
        WITH r AS MATERIALIZED (SELECT receipt_id, account_id, links -> 'coupons' AS coupons FROM receipts)
        SELECT u.account_id, 'coupon ' || u.code || ' used by receipt ' || u.receipt_id || ': '
               || CASE WHEN r.receipt_id IS NULL THEN 'no such receipt'
                       WHEN u.account_id IS DISTINCT FROM r.account_id
                       THEN 'the use names account ' || coalesce(u.account_id::text, 'none') || ', the receipt '
                            || coalesce(r.account_id::text, 'none')
                       ELSE 'the receipt''s links do not name the code' END
        FROM coupon_uses u LEFT JOIN r ON r.receipt_id = u.receipt_id
        WHERE r.receipt_id IS NULL OR u.account_id IS DISTINCT FROM r.account_id
           OR NOT coalesce(r.coupons ? u.code, false)""",
}


async def audit(conn: asyncpg.Connection) -> list[dict[str, str]]:
    """Every disagreement found, as {card, check, detail}; empty when the books balance."""
    problems: list[dict[str, str]] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cards = {r["id"]: r["card"] for r in await conn.fetch("SELECT id, card FROM accounts")}
        for check, query in CHECKS.items():
            for account_id, detail in await conn.fetch(query):
                card = cards.get(account_id, "?") if account_id is not None else "-"
                problems.append({"card": card, "check": check, "detail": detail})
    return problems
