"""The discount stage: campaigns and accepted coupons in priority order, each on the amounts left.

`exclusive` blocks later discounts on the lines it reduced; campaigns sharing a `group` are all
evaluated on the same amounts at the group's first position and only the largest discount applies
(ties by priority, then id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._conditions import Context, LineScopes, applies
from ._coupons import AdmittedCoupon
from ._outcome import CouponVerdict, LineOutcome
from ._program import Campaign, Coupon
from ._receipt import Line
from .mechanics import COUPON, DISCOUNTS
from .mechanics._spread import in_scope_amount

__all__ = ["DiscountStage"]


@dataclass(frozen=True, slots=True)
class _Step:
    campaign: Campaign
    coupon: AdmittedCoupon | None = None

    @property
    def order(self) -> tuple[int, str, int]:
        return self.campaign.priority, self.campaign.id, self.coupon.position if self.coupon else -1


@dataclass
class DiscountStage:
    ctx: Context
    lines: Sequence[Line]
    floors: Sequence[int]
    results: list[LineOutcome]
    candidates: dict[str, list[Campaign]]  # CompiledProgram.candidates_by_type(lines)
    scopes: LineScopes
    verdicts: dict[str, CouponVerdict] = field(default_factory=dict)
    applied_coupons: list[Coupon] = field(default_factory=list)
    given: dict[str, int] = field(default_factory=dict)  # campaign id -> discount

    def __post_init__(self) -> None:
        self.blocked = [line.no_discount or line.sells_certificate for line in self.lines]
        self.left = [r.final_amount for r in self.results]  # each line's amount after the discounts so far

    def run(self, coupons: Sequence[AdmittedCoupon]) -> None:
        plain = [c for kind in DISCOUNTS for c in self.candidates.get(kind, ()) if applies(c, self.ctx)]
        steps = sorted([_Step(c) for c in plain] + [_Step(c.campaign, c) for c in coupons], key=lambda s: s.order)
        done_groups: set[str] = set()
        for step in steps:
            group = step.campaign.group
            if group is None:
                self._apply(step, self._evaluate(step))
                continue
            if group in done_groups:
                continue
            done_groups.add(group)
            rivals = [s for s in steps if s.campaign.group == group]
            offers = [(s, self._evaluate(s)) for s in rivals]
            best = min(offers, key=lambda o: (-sum(o[1] or []), o[0].campaign.priority, o[0].campaign.id))
            for rival, parts in offers:
                if rival is best[0]:
                    self._apply(rival, parts)
                elif rival.coupon is not None and rival.coupon.code not in self.verdicts:
                    self._reject(rival.coupon, "not_combinable")

    def _scope(self, campaign: Campaign) -> list[bool]:
        inside = self.scopes.of(campaign.items)
        return [not blocked and on for blocked, on in zip(self.blocked, inside, strict=True)]

    def _evaluate(self, step: _Step) -> list[int] | None:
        """The step's discount per line on the current amounts; None for a coupon rejected here."""
        campaign = step.campaign
        scope = self._scope(campaign)
        left = self.left[:]  # a copy: a mechanic must not change what its rivals see
        room = [amount - floor if amount > floor else 0 for amount, floor in zip(left, self.floors, strict=True)]
        if step.coupon is None:
            return DISCOUNTS[campaign.type](campaign, self.lines, left, room, scope) if any(scope) else None
        assert isinstance(campaign, Coupon)
        if campaign.percent is None and campaign.amount is None:
            # a points coupon changes points, not money: its scope is the lines that earn points
            scope = [inside and not line.no_accrual and not line.sells_certificate
                     for line, inside in zip(self.lines, self.scopes.of(campaign.items), strict=True)]
        reason = None
        if not any(scope):
            reason = "conditions_not_met"
        elif in_scope_amount(left, scope) < campaign.min_amount:
            reason = "min_amount_not_met"
        elif campaign in self.applied_coupons:
            reason = "not_combinable"
        if reason is not None:
            self._reject(step.coupon, reason)
            return None
        return COUPON(campaign, self.lines, left, room, scope)

    def _reject(self, coupon: AdmittedCoupon, reason: str) -> None:
        self.verdicts[coupon.code] = CouponVerdict(coupon.code, "rejected", reason, coupon.campaign.id)

    def _apply(self, step: _Step, parts: list[int] | None) -> None:
        if parts is None:
            return
        campaign = step.campaign
        if step.coupon is not None:
            assert isinstance(campaign, Coupon)
            self.verdicts[step.coupon.code] = CouponVerdict(step.coupon.code, "applied", None, campaign.id)
            self.applied_coupons.append(campaign)
        if sum(parts) == 0:
            return
        for i, part in enumerate(parts):
            if part:
                self.results[i].discount += part
                self.left[i] -= part
                self.results[i].campaigns.append(campaign.id)
                if campaign.stacking == "exclusive":
                    self.blocked[i] = True
        self.given[campaign.id] = self.given.get(campaign.id, 0) + sum(parts)

