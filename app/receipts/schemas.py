"""Request and response models of the receipts API (the receipt itself is `rules.Receipt`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules import Identifier, Quantity


class RefundLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    line_id: Identifier
    quantity: Quantity


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"refund_id": "ret-1", "lines": [{"line_id": "1", "quantity": "1"}]}, {"refund_id": "ret-all"}]})
    refund_id: Identifier
    lines: Annotated[list[RefundLine], Field(min_length=1, max_length=500)] | None = None


class Totals(BaseModel):
    amount: int
    discount: int
    points_redeemed: int
    gift_certificates: int
    to_pay: int
    points_accrued: int


class ResultLine(BaseModel):
    line_id: str
    discount: int
    final_amount: int
    points_redeemed: int
    gift_certificates: int
    points_accrued: int
    campaigns: list[str]
    refunded_quantity: str | None = None


class CampaignResult(BaseModel):
    id: str
    name: str
    discount: int
    points: int


class HoldoutResult(BaseModel):
    """Campaigns with a control group (`control_percent`) this receipt's member was eligible for, by group."""

    treated: list[str]
    held_out: list[str]


class CouponResult(BaseModel):
    code: str
    status: Literal["applied", "rejected"]
    reason: str | None = None


class CertificateResult(BaseModel):
    code: str
    status: Literal["applied", "rejected"]
    reason: str | None = None
    charged: int
    balance: int | None = None


class PointsResult(BaseModel):
    redeemable_max: int
    available_at: str


class AccountSummary(BaseModel):
    card: str
    tier: str | None
    tier_applied: str | None
    available: int
    pending: int


class RefundLineResult(BaseModel):
    line_id: str
    quantity: str
    amount: int
    discount: int
    points_redeemed: int
    gift_certificates: int
    points_accrued: int


class RefundResult(BaseModel):
    refund_id: str
    created_at: str
    store_id: str | None = None
    lines: list[RefundLineResult]
    totals: Totals


class ReceiptResult(BaseModel):
    receipt_id: str
    status: Literal["calculated", "confirmed", "partially_refunded", "refunded", "cancelled"]
    program_version: int
    card_status: Literal["ok", "none", "unknown", "blocked"]
    totals: Totals
    lines: list[ResultLine]
    campaigns: list[CampaignResult]
    coupons: list[CouponResult]
    gift_certificates: list[CertificateResult]
    points: PointsResult
    account: AccountSummary | None
    refunds: list[RefundResult] = []
    refund: RefundResult | None = None
    holdout: HoldoutResult | None = None  # only when the receipt was eligible for a campaign with a control group
