"""The receipt result as the API shows it, built from an evaluation outcome."""

from __future__ import annotations

from typing import Any

from rules import Outcome, Receipt

TOTALS = ("amount", "discount", "points_redeemed", "gift_certificates", "to_pay", "points_accrued")


def build(receipt: Receipt, outcome: Outcome, status: str, program_version: int,
          account: dict[str, Any] | None) -> dict[str, Any]:
    lines = [
        {
            "line_id": line.line_id,
            "discount": line.discount,
            "final_amount": line.final_amount,
            "points_redeemed": line.points_redeemed,
            "gift_certificates": line.gift_certificates,
            "points_accrued": line.points_accrued,
            "campaigns": line.campaigns,
        }
        for line in outcome.lines
    ]
    result = {
        "receipt_id": receipt.receipt_id,
        "status": status,
        "program_version": program_version,
        "card_status": outcome.card_status,
        "totals": {name: outcome.total(name) for name in TOTALS},
        "lines": lines,
        "campaigns": [
            {"id": c.id, "name": c.name, "discount": c.discount, "points": c.points} for c in outcome.campaigns
        ],
        "coupons": [_without_none({"code": v.code, "status": v.status, "reason": v.reason})
                    for v in outcome.coupons],
        "gift_certificates": [
            _without_none({"code": c.code, "status": c.status, "reason": c.reason, "charged": c.charged,
                           "balance": c.balance})
            for c in outcome.certificates
        ],
        "points": {
            "redeemable_max": outcome.redeemable_max,
            "available_at": outcome.accrual_available_at.isoformat(),
        },
        "account": account,
    }
    if outcome.holdout_treated or outcome.holdout_held_out:
        # the reports' uplift reads the groups from the stored result (app/reports/rollup.py)
        result["holdout"] = {"treated": list(outcome.holdout_treated), "held_out": list(outcome.holdout_held_out)}
    return result


def _without_none(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if value is not None}


def account_summary(card: str, view: dict[str, Any], tier_applied: str | None) -> dict[str, Any]:
    return {
        "card": card,
        "tier": view["tier"]["id"],
        "tier_applied": tier_applied,
        "available": view["points"]["available"],
        "pending": view["points"]["pending"],
    }
