"""evaluate(receipt, account, program, now, facts) -> Outcome: the pure heart of the engine.

Per line, in this order: discounts, then points redeemed, then certificates, each on what is left;
then accrual on the line's base. No I/O, no clock (`now` is an argument), no globals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from ._account import AccountState, segment_of, tier_for
from ._certificates import pay_with_certificates
from ._compiled import CompiledProgram, fraction
from ._conditions import Context, LineScopes, applies
from ._coupons import admit_coupons
from ._discounts import DiscountStage
from ._facts import NO_FACTS, ReceiptFacts
from ._holdout import NO_HOLDOUT, hold_out
from ._money import floor_rate_points, quantity_floor, spread
from ._outcome import BonusGrant, CampaignEffect, LineOutcome, Outcome
from ._program import Accrual, Bonus, Campaign, Coupon, Redemption
from ._receipt import Line, Receipt

__all__ = ["evaluate"]

# Card statuses of a member (an account, or a card confirm will enrol): only members are held out. A cardless
# receipt and an unknown card (no account, auto_enroll off) are never held out.
_MEMBERS = frozenset(("ok", "blocked"))


def evaluate(
    receipt: Receipt, account: AccountState, program: CompiledProgram, now: datetime, facts: ReceiptFacts = NO_FACTS
) -> Outcome:
    settings = program.program
    earns = account.status == "ok"
    tier = tier_for(settings.tiers, account.tier_purchases) if earns else None
    segment = segment_of(account.first_purchase_at, account.last_purchase_at, receipt.issued_at, settings.segments)
    ctx = Context(receipt.issued_at, receipt.channel, receipt.store_id, tier.id if tier else None, segment,
                  account.segments)
    lines = receipt.lines
    floors = [quantity_floor(line.min_price, line.quantity) for line in lines]
    results = [LineOutcome(line.line_id, line.amount, line.sells_certificate) for line in lines]
    effects: dict[str, CampaignEffect] = {}
    candidates = program.candidates_by_type(lines)
    scopes = LineScopes(lines, program.scope_memo)
    holdout = NO_HOLDOUT
    if program.holdouts and receipt.card is not None and account.status in _MEMBERS:
        holdout = hold_out(candidates, program.holdouts, receipt.card, ctx, scopes)

    accruing = [not line.no_accrual and line.gift_certificate is None for line in lines]
    rejected, admitted = admit_coupons(receipt.coupons, facts, program, ctx, earns)
    stage = DiscountStage(ctx, lines, floors, results, candidates, scopes)
    stage.run(admitted)
    for campaign_id, given in stage.given.items():
        _effect(effects, program, campaign_id).discount += given
    verdicts = {**rejected, **stage.verdicts}
    redeemable_max = (_redeem(program, ctx, receipt, account, floors, stage.left, results, candidates, scopes)
                      if earns else 0)
    certificates = pay_with_certificates(receipt.gift_certificates, facts, results, receipt.issued_at)
    grants: list[BonusGrant] = []
    if earns and tier is not None:
        tier_percent = fraction(tier.accrual_percent)
        _accrue(program, ctx, accruing, tier_percent, stage.applied_coupons, results, effects, candidates, scopes)
        _coupon_points(program, accruing, stage.applied_coupons, results, effects, scopes)
        grants = _receipt_bonuses(program, ctx, accruing, results, effects, candidates, scopes)

    pending = timedelta(days=settings.points.pending_days)
    available_at = receipt.issued_at + pending
    expire_days = settings.points.expire_days
    return Outcome(
        card_status=account.status,
        tier_applied=tier.id if tier else None,
        segment=segment,
        lines=results,
        campaigns=list(effects.values()),
        redeemable_max=redeemable_max,
        accrual_available_at=available_at,
        accrual_expires_at=available_at + timedelta(days=expire_days) if expire_days else None,
        bonus_grants=grants,
        coupons=[verdicts[code] for code in receipt.coupons],
        certificates=certificates,
        holdout_treated=holdout.treated,
        holdout_held_out=holdout.held_out,
    )


def _effect(effects: dict[str, CampaignEffect], program: CompiledProgram, campaign_id: str) -> CampaignEffect:
    if campaign_id not in effects:
        effects[campaign_id] = CampaignEffect(campaign_id, program.campaign_name(campaign_id))
    return effects[campaign_id]


def _redeem_percents(
    program: CompiledProgram,
    ctx: Context,
    lines: Sequence[Line],
    candidates: dict[str, list[Campaign]],
    scopes: LineScopes,
) -> list[Fraction | None]:
    """Each line's redemption percent, or None where the line may not take points."""
    active = [c for c in candidates.get("redemption", ()) if isinstance(c, Redemption) and applies(c, ctx)]
    restricting = any(c.items is not None for c in active)
    default = None if restricting else fraction(program.program.points.max_redeem_percent)
    percents: list[Fraction | None] = [default] * len(lines)
    # the first campaign in priority order that holds a line sets its percent: later ones go first
    for campaign in reversed(active):
        percent = fraction(campaign.max_percent)
        percents = [percent if inside else p for p, inside in zip(percents, scopes.of(campaign.items), strict=True)]
    return [None if line.no_redeem or line.sells_certificate else p for line, p in zip(lines, percents, strict=True)]


def _redeem(
    program: CompiledProgram,
    ctx: Context,
    receipt: Receipt,
    account: AccountState,
    floors: Sequence[int],
    finals: Sequence[int],
    results: list[LineOutcome],
    candidates: dict[str, list[Campaign]],
    scopes: LineScopes,
) -> int:
    """Spread the points granted over the lines that may take them (`finals`: each line's amount after its
    discounts); returns `redeemable_max`."""
    percents = _redeem_percents(program, ctx, receipt.lines, candidates, scopes)
    caps = [max(0, finals[i] - floors[i]) if percents[i] is not None else 0 for i in range(len(finals))]
    redeemable_max = max(0, min(account.available_points, _percent_floor(finals, percents), sum(caps)))
    granted = min(receipt.redeem_points, redeemable_max)
    if granted:
        weights = [finals[i] if caps[i] else 0 for i in range(len(finals))]
        for result, part in zip(results, spread(granted, weights, caps), strict=True):
            result.points_redeemed = part
    return redeemable_max


def _percent_floor(amounts: Sequence[int], percents: Sequence[Fraction | None]) -> int:
    """floor(Σ amount × percent / 100) over the lines with a percent, exactly, in integers.

    The amounts are added up per percent object first (by identity: a Fraction hashes slowly, and the
    percents come from a few cached objects; equal percents in two objects only make one group more), then
    the few products are summed over a common denominator: the same rational as a Fraction per line.
    """
    by_percent: dict[int, int] = {}
    percent_of: dict[int, Fraction] = {}
    for amount, percent in zip(amounts, percents, strict=True):
        if percent is not None:
            key = id(percent)
            by_percent[key] = by_percent.get(key, 0) + amount
            percent_of[key] = percent
    numerator, denominator = 0, 1
    for key, amount in by_percent.items():
        n, d = percent_of[key].numerator, percent_of[key].denominator
        numerator, denominator = numerator * d + amount * n * denominator, denominator * d
    return numerator // (denominator * 100)


def _accrue(
    program: CompiledProgram,
    ctx: Context,
    accruing: Sequence[bool],
    tier_percent: Fraction,
    coupons: Sequence[Coupon],
    results: list[LineOutcome],
    effects: dict[str, CampaignEffect],
    candidates: dict[str, list[Campaign]],
    scopes: LineScopes,
) -> None:
    """Points per line at the tier's percent as changed by accrual campaigns and accepted
    `accrual_multiplier` coupons (in priority order), rounded down."""
    points = program.program.points
    whole = points.rounding == "whole"
    campaigns: list[Accrual | Coupon] = [
        c for c in candidates.get("accrual", ()) if isinstance(c, Accrual) and applies(c, ctx)
    ]
    campaigns += [c for c in coupons if c.accrual_multiplier is not None]
    campaigns.sort(key=lambda c: (c.priority, c.id))
    paid = points.accrual_base == "paid"
    # per line, which of the campaigns touch it (a line's rate depends on nothing else)
    touching = zip(*(scopes.of(c.items) for c in campaigns), strict=True) if campaigns else ((),) * len(results)
    tier_rate = tier_percent.numerator, tier_percent.denominator * 100
    # a rate as (numerator, denominator × 100): Fraction's properties cost a call each, per line
    rates: dict[tuple[bool, ...], tuple[list[str], int, int]] = {}
    for accrues, result, inside in zip(accruing, results, touching, strict=True):
        if not accrues:
            continue
        known = rates.get(inside)
        if known is None:
            rate = tier_percent
            for campaign in (c for c, on in zip(campaigns, inside, strict=True) if on):
                rate = _changed_rate(rate, campaign)
            touched = [c.id for c, on in zip(campaigns, inside, strict=True) if on]
            known = rates[inside] = touched, rate.numerator, rate.denominator * 100
        touched, numerator, denominator = known
        base = result.amount - result.discount - (result.points_redeemed if paid else 0)
        result.accrual_points = floor_rate_points(base, numerator, denominator, whole)
        if touched:
            result.campaigns.extend(touched)
            # The campaign's effect is what it added over the tier's own rate (the last one carries it).
            base_points = floor_rate_points(base, *tier_rate, whole)
            _effect(effects, program, touched[-1]).points += result.accrual_points - base_points


def _changed_rate(rate: Fraction, campaign: Accrual | Coupon) -> Fraction:
    if isinstance(campaign, Coupon):
        return rate * fraction(campaign.accrual_multiplier)
    if campaign.multiplier is not None:
        return rate * fraction(campaign.multiplier)
    percent = fraction(campaign.percent)
    return percent if campaign.mode == "replace" else rate + percent


def _spread_points(points: int, results: list[LineOutcome], scope: Sequence[bool]) -> list[int]:
    """Receipt-level points over the accruing lines in scope, in proportion to what they pay."""
    weights = [max(r.final_amount - r.points_redeemed, 0) if s else 0 for r, s in zip(results, scope, strict=True)]
    if not any(weights):
        weights = [1 if s else 0 for s in scope]
    return spread(points, weights)


def _coupon_points(
    program: CompiledProgram,
    accruing: Sequence[bool],
    coupons: Sequence[Coupon],
    results: list[LineOutcome],
    effects: dict[str, CampaignEffect],
    scopes: LineScopes,
) -> None:
    """`points` coupons: fixed points that ripen like accruals (they join the receipt's accrual lot)."""
    for coupon in coupons:
        if not coupon.points:
            continue
        scope = [accrues and inside for accrues, inside in zip(accruing, scopes.of(coupon.items), strict=True)]
        if not any(scope):
            continue
        for result, part in zip(results, _spread_points(coupon.points, results, scope), strict=True):
            if part:
                result.accrual_points += part
                result.campaigns.append(coupon.id)
        _effect(effects, program, coupon.id).points += coupon.points


def _receipt_bonuses(
    program: CompiledProgram,
    ctx: Context,
    accruing: Sequence[bool],
    results: list[LineOutcome],
    effects: dict[str, CampaignEffect],
    candidates: dict[str, list[Campaign]],
    scopes: LineScopes,
) -> list[BonusGrant]:
    """Fixed points for a receipt, spread over the accruing in-scope lines by largest remainder."""
    settings = program.program.points
    grants: list[BonusGrant] = []
    for campaign in candidates.get("bonus", ()):
        if not isinstance(campaign, Bonus) or not applies(campaign, ctx):
            continue
        scope = [accrues and inside for accrues, inside in zip(accruing, scopes.of(campaign.items), strict=True)]
        measured = sum(r.final_amount for r, s in zip(results, scope, strict=True) if s)
        if not any(scope) or measured < campaign.min_amount:
            continue
        for result, part in zip(results, _spread_points(campaign.points, results, scope), strict=True):
            if part:
                result.bonus_points += part
                result.campaigns.append(campaign.id)
        grants.append(BonusGrant(campaign.id, campaign.points, campaign.expires_at(ctx.at, settings.expire_days)))
        _effect(effects, program, campaign.id).points += campaign.points
    return grants
