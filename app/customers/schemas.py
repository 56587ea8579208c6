"""Request and response models of the profile endpoints and the customer card (issue 14); the profile itself
(`ProfilePatch` and its limits) is the account's, which a registration may carry (app/accounts/schemas.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.accounts.schemas import Gender, ProfilePatch


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"profile": {"gender": "male", "attributes": {"children": 1, "pets": None}}}]})

    profile: ProfilePatch


class Profile(BaseModel):
    """The profile as it is stored; every field null (attributes empty) when none was given or it was erased."""

    card: str
    birth_date: str | None
    gender: Gender | None
    attributes: dict[str, bool | int | str]
    updated_at: str | None


class Amount(BaseModel):
    category: str
    amount: int


class RfmScores(BaseModel):
    r: int
    f: int
    m: int
    as_of: str


class CardPoints(BaseModel):
    earned: int
    redeemed: int
    expired: int
    adjusted: int
    available: int


class Insights(BaseModel):
    card: str
    as_of: str
    time_zone: str
    ltv: int
    receipts: int
    average_check: int | None
    items_per_receipt: float | None
    frequency_30d: float | None
    first_purchase: str | None
    last_purchase: str | None
    days_since_last: int | None
    promo_share: float | None
    top_categories: list[Amount]
    weekdays: list[int] = Field(description="receipts per weekday, Monday first")
    hours: list[int] = Field(description="receipts per hour of the day, 0 to 23")
    points: CardPoints
    rfm: RfmScores | None
    segment: Literal["newcomer", "loyal", "pre_churn", "churn", "none"]
    tier: str
    segments: list[str] = Field(description="the custom segments the account is in as of their last refresh, by id")
    profile: Profile
