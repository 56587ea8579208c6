"""The segment document (docs/contract.md, Custom segments): an id, a name and a filter, `all` or `any` of
conditions over the customer card's fields, nested freely. Each condition is an object with one key, the
card field it looks at; the key picks its model (a callable discriminator), so an error's path reads like
the document: `filter.all[2].bought.within_days`."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag, create_model, model_validator

from app.accounts.schemas import ATTRIBUTE_KEY_PATTERN, MAX_ATTRIBUTE_INT, MAX_ATTRIBUTE_TEXT_CHARS, Gender
from rules import CUSTOM_SEGMENT_PATTERN, CVM_SEGMENTS, exactly_one, given

# Limits of a segment document, each in docs/contract.md and tested at its edge.
MAX_CONDITIONS = 100  # conditions in one filter, all levels together
MAX_DEPTH = 8  # `all`/`any` inside each other
MAX_LIST = 1000  # values in one `in`, categories or skus of `bought`
MAX_SEGMENTS = 200  # segments defined at once (each is one column of every refresh)
MAX_DAYS = 36_500
MAX_MONEY = 10**15

# a CVM segment's name is no custom segment's id (`reserved`): the schema says so too
NOT_CVM: dict[str, Any] = {"not": {"enum": sorted(CVM_SEGMENTS)}}
SegmentId = Annotated[str, Field(pattern=CUSTOM_SEGMENT_PATTERN, json_schema_extra=NOT_CVM)]
Days = Annotated[int, Field(strict=True, ge=1, le=MAX_DAYS)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Range(_Doc):
    """A range: at least one of gte, gt, lte, lt; the value must satisfy every one given."""

    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"anyOf": [given(name) for name in ("gte", "gt", "lte", "lt")]})
    gte: Annotated[int, Field(strict=True)] | None = None
    gt: Annotated[int, Field(strict=True)] | None = None
    lte: Annotated[int, Field(strict=True)] | None = None
    lt: Annotated[int, Field(strict=True)] | None = None

    @model_validator(mode="after")
    def _some(self) -> _Range:
        if self.gte is None and self.gt is None and self.lte is None and self.lt is None:
            raise ValueError("give at least one of gte, gt, lte, lt")
        return self


def _bounds(name: str, maximum: int) -> Any:
    """A range of integers 0..maximum, named `name` in the OpenAPI components."""
    # Any: create_model's annotations cannot spell a field given as (an Annotated union, its default)
    bound: Any = (Annotated[int, Field(strict=True, ge=0, le=maximum)] | None, None)
    return create_model(name, __base__=_Range, __module__=__name__, gte=bound, gt=bound, lte=bound, lt=bound)


SegMoneyRange = _bounds("SegMoneyRange", MAX_MONEY)
SegCountRange = _bounds("SegCountRange", MAX_MONEY)
SegDayRange = _bounds("SegDayRange", MAX_DAYS)
SegScoreRange = _bounds("SegScoreRange", 5)


T = TypeVar("T")
OneOf = Annotated[list[T], Field(min_length=1, max_length=MAX_LIST)]  # `in` lists, categories, skus


class SegCvmIn(_Doc):
    in_: OneOf[Literal["newcomer", "loyal", "pre_churn", "churn", "none"]] = Field(alias="in")


class SegTierIn(_Doc):
    in_: OneOf[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]] = Field(alias="in")


class SegGenderIn(_Doc):
    in_: OneOf[Gender] = Field(alias="in")


class SegMonthIn(_Doc):
    in_: OneOf[Annotated[int, Field(strict=True, ge=1, le=12)]] = Field(alias="in")


class SegStoreIn(_Doc):
    """Bought in one of these stores: ever, or within the last `within_days` days (by the report day)."""

    in_: OneOf[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]] = Field(alias="in")
    within_days: Days | None = None


class SegRfmScores(_Doc):
    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"anyOf": [given(name) for name in ("r", "f", "m")]})
    r: SegScoreRange | None = None  # type: ignore[valid-type]
    f: SegScoreRange | None = None  # type: ignore[valid-type]
    m: SegScoreRange | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _some(self) -> SegRfmScores:
        if self.r is None and self.f is None and self.m is None:
            raise ValueError("give at least one of r, f, m")
        return self


class SegBoughtTest(_Doc):
    """A standing receipt with a line in one of `categories` (or a category below one) or of `skus`, issued
    within the last `within_days` days (ever when left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=exactly_one("categories", "skus"))
    categories: OneOf[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
    skus: OneOf[Annotated[str, Field(min_length=1, max_length=64)]] | None = None
    within_days: Days | None = None

    @model_validator(mode="after")
    def _one(self) -> SegBoughtTest:
        if (self.categories is None) == (self.skus is None):
            raise ValueError("give exactly one of categories or skus")
        return self


AttributeScalar = (StrictBool | Annotated[int, Field(strict=True, ge=-MAX_ATTRIBUTE_INT, le=MAX_ATTRIBUTE_INT)]
                   | Annotated[str, Field(strict=True, max_length=MAX_ATTRIBUTE_TEXT_CHARS)])


class SegAttributeIn(_Doc):
    in_: OneOf[AttributeScalar] = Field(alias="in")


class SegAttributeRange(_Range):
    """An integer attribute in a range (any bound may be negative)."""


AttributeTest = AttributeScalar | SegAttributeIn | SegAttributeRange
# keys outside the pattern are refused: the schema says so too (as the profile's attributes do)
Attributes = Annotated[dict[Annotated[str, Field(pattern=ATTRIBUTE_KEY_PATTERN)], AttributeTest],
                       Field(min_length=1, max_length=32, json_schema_extra={"additionalProperties": False})]


# one model per condition key: the key is the card's field
class SegLtv(_Doc):
    ltv: SegMoneyRange  # type: ignore[valid-type]


class SegReceipts(_Doc):
    receipts: SegCountRange  # type: ignore[valid-type]


class SegAverageCheck(_Doc):
    average_check: SegMoneyRange  # type: ignore[valid-type]


class SegDaysSinceLast(_Doc):
    days_since_last: SegDayRange  # type: ignore[valid-type]


class SegRfm(_Doc):
    rfm: SegRfmScores


class SegCvm(_Doc):
    segment: SegCvmIn


class SegTier(_Doc):
    tier: SegTierIn


class SegBought(_Doc):
    bought: SegBoughtTest


class SegGender(_Doc):
    gender: SegGenderIn


class SegBirthMonth(_Doc):
    birth_month: SegMonthIn


class SegAttributes(_Doc):
    attributes: Attributes


class SegRegisteredWithinDays(_Doc):
    registered_within_days: Days


class SegStore(_Doc):
    store: SegStoreIn


class SegAll(_Doc):
    all: Annotated[list[Node], Field(min_length=1, max_length=MAX_CONDITIONS)]


class SegAny(_Doc):
    any: Annotated[list[Node], Field(min_length=1, max_length=MAX_CONDITIONS)]


CONDITIONS: dict[str, type[_Doc]] = {
    "all": SegAll, "any": SegAny, "ltv": SegLtv, "receipts": SegReceipts, "average_check": SegAverageCheck,
    "days_since_last": SegDaysSinceLast, "rfm": SegRfm, "segment": SegCvm, "tier": SegTier,
    "bought": SegBought, "gender": SegGender, "birth_month": SegBirthMonth,
    "attributes": SegAttributes, "registered_within_days": SegRegisteredWithinDays, "store": SegStore,
}


def _key(value: Any) -> str | None:
    """The condition an object names: its one key (a model: its one field)."""
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 and next(iter(value)) in CONDITIONS else None
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    return None


Node = Annotated[
    Annotated[SegAll, Tag("all")] | Annotated[SegAny, Tag("any")] | Annotated[SegLtv, Tag("ltv")]
    | Annotated[SegReceipts, Tag("receipts")] | Annotated[SegAverageCheck, Tag("average_check")]
    | Annotated[SegDaysSinceLast, Tag("days_since_last")] | Annotated[SegRfm, Tag("rfm")]
    | Annotated[SegCvm, Tag("segment")] | Annotated[SegTier, Tag("tier")]
    | Annotated[SegBought, Tag("bought")] | Annotated[SegGender, Tag("gender")]
    | Annotated[SegBirthMonth, Tag("birth_month")] | Annotated[SegAttributes, Tag("attributes")]
    | Annotated[SegRegisteredWithinDays, Tag("registered_within_days")] | Annotated[SegStore, Tag("store")],
    Discriminator(_key, custom_error_type="unknown_condition",
                  custom_error_message="a condition is an object with one key: all, any, or a card field "
                                       f"({', '.join(sorted(set(CONDITIONS) - {'all', 'any'}))})"),
]
SegAll.model_rebuild()
SegAny.model_rebuild()
Filter = Annotated[Annotated[SegAll, Tag("all")] | Annotated[SegAny, Tag("any")],
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


class CustomSegment(BaseModel):
    """A stored segment with what its last refresh found."""

    id: str
    name: str
    filter: dict[str, Any]
    members: int | None = Field(description="members as of refreshed_at; null before the first refresh")
    refreshed_at: str | None
    updated_at: str


class CustomSegmentList(BaseModel):
    segments: list[CustomSegment]


def reserved(segment_id: str) -> bool:
    """A CVM segment's name cannot be a custom segment's id: `when.segments` tells them apart by name."""
    return segment_id in CVM_SEGMENTS
