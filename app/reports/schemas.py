"""Response models of the reports API (documentation: the service builds plain dicts of this shape).

Money and points are integers in minor units; shares are fractions of 1 for people to read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class SegmentSales(BaseModel):
    segment: str
    receipts: int  # the period's receipts with a card of the members in this segment now
    revenue: int
    receipts_share: float | None
    revenue_share: float | None


class Kpis(BaseModel):
    churned: int  # members who passed into churn in the period
    new_buyers: int  # members whose first purchase is in the period
    stable: int  # members who bought in the period and before it
    churn_to_new: float | None
    churn_to_stable: float | None
    revenue_per_member: int | None  # card revenue per active member
    points_cost: int  # accrued + bonus - reversed
    points_cost_per_member: int | None
    segments: list[SegmentSales]


class ProgramReport(BaseModel):
    period: dict[str, str | None]
    as_of: str
    receipts: ReceiptCounts
    revenue: Split
    average_check: AverageCheck
    members: Members
    points: Points
    liability: Liability
    kpis: Kpis
    days: list[Day]


class StoreDay(BaseModel):
    day: str
    receipts: int
    with_card: int
    identified_share: float | None
    revenue: int
    average_check: int | None
    registrations: int  # accounts opened that day whose first receipt was at this store


class StoreResult(BaseModel):
    store: str
    receipts: int
    with_card: int
    identified_share: float | None
    revenue: int
    average_check: int | None
    registrations: int
    members: int  # members with a receipt at this store in the period
    purchase_frequency: float | None  # receipts with a card per member per 30 days
    days: list[StoreDay]  # the days with sales or registrations


class StoreTotals(BaseModel):
    receipts: int
    with_card: int
    identified_share: float | None
    revenue: int
    average_check: int | None
    registrations: int  # every account opened in the period
    registrations_without_purchase: int
    members: int
    purchase_frequency: float | None


class StoresReport(BaseModel):
    period: dict[str, str | None]
    as_of: str
    total: StoreTotals
    stores: list[StoreResult]


class Customer(BaseModel):
    card: str
    phone: str | None
    receipts: int  # in the period
    amount: int  # revenue in the period
    items_per_receipt: float | None
    ltv: int  # revenue of every standing receipt
    lifetime_receipts: int
    first_purchase_at: str
    last_purchase_at: str


class CustomersReport(BaseModel):
    period: dict[str, str | None]
    as_of: str
    order: str
    inactive_days: int | None
    inactive_before: str | None
    customers: list[Customer]
    next_cursor: str | None


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


class UpliftCampaign(BaseModel):
    id: str
    name: str
    type: str | None  # null: a campaign removed from the program
    control_percent: int | None  # null: a campaign removed from the program


class UpliftGroup(BaseModel):
    eligible_members: int
    buyers: int  # = eligible_members: an eligible member is one who bought (docs/contract.md)
    repeat_buyers: int  # eligible members with two eligible receipts or more in the period
    receipts: int
    revenue: int
    revenue_per_member: int | None
    revenue_per_member_ci: list[int] | None = Field(min_length=2, max_length=2)  # [low, high], 95 %


class UpliftDifference(BaseModel):
    revenue_per_member: int | None
    revenue_per_member_ci: list[int] | None = Field(min_length=2, max_length=2)
    method: Literal["welch_normal_95"]


class UpliftCost(BaseModel):
    discount: int
    points: int
    total: int


class UpliftReport(BaseModel):
    period: dict[str, str | None]
    as_of: str
    campaign: UpliftCampaign
    treated: UpliftGroup
    held_out: UpliftGroup
    difference: UpliftDifference
    cost: UpliftCost
    incremental_revenue: int | None
    incremental_revenue_ci: list[int] | None = Field(min_length=2, max_length=2)
    return_per_cost: float | None  # incremental revenue ÷ cost, 4 decimal places
    conclusion: str


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


class LtvDecile(BaseModel):
    decile: int = Field(description="1 is the tenth of buyers with the highest lifetime value")
    members: int
    revenue: int
    revenue_share: float | None = Field(description="of all buyers' revenue, 4 decimal places; null for none")
    min_ltv: int | None
    max_ltv: int | None


class SegmentsReport(BaseModel):
    as_of: str
    settings: dict[str, int]
    members: int
    cvm: list[Segment]
    rfm: Rfm
    ltv_deciles: list[LtvDecile]


class AbcRow(BaseModel):
    key: str | None = Field(description="the SKU or category; null for lines that carry none")
    value: int | str = Field(description="revenue or receipts: an integer; quantity: a decimal string")
    share: float | None
    cumulative_share: float | None = Field(description="this key's and every key ranked above it")
    class_: Literal["A", "B", "C"] = Field(alias="class")


class AbcClass(BaseModel):
    class_: Literal["A", "B", "C"] = Field(alias="class")
    keys: int
    value: int | str
    share: float | None


class AbcReport(BaseModel):
    """Categories by revenue on a small chain: bags end exactly at 80 %, so care after them is B."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "period": {"from": "2026-11-01", "to": "2026-11-27", "time_zone": "UTC", "store": None},
        "as_of": "2026-11-27T09:00:01.512673+00:00", "by": "category", "measure": "revenue", "total": 1000000,
        "classes": [{"class": "A", "keys": 2, "value": 800000, "share": 0.8},
                    {"class": "B", "keys": 1, "value": 150000, "share": 0.15},
                    {"class": "C", "keys": 1, "value": 50000, "share": 0.05}],
        "rows": [{"key": "shoes", "value": 500000, "share": 0.5, "cumulative_share": 0.5, "class": "A"},
                 {"key": "bags", "value": 300000, "share": 0.3, "cumulative_share": 0.8, "class": "A"},
                 {"key": "care", "value": 150000, "share": 0.15, "cumulative_share": 0.95, "class": "B"},
                 {"key": "socks", "value": 50000, "share": 0.05, "cumulative_share": 1.0, "class": "C"}]}]})

    period: dict[str, str | None]
    as_of: str
    by: Literal["category", "sku"]
    measure: Literal["revenue", "quantity", "receipts"]
    total: int | str
    classes: list[AbcClass]
    rows: list[AbcRow]  # by value descending, ties by key
