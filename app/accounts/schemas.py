"""Request and response models of the accounts API, the profile among them: a registration may carry it, and
PATCH /v1/accounts/{card} (app/customers/) changes it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from rules import WHITE_SPACE, Card, Identifier

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


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterRequest(_Request):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"card": "2900000012345", "phone": "+79001234567", "birth_date": "1990-05-17"},
        {"card": "2900000012346", "profile": {"birth_date": "1985-12-01", "gender": "female",
                                              "attributes": {"children": 2}}}]})

    card: Card
    phone: Annotated[str, Field(pattern=r"^\+?[0-9]{5,20}$")] | None = None
    birth_date: BirthDate | None = None
    profile: ProfilePatch | None = None  # the profile at registration, as PATCH /v1/accounts/{card} takes it

    @model_validator(mode="after")
    def _one_birth_date(self) -> RegisterRequest:
        if self.birth_date is not None and self.profile is not None and self.profile.birth_date is not None:
            raise ValueError("give the birth date once: birth_date or profile.birth_date")
        return self

    @property
    def born(self) -> date | None:
        """The birth date, wherever the body gave it (both accounts.birth_date)."""
        return self.birth_date if self.birth_date is not None else self.profile.birth_date if self.profile else None


class AdjustmentRequest(_Request):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"points": 5000, "reason": "complaint #123", "expire_days": 90, "adjustment_id": "c-123"}]})

    # 0 is refused by the service (an adjustment that changes nothing); `not` says so in the schema
    points: Annotated[int, Field(strict=True, ge=-(10**13), le=10**13,
                                 json_schema_extra={"format": "int64", "not": {"const": 0}})]
    # the audit trail: never blank (the published pattern spells out the `\s` of the validator's regex engine)
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S",
                                 json_schema_extra={"pattern": f"[^{WHITE_SPACE}]"})]
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
