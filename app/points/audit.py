"""The ledger audit: proves, per account, that the ledger, the lot moves, the lots and the debt agree.

1. every ledger entry's points equal the sum of its lot moves;
2. every lot's remaining points equal the sum of the moves into and out of it;
3. every account's debt equals minus the sum of its debt moves;
4. so the ledger of every account sums to its lots' remaining points minus its debt
   (available + pending, plus expired lots the sweep has not reached yet);
5. every confirmed receipt's accrued and redeemed points are in the ledger, minus what refunds reversed;
6. every gift certificate's balance equals the sum of its moves, and no refunded or cancelled receipt
   still holds a coupon use.
"""

from __future__ import annotations

import asyncpg

CHECKS: dict[str, str] = {
    "entry points differ from its lot moves": """
        SELECT l.account_id, 'entry ' || l.id || ': ' || l.points || ' vs moves ' || coalesce(sum(m.points), 0)
        FROM ledger l LEFT JOIN lot_moves m ON m.entry_id = l.id
        GROUP BY l.id HAVING l.points <> coalesce(sum(m.points), 0)""",
    "lot remaining differs from its moves": """
        SELECT lo.account_id,
               'lot ' || lo.id || ': remaining ' || lo.remaining || ' vs moves ' || coalesce(sum(m.points), 0)
        FROM lots lo LEFT JOIN lot_moves m ON m.lot_id = lo.id
        GROUP BY lo.id HAVING lo.remaining <> coalesce(sum(m.points), 0)""",
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
    "coupon use held by a refunded receipt": """
        SELECT u.account_id, 'coupon ' || u.code || ' still used by ' || r.status || ' receipt ' || r.receipt_id
        FROM coupon_uses u JOIN receipts r ON r.receipt_id = u.receipt_id
        WHERE u.released_at IS NULL AND r.status IN ('refunded', 'cancelled')""",
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
