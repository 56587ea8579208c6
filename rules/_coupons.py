"""Coupon checks that do not depend on amounts, in the contract's order of reasons:
unknown; not_started, expired; used, usage_limit_reached; card_required; conditions_not_met.
The discount stage adds the rest (conditions_not_met for an empty scope, min_amount_not_met,
not_combinable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._compiled import CompiledProgram
from ._conditions import Context, not_active_reason, when_holds
from ._facts import CouponFact, ReceiptFacts
from ._outcome import CouponVerdict
from ._program import Coupon

__all__ = ["AdmittedCoupon", "admit_coupons"]


@dataclass(frozen=True, slots=True)
class AdmittedCoupon:
    campaign: Coupon
    code: str
    position: int  # on the receipt: among codes of one campaign, the first one wins


def _needs_card(campaign: Coupon) -> bool:
    return bool(campaign.max_uses_per_account or campaign.points or campaign.accrual_multiplier)


def _reason(campaign: Coupon | None, fact: CouponFact | None, ctx: Context, card_ok: bool) -> str | None:
    if campaign is None:
        return "unknown"
    inactive = not_active_reason(campaign, ctx.at)
    if inactive is not None:
        return inactive
    if fact is not None:
        if fact.used:
            return "used"
        if campaign.max_uses is not None and fact.uses >= campaign.max_uses:
            return "usage_limit_reached"
        if campaign.max_uses_per_account is not None and fact.account_uses >= campaign.max_uses_per_account:
            return "usage_limit_reached"
    if _needs_card(campaign) and not card_ok:
        return "card_required"
    if not when_holds(campaign.when, ctx):
        return "conditions_not_met"
    return None


def admit_coupons(
    codes: Sequence[str], facts: ReceiptFacts, program: CompiledProgram, ctx: Context, card_ok: bool
) -> tuple[dict[str, CouponVerdict], list[AdmittedCoupon]]:
    """(rejections so far by code, the coupons that go on to the discount stage in priority order)."""
    rejected: dict[str, CouponVerdict] = {}
    admitted: list[AdmittedCoupon] = []
    for position, code in enumerate(codes):
        fact = facts.coupons.get(code)
        campaign = program.coupon(code, fact.campaign_id if fact else None)
        if fact is None and campaign is not None and campaign.code is None:
            campaign = None  # a batch campaign's code must be a stored code
        reason = _reason(campaign, fact, ctx, card_ok)
        if reason is not None or campaign is None:
            rejected[code] = CouponVerdict(code, "rejected", reason, campaign.id if campaign else None)
        else:
            admitted.append(AdmittedCoupon(campaign, code, position))
    admitted.sort(key=lambda c: (c.campaign.priority, c.campaign.id, c.position))
    return rejected, admitted
