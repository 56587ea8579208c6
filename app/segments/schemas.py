"""The segment document (docs/contract.md, Custom segments): an id, a name and a filter, `all` or `any` of
conditions over the customer card's fields, nested freely. Each condition is an object with one key, the
card field it looks at; the key picks its model (a callable discriminator), so an error's path reads like
the document: `filter.all[2].bought.within_days`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag, model_validator

from app.customers.schemas import ATTRIBUTE_KEY_PATTERN, MAX_ATTRIBUTE_INT, MAX_ATTRIBUTE_TEXT_CHARS, Gender
from rules import CUSTOM_SEGMENT_PATTERN, CVM_SEGMENTS
from rules._json_schema import exactly_one

# Limits of a segment document, each in docs/contract.md and tested at its edge.
MAX_CONDITIONS = 100  # conditions in one filter, all levels together
MAX_DEPTH = 8  # `all`/`any` inside each other
MAX_LIST = 1000  # values in one `in`, categories or skus of `bought`
MAX_SEGMENTS = 200  # segments defined at once (each is one column of every refresh)
MAX_DAYS = 36_500
MAX_MONEY = 10**15

SegmentId = Annotated[str, Field(pattern=CUSTOM_SEGMENT_PATTERN)]
Days = Annotated[int, Field(strict=True, ge=1, le=MAX_DAYS)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _bounds(name: str, maximum: int) -> type[BaseModel]:
    bound = Annotated[int, Field(strict=True, ge=0, le=maximum)]

    class Bounds(_Doc):
        """A range: at least one of gte, gt, lte, lt; the value must satisfy every one given."""

        model_config = ConfigDict(extra="forbid", frozen=True, title=name,
                                  json_schema_extra={"minProperties": 1})
        gte: bound | None = None
        gt: bound | None = None
        lte: bound | None = None
        lt: bound | None = None

        @model_validator(mode="after")
        def _some(self) -> Bounds:
            if self.gte is None and self.gt is None and self.lte is None and self.lt is None:
                raise ValueError("give at least one of gte, gt, lte, lt")
            return self

    return Bounds


MoneyRange = _bounds("MoneyRange", MAX_MONEY)
CountRange = _bounds("CountRange", MAX_MONEY)
DayRange = _bounds("DayRange", MAX_DAYS)
ScoreRange = _bounds("ScoreRange", 5)


def _one_of(values: Any) -> Any:
    return Annotated[list[values], Field(min_length=1, max_length=MAX_LIST)]


class CvmIn(_Doc):
    in_: _one_of(Literal["newcomer", "loyal", "pre_churn", "churn", "none"]) = Field(alias="in")


class TierIn(_Doc):
    in_: _one_of(Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]) = Field(alias="in")


class GenderIn(_Doc):
    in_: _one_of(Gender) = Field(alias="in")


class MonthIn(_Doc):
    in_: _one_of(Annotated[int, Field(strict=True, ge=1, le=12)]) = Field(alias="in")


class StoreIn(_Doc):
    """Bought in one of these stores: ever, or within the last `within_days` days (by the report day)."""

    in_: _one_of(Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]) = Field(alias="in")
    within_days: Days | None = None


class Rfm(_Doc):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"minProperties": 1})
    r: ScoreRange | None = None  # type: ignore[valid-type]
    f: ScoreRange | None = None  # type: ignore[valid-type]
    m: ScoreRange | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _some(self) -> Rfm:
        if self.r is None and self.f is None and self.m is None:
            raise ValueError("give at least one of r, f, m")
        return self


class Bought(_Doc):
    """A standing receipt with a line in one of `categories` (or a category below one) or of `skus`, issued
    within the last `within_days` days (ever when left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=exactly_one("categories", "skus"))
    categories: _one_of(Annotated[str, Field(min_length=1, max_length=200)]) | None = None
    skus: _one_of(Annotated[str, Field(min_length=1, max_length=64)]) | None = None
    within_days: Days | None = None

    @model_validator(mode="after")
    def _one(self) -> Bought:
        if (self.categories is None) == (self.skus is None):
            raise ValueError("give exactly one of categories or skus")
        return self


AttributeScalar = (StrictBool | Annotated[int, Field(strict=True, ge=-MAX_ATTRIBUTE_INT, le=MAX_ATTRIBUTE_INT)]
                   | Annotated[str, Field(strict=True, max_length=MAX_ATTRIBUTE_TEXT_CHARS)])


class AttributeIn(_Doc):
    in_: _one_of(AttributeScalar) = Field(alias="in")


class AttributeRange(_Doc):
    """An integer attribute in a range (any bound may be negative)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"minProperties": 1})
    gte: Annotated[int, Field(strict=True)] | None = None
    gt: Annotated[int, Field(strict=True)] | None = None
    lte: Annotated[int, Field(strict=True)] | None = None
    lt: Annotated[int, Field(strict=True)] | None = None

    @model_validator(mode="after")
    def _some(self) -> AttributeRange:
        if self.gte is None and self.gt is None and self.lte is None and self.lt is None:
            raise ValueError("give at least one of gte, gt, lte, lt")
        return self


AttributeTest = AttributeScalar | AttributeIn | AttributeRange
Attributes = Annotated[dict[Annotated[str, Field(pattern=ATTRIBUTE_KEY_PATTERN)], AttributeTest],
                       Field(min_length=1, max_length=32)]


# one model per condition key: the key is the card's field
class Ltv(_Doc):
    ltv: MoneyRange  # type: ignore[valid-type]


class Receipts(_Doc):
    receipts: CountRange  # type: ignore[valid-type]


class AverageCheck(_Doc):
    average_check: MoneyRange  # type: ignore[valid-type]


class DaysSinceLast(_Doc):
    days_since_last: DayRange  # type: ignore[valid-type]


class RfmCondition(_Doc):
    rfm: Rfm


class SegmentCondition(_Doc):
    segment: CvmIn


class TierCondition(_Doc):
    tier: TierIn


class BoughtCondition(_Doc):
    bought: Bought


class GenderCondition(_Doc):
    gender: GenderIn


class BirthMonth(_Doc):
    birth_month: MonthIn


class AttributesCondition(_Doc):
    attributes: Attributes


class RegisteredWithinDays(_Doc):
    registered_within_days: Days


class StoreCondition(_Doc):
    store: StoreIn


class All(_Doc):
    all: Annotated[list[Node], Field(min_length=1, max_length=MAX_CONDITIONS)]


class Any_(_Doc):
    model_config = ConfigDict(extra="forbid", frozen=True, title="Any")
    any: Annotated[list[Node], Field(min_length=1, max_length=MAX_CONDITIONS)]


CONDITIONS: dict[str, type[_Doc]] = {
    "all": All, "any": Any_, "ltv": Ltv, "receipts": Receipts, "average_check": AverageCheck,
    "days_since_last": DaysSinceLast, "rfm": RfmCondition, "segment": SegmentCondition, "tier": TierCondition,
    "bought": BoughtCondition, "gender": GenderCondition, "birth_month": BirthMonth,
    "attributes": AttributesCondition, "registered_within_days": RegisteredWithinDays, "store": StoreCondition,
}


def _key(value: Any) -> str | None:
    """The condition an object names: its one key (a model: its one field)."""
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 and next(iter(value)) in CONDITIONS else None
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    return None


Node = Annotated[
    Annotated[All, Tag("all")] | Annotated[Any_, Tag("any")] | Annotated[Ltv, Tag("ltv")]
    | Annotated[Receipts, Tag("receipts")] | Annotated[AverageCheck, Tag("average_check")]
    | Annotated[DaysSinceLast, Tag("days_since_last")] | Annotated[RfmCondition, Tag("rfm")]
    | Annotated[SegmentCondition, Tag("segment")] | Annotated[TierCondition, Tag("tier")]
    | Annotated[BoughtCondition, Tag("bought")] | Annotated[GenderCondition, Tag("gender")]
    | Annotated[BirthMonth, Tag("birth_month")] | Annotated[AttributesCondition, Tag("attributes")]
    | Annotated[RegisteredWithinDays, Tag("registered_within_days")] | Annotated[StoreCondition, Tag("store")],
    Discriminator(_key, custom_error_type="unknown_condition",
                  custom_error_message="a condition is an object with one key: all, any, or a card field "
                                       f"({', '.join(sorted(set(CONDITIONS) - {'all', 'any'}))})"),
]
All.model_rebuild()
Any_.model_rebuild()
Filter = Annotated[Annotated[All, Tag("all")] | Annotated[Any_, Tag("any")],
                   Discriminator(_key, custom_error_type="unknown_filter",
                                 custom_error_message="a filter is an object with one key: all or any")]


class SegmentDocument(_Doc):
    """What PUT takes: `id` (the path's), a `name`, and a `filter`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{
        "id": "coffee-drifters", "name": "Coffee lovers drifting away",
        "filter": {"all": [{"ltv": {"gte": 100000}}, {"segment": {"in": ["pre_churn", "churn"]}},
                           {"bought": {"categories": ["coffee"], "within_days": 90}},
                           {"birth_month": {"in": [12]}}]}}]})

    id: SegmentId
    name: Text
    filter: Filter


class Segment(BaseModel):
    """A stored segment with what its last refresh found."""

    id: str
    name: str
    filter: dict[str, Any]
    members: int | None = Field(description="members as of refreshed_at; null before the first refresh")
    refreshed_at: str | None
    updated_at: str


class SegmentList(BaseModel):
    segments: list[Segment]


def reserved(segment_id: str) -> bool:
    """A CVM segment's name cannot be a custom segment's id: `when.segments` tells them apart by name."""
    return segment_id in CVM_SEGMENTS
