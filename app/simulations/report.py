"""A finished simulation as `GET /v1/simulations/{id}` shows it: per campaign and in total, the draft's figures,
the baseline's, and what the draft costs against it.

- `cost` = discount + points granted (points are minor units too): a campaign's own discount and points; in
  total, the discount and every point accrued or granted by a bonus. `cost_difference` = draft − baseline.
- `revenue_per_receipt_touched` / `_untouched`: the purchase amount (final amounts, certificate sales
  excluded) per receipt the campaign touched / did not touch, in minor units rounded down; null with no
  such receipt.
- `coupon_uses`: applied coupon codes of the campaign (in total: all applied codes)."""

from __future__ import annotations

from typing import Any

from .model import CampaignStats, Simulation
from .replay import Replayed

FIGURES = ("receipts", "discount", "points", "coupon_uses", "cost", "revenue_per_receipt_touched",
           "revenue_per_receipt_untouched")


def _per(amount: int, receipts: int) -> int | None:
    return amount // receipts if receipts else None


def _campaign(stats: CampaignStats | None, run: Simulation) -> dict[str, Any]:
    receipts = run.totals["receipts"]
    if stats is None:  # not in this program
        return {"receipts": 0, "discount": 0, "points": 0, "coupon_uses": 0, "cost": 0,
                "revenue_per_receipt_touched": None, "revenue_per_receipt_untouched": _per(run.totals["revenue"],
                                                                                           receipts)}
    return {
        "receipts": stats.receipts, "discount": stats.discount, "points": stats.points,
        "coupon_uses": stats.coupon_uses, "cost": stats.discount + stats.points,
        "revenue_per_receipt_touched": _per(stats.revenue, stats.receipts),
        "revenue_per_receipt_untouched": _per(run.totals["revenue"] - stats.revenue, receipts - stats.receipts),
    }


def _totals(run: Simulation) -> dict[str, Any]:
    t = run.totals
    granted = t["points_accrued"] + t["registration_points"] + t["birthday_points"]
    return {
        "receipts": t["receipts"], "amount": t["amount"], "revenue": t["revenue"], "discount": t["discount"],
        "points_granted": granted, "points_accrued": t["points_accrued"],
        "registration_points": t["registration_points"], "birthday_points": t["birthday_points"],
        "points_redeemed": t["points_redeemed"],
        "coupon_uses": sum(entry["applied"] for entry in run.coupons.values()),
        "cost": t["discount"] + granted,
        "revenue_per_receipt": _per(t["revenue"], t["receipts"]),
    }


def result(replayed: Replayed) -> dict[str, Any]:
    draft, base = replayed.runs[0], replayed.runs[1]
    campaigns = []
    for campaign_id in [*draft.campaigns, *(i for i in base.campaigns if i not in draft.campaigns)]:
        mine, theirs = draft.campaigns.get(campaign_id), base.campaigns.get(campaign_id)
        figures = _campaign(mine, draft)
        baseline = _campaign(theirs, base)
        named = mine or theirs
        campaigns.append({
            "id": campaign_id, "name": named.name if named is not None else campaign_id,
            "in_draft": mine is not None, "in_baseline": theirs is not None,
            **figures, "baseline": baseline, "cost_difference": figures["cost"] - baseline["cost"],
        })
    totals, base_totals = _totals(draft), _totals(base)
    seen = replayed.seen
    return {
        "currency": draft.program.program.currency,
        "receipts": {"replayed": seen.receipts, "unreadable": seen.invalid,
                     "not_replayable": replayed.bodiless},
        "campaigns": campaigns,
        "totals": {**totals, "baseline": base_totals, "cost_difference": totals["cost"] - base_totals["cost"]},
        "card_status": {status: draft.cards[status] for status in ("ok", "none", "unknown", "blocked")},
    }
