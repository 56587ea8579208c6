"""Request and response models of the accounts API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules._receipt import Card
from rules._types import Identifier


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterRequest(_Request):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"card": "2900000012345", "phone": "+79001234567", "birth_date": "1990-05-17"}]})

    card: Card
    phone: Annotated[str, Field(pattern=r"^\+?[0-9]{5,20}$")] | None = None
    birth_date: Annotated[date, Field(strict=True)] | None = None  # "1990-05-17", not a timestamp


class AdjustmentRequest(_Request):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"points": 5000, "reason": "complaint #123", "expire_days": 90, "adjustment_id": "c-123"}]})

    points: Annotated[int, Field(strict=True, ge=-(10**13), le=10**13)]
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]  # the audit trail: never blank
    expire_days: Annotated[int, Field(strict=True, ge=1, le=36_500)] | None = None
    adjustment_id: Identifier | None = None


class Expiring(BaseModel):
    amount: int
    at: str


class Points(BaseModel):
    available: int
    pending: int
    expiring: list[Expiring]


class NextTier(BaseModel):
    id: str
    min_purchases: int
    remaining: int


class Tier(BaseModel):
    id: str
    accrual_percent: int | str
    purchases: int
    next: NextTier | None


class Account(BaseModel):
    card: str
    status: Literal["active", "blocked"]
    segment: Literal["newcomer", "loyal", "pre_churn", "churn", "none"]
    points: Points
    tier: Tier


class LedgerEntry(BaseModel):
    id: str
    kind: Literal["accrual", "redemption", "accrual_reversal", "redemption_return", "bonus", "adjustment", "expiry"]
    points: int
    receipt_id: str | None = None
    refund_id: str | None = None
    reason: str | None = None
    author: str | None = None
    created_at: str
    available_at: str | None = None
    expires_at: str | None = None


class LedgerPage(BaseModel):
    entries: list[LedgerEntry]
    next_cursor: str | None


class AdjustmentResult(BaseModel):
    entry: LedgerEntry
    account: Account
