"""What evaluation returns: per-line parts, totals and the intents the service persists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["BonusGrant", "CampaignEffect", "CertificateCharge", "CouponVerdict", "LineOutcome", "Outcome"]


@dataclass(slots=True)
class LineOutcome:
    line_id: str
    amount: int
    sells_certificate: bool = False
    discount: int = 0
    points_redeemed: int = 0
    gift_certificates: int = 0
    certificate_parts: dict[str, int] = field(default_factory=dict)  # code -> paid on this line
    accrual_points: int = 0  # ripen after pending_days (coupon points included)
    bonus_points: int = 0  # receipt-level bonus points, available at once
    campaigns: list[str] = field(default_factory=list)

    @property
    def final_amount(self) -> int:
        return self.amount - self.discount

    @property
    def points_accrued(self) -> int:
        return self.accrual_points + self.bonus_points

    @property
    def to_pay(self) -> int:
        return self.amount - self.discount - self.points_redeemed - self.gift_certificates


@dataclass(slots=True)
class CampaignEffect:
    id: str
    name: str
    discount: int = 0
    points: int = 0


@dataclass(frozen=True, slots=True)
class BonusGrant:
    """A receipt bonus: its own lot, available at once, with the campaign's own expiry."""

    campaign_id: str
    points: int
    expires_at: datetime | None


@dataclass(slots=True)
class CouponVerdict:
    code: str
    status: str  # applied | rejected
    reason: str | None = None
    campaign_id: str | None = None


@dataclass(slots=True)
class CertificateCharge:
    code: str
    status: str  # applied | rejected
    reason: str | None = None
    charged: int = 0
    balance: int | None = None  # after this receipt
    burned: int = 0  # a single-use certificate's rest, gone with its first payment


@dataclass(slots=True)
class Outcome:
    card_status: str
    tier_applied: str | None
    segment: str
    lines: list[LineOutcome]
    campaigns: list[CampaignEffect]
    redeemable_max: int
    accrual_available_at: datetime
    accrual_expires_at: datetime | None
    bonus_grants: list[BonusGrant]
    coupons: list[CouponVerdict] = field(default_factory=list)
    certificates: list[CertificateCharge] = field(default_factory=list)
    # campaigns with a control group this receipt was eligible for, by the member's group (rules/_holdout.py)
    holdout_treated: tuple[str, ...] = ()
    holdout_held_out: tuple[str, ...] = ()
    # every total, summed in one pass on the first `total` call: the service asks for a dozen of them per
    # receipt (the result, the ledger, the metrics), and an outcome's lines do not change once evaluated
    _totals: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def total(self, name: str) -> int:
        if self._totals is None:
            self._totals = _totals(self.lines)
        return self._totals[name]

    @property
    def purchase_amount(self) -> int:
        """What this receipt adds to tier purchases: final amounts, certificate sales excluded."""
        return self.total("purchase_amount")


def _totals(lines: list[LineOutcome]) -> dict[str, int]:
    amount = discount = redeemed = certificates = accrual = bonus = purchase = 0
    for line in lines:
        amount += line.amount
        discount += line.discount
        redeemed += line.points_redeemed
        certificates += line.gift_certificates
        accrual += line.accrual_points
        bonus += line.bonus_points
        if not line.sells_certificate:
            purchase += line.amount - line.discount
    return {
        "amount": amount, "discount": discount, "points_redeemed": redeemed,
        "gift_certificates": certificates, "to_pay": amount - discount - redeemed - certificates,
        "accrual_points": accrual, "bonus_points": bonus, "points_accrued": accrual + bonus,
        "purchase_amount": purchase,
    }
