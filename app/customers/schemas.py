"""Request and response models of the customer profile and the customer card (issue 14)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

# Limits of a profile, each documented in docs/contract.md (Profile) and tested at its edge.
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_TEXT_CHARS = 200
MAX_ATTRIBUTE_INT = 10**15  # within the integers every JSON reader holds exactly (2^53)
ATTRIBUTE_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"  # snake_case, 1 to 40 characters
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

Gender = Literal["female", "male", "unspecified"]
AttributeKey = Annotated[str, Field(pattern=ATTRIBUTE_KEY_PATTERN)]
# bool before int: JSON true is a boolean, never the integer 1 (both are strict)
AttributeValue = (StrictBool | Annotated[int, Field(strict=True, ge=-MAX_ATTRIBUTE_INT, le=MAX_ATTRIBUTE_INT)]
                  | Annotated[str, Field(strict=True, max_length=MAX_ATTRIBUTE_TEXT_CHARS)])


def _plausible(value: date) -> date:
    """From 1900-01-01 to today in UTC: a date of birth, not a typo."""
    if not EARLIEST_BIRTH_DATE <= value <= datetime.now(UTC).date():
        raise ValueError(f"must be between {EARLIEST_BIRTH_DATE.isoformat()} and today")
    return value


BirthDate = Annotated[date, Field(strict=True), AfterValidator(_plausible)]  # "1990-05-17", not a timestamp


class ProfilePatch(BaseModel):
    """What a PATCH changes: a field left out stays as it is, `null` clears it; an attribute set to `null`
    is removed, the others are added or replaced one by one."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"birth_date": "1990-05-17", "gender": "female",
         "attributes": {"children": 2, "pets": "cat", "preferred_store": "s17", "newsletter": True}}]})

    birth_date: BirthDate | None = None
    gender: Gender | None = None
    # keys outside the pattern are refused: the schema says so (patternProperties alone would admit them)
    attributes: Annotated[dict[AttributeKey, AttributeValue | None], Field(
        max_length=MAX_ATTRIBUTES, json_schema_extra={"additionalProperties": False})] | None = None


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
