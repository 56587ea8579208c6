"""evaluate(receipt, account, program, now) -> Outcome: the pure heart of the engine.

Per line, in this order: discounts, then points redeemed, then certificates, each on what is left;
then accrual on the line's base. No I/O, no clock (`now` is an argument), no globals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from ._account import AccountState, segment_of, tier_for
from ._compiled import CompiledProgram, fraction
from ._conditions import Context, applies, in_scope
from ._money import floor_points, quantity_floor, spread
from ._outcome import BonusGrant, CampaignEffect, LineOutcome, Outcome
from ._program import Accrual, Bonus, Redemption
from ._receipt import Line, Receipt
from .mechanics import DISCOUNTS

__all__ = ["evaluate"]


def evaluate(receipt: Receipt, account: AccountState, program: CompiledProgram, now: datetime) -> Outcome:
    settings = program.program
    earns = account.status == "ok"
    tier = tier_for(settings.tiers, account.tier_purchases) if earns else None
    segment = segment_of(account.first_purchase_at, account.last_purchase_at, receipt.issued_at, settings.segments)
    ctx = Context(receipt.issued_at, receipt.channel, receipt.store_id, tier.id if tier else None, segment)
    lines = receipt.lines
    floors = [quantity_floor(line.min_price, line.quantity) for line in lines]
    results = [LineOutcome(line.line_id, line.amount, line.sells_certificate) for line in lines]
    effects: dict[str, CampaignEffect] = {}

    _apply_discounts(program, ctx, lines, floors, results, effects)
    redeemable_max = _redeem(program, ctx, receipt, account, floors, results) if earns else 0
    if earns and tier is not None:
        _accrue(program, ctx, lines, fraction(tier.accrual_percent), results, effects)
    grants = _receipt_bonuses(program, ctx, lines, results, effects) if earns else []

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
    )


def _effect(effects: dict[str, CampaignEffect], program: CompiledProgram, campaign_id: str) -> CampaignEffect:
    if campaign_id not in effects:
        effects[campaign_id] = CampaignEffect(campaign_id, program.campaign_name(campaign_id))
    return effects[campaign_id]


def _discountable(line: Line) -> bool:
    return not line.no_discount and not line.sells_certificate


def _apply_discounts(
    program: CompiledProgram,
    ctx: Context,
    lines: Sequence[Line],
    floors: Sequence[int],
    results: list[LineOutcome],
    effects: dict[str, CampaignEffect],
) -> None:
    """Discount campaigns in priority order, each on the amounts left by the ones before."""
    blocked = [not _discountable(line) for line in lines]
    campaigns = [c for kind in DISCOUNTS for c in program.candidates(kind, lines)]
    for campaign in sorted(campaigns, key=lambda c: (c.priority, c.id)):
        if not applies(campaign, ctx):
            continue
        scope = [not blocked[i] and in_scope(campaign.items, line) for i, line in enumerate(lines)]
        if not any(scope):
            continue
        left = [r.final_amount for r in results]
        room = [max(0, left[i] - floors[i]) for i in range(len(lines))]
        parts = DISCOUNTS[campaign.type](campaign, lines, left, room, scope)
        given = sum(parts)
        if given == 0:
            continue
        for i, part in enumerate(parts):
            if part:
                results[i].discount += part
                results[i].campaigns.append(campaign.id)
                if campaign.stacking == "exclusive":
                    blocked[i] = True
        _effect(effects, program, campaign.id).discount += given


def _redeem_percents(program: CompiledProgram, ctx: Context, lines: Sequence[Line]) -> list[Fraction | None]:
    """Each line's redemption percent, or None where the line may not take points."""
    default = fraction(program.program.points.max_redeem_percent)
    active = [c for c in program.candidates("redemption", lines) if applies(c, ctx)]
    restricting = any(c.items is not None for c in active)
    percents: list[Fraction | None] = []
    for line in lines:
        if line.no_redeem or line.sells_certificate:
            percents.append(None)
            continue
        match = next((c for c in active if in_scope(c.items, line)), None)
        if isinstance(match, Redemption):
            percents.append(fraction(match.max_percent))
        else:
            percents.append(None if restricting else default)
    return percents


def _redeem(
    program: CompiledProgram,
    ctx: Context,
    receipt: Receipt,
    account: AccountState,
    floors: Sequence[int],
    results: list[LineOutcome],
) -> int:
    """Spread the points granted over the lines that may take them; returns `redeemable_max`."""
    percents = _redeem_percents(program, ctx, receipt.lines)
    finals = [r.final_amount for r in results]
    caps = [max(0, finals[i] - floors[i]) if percents[i] is not None else 0 for i in range(len(finals))]
    by_percent = sum(Fraction(finals[i]) * p / 100 for i, p in enumerate(percents) if p is not None)
    redeemable_max = max(0, min(account.available_points, int(by_percent.__floor__()), sum(caps)))
    granted = min(receipt.redeem_points, redeemable_max)
    if granted:
        weights = [finals[i] if caps[i] else 0 for i in range(len(finals))]
        for result, part in zip(results, spread(granted, weights, caps), strict=True):
            result.points_redeemed = part
    return redeemable_max


def _accrues(line: Line) -> bool:
    return not line.no_accrual and not line.sells_certificate


def _accrue(
    program: CompiledProgram,
    ctx: Context,
    lines: Sequence[Line],
    tier_percent: Fraction,
    results: list[LineOutcome],
    effects: dict[str, CampaignEffect],
) -> None:
    """Points per line at the tier's percent as changed by accrual campaigns, rounded down."""
    points = program.program.points
    whole = points.rounding == "whole"
    campaigns = [c for c in program.candidates("accrual", lines) if applies(c, ctx)]
    for line, result in zip(lines, results, strict=True):
        if not _accrues(line):
            continue
        rate = tier_percent
        touched: list[str] = []
        for campaign in campaigns:
            if not isinstance(campaign, Accrual) or not in_scope(campaign.items, line):
                continue
            rate = _changed_rate(rate, campaign)
            touched.append(campaign.id)
        base = result.final_amount - (result.points_redeemed if points.accrual_base == "paid" else 0)
        result.accrual_points = floor_points(base, rate, whole)
        if touched:
            base_points = floor_points(base, tier_percent, whole)
            for campaign_id in touched:
                result.campaigns.append(campaign_id)
            # The campaign's effect is what it added over the tier's own rate (the last one carries it).
            _effect(effects, program, touched[-1]).points += result.accrual_points - base_points


def _changed_rate(rate: Fraction, campaign: Accrual) -> Fraction:
    if campaign.multiplier is not None:
        return rate * fraction(campaign.multiplier)
    percent = fraction(campaign.percent)
    return percent if campaign.mode == "replace" else rate + percent


def _receipt_bonuses(
    program: CompiledProgram,
    ctx: Context,
    lines: Sequence[Line],
    results: list[LineOutcome],
    effects: dict[str, CampaignEffect],
) -> list[BonusGrant]:
    """Fixed points for a receipt, spread over the accruing in-scope lines by largest remainder."""
    settings = program.program.points
    grants: list[BonusGrant] = []
    for campaign in program.candidates("bonus", lines):
        if not isinstance(campaign, Bonus) or not applies(campaign, ctx):
            continue
        scope = [_accrues(line) and in_scope(campaign.items, line) for line in lines]
        measured = sum(r.final_amount for r, s in zip(results, scope, strict=True) if s)
        if not any(scope) or measured < campaign.min_amount:
            continue
        weights = [max(r.final_amount - r.points_redeemed, 0) if s else 0 for r, s in zip(results, scope, strict=True)]
        if not any(weights):
            weights = [1 if s else 0 for s in scope]
        for result, part in zip(results, spread(campaign.points, weights), strict=True):
            if part:
                result.bonus_points += part
                result.campaigns.append(campaign.id)
        expire_days = campaign.expire_days or settings.expire_days
        expires_at = ctx.at + timedelta(days=expire_days) if expire_days else None
        grants.append(BonusGrant(campaign.id, campaign.points, expires_at))
        _effect(effects, program, campaign.id).points += campaign.points
    return grants
