"""Response models of the reports API (documentation: the service builds plain dicts of this shape).

Money and points are integers in minor units; shares are fractions of 1 for people to read.
"""

from __future__ import annotations

from pydantic import BaseModel


class ReceiptCounts(BaseModel):
    total: int
    with_card: int
    without_card: int
    identified_share: float | None
    items_per_receipt: float | None  # lines per receipt


class Split(BaseModel):
    total: int
    with_card: int
    without_card: int


class AverageCheck(BaseModel):
    all: int | None
    with_card: int | None
    without_card: int | None


class Members(BaseModel):
    total: int  # accounts opened before the end of the period
    active: int  # members with a standing receipt in the period
    active_share: float | None
    new: int  # accounts opened in the period


class Points(BaseModel):
    accrued: int
    bonus: int
    redeemed: int
    returned: int
    reversed: int
    expired: int
    adjusted: int


class Liability(BaseModel):
    outstanding: int
    expiring_30_days: int
    expiring_90_days: int


class Day(BaseModel):
    day: str
    receipts: int
    revenue: int
    points_accrued: int
    points_redeemed: int


class ProgramReport(BaseModel):
    period: dict[str, str | None]
    as_of: str
    receipts: ReceiptCounts
    revenue: Split
    average_check: AverageCheck
    members: Members
    points: Points
    liability: Liability
    days: list[Day]


class Untouched(BaseModel):
    receipts: int
    revenue: int
    average_check: int | None


class CampaignResult(BaseModel):
    id: str
    name: str
    type: str | None
    receipts: int
    discount: int
    points: int
    coupon_uses: int
    revenue: int
    average_check: int | None
    untouched: Untouched


class Totals(BaseModel):
    total: int
    revenue: int
    average_check: int | None


class CampaignsReport(BaseModel):
    period: dict[str, str | None]
    as_of: str
    receipts: Totals
    campaigns: list[CampaignResult]


class Segment(BaseModel):
    segment: str
    members: int
    revenue: int


class RfmCell(BaseModel):
    r: int
    f: int
    m: int
    members: int
    revenue: int


class RfmBoundaries(BaseModel):
    recency: list[str] | None
    frequency: list[int] | None
    monetary: list[int] | None


class Rfm(BaseModel):
    boundaries: RfmBoundaries
    cells: list[RfmCell]


class SegmentsReport(BaseModel):
    as_of: str
    settings: dict[str, int]
    members: int
    cvm: list[Segment]
    rfm: Rfm
