"""The receipt result as the API shows it, built from an evaluation outcome."""

from __future__ import annotations

from typing import Any

from rules import REVERSIBLE, Outcome, Receipt, decimal_text

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


def stored_lines(receipt: Receipt, outcome: Outcome) -> list[dict[str, Any]]:
    """The per-line figures refunds reverse, kept with the receipt; sku and category for the reports.

    What is empty, zero or false is left out, as `compact` leaves it out and `expand` puts it back: the
    lines are a receipt's largest document, and PostgreSQL parses every byte of it into jsonb on every
    confirm. The amount and the discount are always there (the reports read them as they are)."""
    stored = []
    for line, result in zip(receipt.lines, outcome.lines, strict=True):
        document: dict[str, Any] = {"line_id": line.line_id, "sku": line.sku, "quantity": decimal_text(line.quantity)}
        if line.category is not None:
            document["category"] = line.category
        if line.gift_certificate is not None:
            document["sells_certificate"] = True
            document["gift_certificate"] = line.gift_certificate
        if result.certificate_parts:
            document["certificates"] = dict(result.certificate_parts)
        figures = {"amount": result.amount, "discount": result.discount}
        for name, value in (("points_redeemed", result.points_redeemed),
                            ("gift_certificates", result.gift_certificates),
                            ("accrual_points", result.accrual_points), ("bonus_points", result.bonus_points)):
            if value:
                figures[name] = value
        document["figures"] = figures
        stored.append(document)
    return stored


# a stored line's fields that are left out at their defaults (each a fresh copy when put back)
_DEFAULTS: dict[str, Any] = {"category": None, "returned": "0", "sells_certificate": False,
                             "gift_certificate": None, "certificates": {}, "refunded_certificates": {},
                             "refunded": {}}
_ALWAYS = ("amount", "discount")


def expand(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored line with every field (a line stored whole before lines were compacted reads the same)."""
    line = {name: (dict(value) if isinstance(value, dict) else value) for name, value in _DEFAULTS.items()}
    line.update(stored)
    line["figures"] = {name: stored["figures"].get(name, 0) for name in REVERSIBLE}
    return line


def compact(line: dict[str, Any]) -> dict[str, Any]:
    """A line as `stored_lines` stores it: what is at its default left out."""
    stored = {name: value for name, value in line.items() if name not in _DEFAULTS or value != _DEFAULTS[name]}
    stored["figures"] = {name: value for name, value in line["figures"].items() if value or name in _ALWAYS}
    return stored
