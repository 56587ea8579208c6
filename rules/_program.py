"""The program document: settings, tiers, segments and campaigns, validated with precise paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ._json_schema import NOT_BLANK, exactly_one, given, none_of
from ._receipt import normalize_code
from ._types import Identifier, Money, Multiplier, Percent, PositivePercent

__all__ = [
    "CUSTOM_SEGMENT_PATTERN",
    "CVM_SEGMENTS",
    "Campaign",
    "CampaignBase",
    "Program",
    "ProgramError",
    "parse_program",
]

CampaignId = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]
TierId = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
Segment = Literal["newcomer", "loyal", "pre_churn", "churn", "none"]
CVM_SEGMENTS: frozenset[str] = frozenset(("newcomer", "loyal", "pre_churn", "churn", "none"))
# a marketer's own segment (app/segments): its id never takes a CVM segment's name (the segments API refuses
# those), so `when.segments` tells the two apart by name
CUSTOM_SEGMENT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
CustomSegmentId = Annotated[str, Field(pattern=CUSTOM_SEGMENT_PATTERN)]
Days = Annotated[int, Field(strict=True, ge=0, le=36_500)]
ControlPercent = Annotated[int, Field(strict=True, ge=0, le=50)]
# A coupon applies because its code is on the receipt and a registration bonus has no receipt: neither has
# members to hold out. (What the validators below refuse, for the schema.)
_NO_CONTROL_GROUP: dict[str, Any] = {
    "not": {"required": ["control_percent"], "properties": {"control_percent": {"type": "integer", "minimum": 1}}}}
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
# What `When._hours` takes, for the schema: an end of 24:00 only, and not an empty range (the end the start)
_HOURS_SCHEMA = {"pattern": r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]-(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                 "not": {"pattern": r"^(.{5})-\1$"}}


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointsSettings(_Doc):
    accrual_base: Literal["paid", "after_discount"] = "paid"
    rounding: Literal["whole", "minor"] = "whole"
    pending_days: Days = 14
    expire_days: Days = 365
    max_redeem_percent: Percent = Decimal(50)
    auto_enroll: bool = Field(default=True, strict=True)


class TierLevel(_Doc):
    id: TierId
    min_purchases: Money
    accrual_percent: Percent


def _first_level_starts_at_0(schema: dict[str, Any]) -> None:
    """The first level is where every account starts (`prefixItems` replaces `items` for that element)."""
    schema["prefixItems"] = [{"allOf": [schema["items"], {"properties": {"min_purchases": {"const": 0}}}]}]


class Tiers(_Doc):
    """Levels by growing `min_purchases`, each `id` once."""

    window_days: Days = 365
    levels: list[TierLevel] = Field(min_length=1, max_length=50, json_schema_extra=_first_level_starts_at_0)

    @field_validator("levels")
    @classmethod
    def _ordered(cls, levels: list[TierLevel]) -> list[TierLevel]:
        if levels[0].min_purchases != 0:
            raise ValueError("the first level must have min_purchases 0")
        for lower, higher in zip(levels, levels[1:], strict=False):
            if higher.min_purchases <= lower.min_purchases:
                raise ValueError(f"min_purchases must grow: {higher.id!r} does not exceed {lower.id!r}")
        ids = [level.id for level in levels]
        if len(set(ids)) != len(ids):
            raise ValueError("tier ids must be unique")
        return levels


class Segments(_Doc):
    """`pre_churn_days` below `churn_days`."""

    newcomer_days: Days = 30
    pre_churn_days: Annotated[Days, Field(json_schema_extra={"minimum": 1})] = 60
    churn_days: Days = 120

    @model_validator(mode="after")
    def _ordered(self) -> Segments:
        if not 0 < self.pre_churn_days < self.churn_days:
            raise ValueError("need 0 < pre_churn_days < churn_days")
        return self


class Active(_Doc):
    """`to` after `from` when both are given."""

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> Active:
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        return self


class When(_Doc):
    channels: list[Literal["pos", "online"]] | None = None
    stores: list[Identifier] | None = None
    tiers: list[TierId] | None = None
    segments: list[Segment | CustomSegmentId] | None = None  # CVM segments or custom segment ids
    weekdays: list[Annotated[int, Field(strict=True, ge=1, le=7)]] | None = None
    hours: Annotated[str, Field(json_schema_extra=_HOURS_SCHEMA)] | None = None

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            match = _HOURS.match(value)
            if not match or (match.group(3) == "24" and match.group(4) != "00"):
                raise ValueError("hours must look like 08:00-22:00")
            if value[:5] == value[6:]:
                raise ValueError("an hours range must not be empty")
        return value

    def hours_range(self) -> tuple[time, time | None] | None:
        """[start, end) in local time; end None means midnight at the end of the day."""
        if self.hours is None:
            return None
        start, end = self.hours.split("-")
        end_time = None if end == "24:00" else time.fromisoformat(end)
        return time.fromisoformat(start), end_time


@dataclass(frozen=True, slots=True)
class ItemSets:
    """`items` as sets, built once per campaign: scope checks run for every line and campaign."""

    skus: frozenset[str]
    categories: frozenset[str]
    exclude_skus: frozenset[str]
    exclude_categories: frozenset[str]
    filters: bool  # whether skus or categories narrow the scope at all


class Items(_Doc):
    categories: list[str] | None = None
    skus: list[str] | None = None
    exclude_categories: list[str] | None = None
    exclude_skus: list[str] | None = None

    @field_validator("categories", "exclude_categories")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        return [path.strip("/") for path in paths] if paths is not None else None

    @cached_property
    def sets(self) -> ItemSets:
        return ItemSets(
            frozenset(self.skus or ()),
            frozenset(self.categories or ()),
            frozenset(self.exclude_skus or ()),
            frozenset(self.exclude_categories or ()),
            self.skus is not None or self.categories is not None,
        )


class CampaignBase(_Doc):
    id: CampaignId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    priority: Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000)]
    active: Active | None = None
    when: When | None = None
    items: Items | None = None
    stacking: Literal["stack", "exclusive"] = "stack"
    group: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")] | None = None
    # the percent of eligible members held out as a control group (rules/_holdout.py); absent or 0: none
    control_percent: ControlPercent | None = None


class AmountThreshold(_Doc):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=exactly_one("percent", "amount"))

    min_amount: Money
    percent: PositivePercent | None = None
    amount: Annotated[Money, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> AmountThreshold:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give exactly one of percent or amount")
        return self


def _growing_by(name: str) -> AfterValidator:
    """Thresholds sorted by a growing `name`, without repeats, so the highest one reached is the last."""

    def check(thresholds: list[Any]) -> list[Any]:
        values = [getattr(t, name) for t in thresholds]
        if any(b <= a for a, b in zip(values, values[1:], strict=False)):
            raise ValueError(f"thresholds must be sorted by growing {name}, without repeats")
        return thresholds

    return AfterValidator(check)


class ReceiptDiscount(CampaignBase):
    """`thresholds` by growing `min_amount`, without repeats."""

    type: Literal["receipt_discount"]
    thresholds: Annotated[list[AmountThreshold], Field(min_length=1, max_length=20), _growing_by("min_amount")]


class QuantityThreshold(_Doc):
    min_quantity: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    percent: PositivePercent


class QuantityDiscount(CampaignBase):
    """`thresholds` by growing `min_quantity`, without repeats."""

    type: Literal["quantity_discount"]
    thresholds: Annotated[list[QuantityThreshold], Field(min_length=1, max_length=20), _growing_by("min_quantity")]


class NForM(CampaignBase):
    """`pay` below `buy`."""

    type: Literal["n_for_m"]
    buy: Annotated[int, Field(strict=True, ge=2, le=100)]
    pay: Annotated[int, Field(strict=True, ge=1, le=99)]

    @model_validator(mode="after")
    def _pay_less(self) -> NForM:
        if self.pay >= self.buy:
            raise ValueError("pay must be less than buy")
        return self


class Coupon(CampaignBase):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"allOf": [
        exactly_one("percent", "amount", "points", "accrual_multiplier"),
        {"anyOf": [given("code"), none_of("max_uses", "max_uses_per_account")]},  # limits are for a shared code
        _NO_CONTROL_GROUP,
    ]})

    type: Literal["coupon"]
    code: Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=NOT_BLANK)] | None = None
    max_uses: Annotated[int, Field(strict=True, ge=1)] | None = None
    max_uses_per_account: Annotated[int, Field(strict=True, ge=1)] | None = None
    percent: PositivePercent | None = None
    amount: Annotated[Money, Field(gt=0)] | None = None
    points: Annotated[Money, Field(gt=0)] | None = None
    accrual_multiplier: Multiplier | None = None
    min_amount: Money = 0

    @field_validator("code")
    @classmethod
    def _normalize(cls, code: str | None) -> str | None:
        if code is None:
            return None
        normalized = normalize_code(code)
        if not normalized:  # as a receipt's codes: "  " would be stored as a code of nothing
            raise ValueError("must not be blank")
        return normalized

    @model_validator(mode="after")
    def _one_effect(self) -> Coupon:
        effects = [self.percent, self.amount, self.points, self.accrual_multiplier]
        if sum(effect is not None for effect in effects) != 1:
            raise ValueError("give exactly one of percent, amount, points or accrual_multiplier")
        if self.code is None and (self.max_uses or self.max_uses_per_account):
            raise ValueError("max_uses and max_uses_per_account are for a shared code")
        if self.control_percent:
            raise ValueError("a coupon campaign has no control group: control_percent must be 0 or absent")
        return self


class Accrual(CampaignBase):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"oneOf": [
        {"allOf": [given("percent"), given("mode"), none_of("multiplier")]},
        {"allOf": [given("multiplier"), none_of("mode", "percent")]},
    ]})

    type: Literal["accrual"]
    percent: Percent | None = None
    mode: Literal["replace", "add"] | None = None
    multiplier: Annotated[Multiplier, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> Accrual:
        if (self.percent is None) == (self.multiplier is None):
            raise ValueError("give either percent with mode, or multiplier")
        if self.percent is not None and self.mode is None:
            raise ValueError("percent needs mode: replace or add")
        if self.multiplier is not None and self.mode is not None:
            raise ValueError("mode goes with percent, not with multiplier")
        return self


class Redemption(CampaignBase):
    type: Literal["redemption"]
    max_percent: Percent


# What a birthday bonus cannot look at: it has no receipt (its `when` may name only tiers and segments).
RECEIPT_CONDITIONS = ("channels", "stores", "weekdays", "hours")
# Days before and after a birthday: at most 90 each, so one year's window never reaches the next one's.
WindowDays = Annotated[int, Field(strict=True, ge=0, le=90)]
_BIRTHDAY: dict[str, Any] = {"properties": {"trigger": {"const": "birthday"}}}
_NOT_BIRTHDAY: dict[str, Any] = {"properties": {"trigger": {"not": {"const": "birthday"}}}}


class Bonus(CampaignBase):
    """`min_amount` for trigger: receipt only; `days_before` and `days_after` for trigger: birthday only, whose
    `when` names no receipt fact (channels, stores, weekdays, hours) and which has no `items`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"allOf": [
        {"anyOf": [{"properties": {"trigger": {"const": "receipt"}}},
                   {"properties": {"min_amount": {"const": 0}}}]},  # min_amount applies to trigger: receipt only
        {"anyOf": [_BIRTHDAY, none_of("days_before", "days_after")]},
        {"anyOf": [_NOT_BIRTHDAY, {"allOf": [none_of("items"), {"properties": {"when": {"anyOf": [
            {"type": "null"}, none_of(*RECEIPT_CONDITIONS)]}}}]}]},
        # a control group only where a receipt is: not on a registration or birthday bonus
        {"anyOf": [{"properties": {"trigger": {"const": "receipt"}}}, _NO_CONTROL_GROUP]},
    ]})

    type: Literal["bonus"]
    trigger: Literal["registration", "receipt", "birthday"]
    points: Annotated[Money, Field(gt=0)]
    min_amount: Money = 0
    expire_days: Annotated[Days, Field(ge=1)] | None = None
    days_before: WindowDays | None = None
    days_after: WindowDays | None = None

    def expires_at(self, at: datetime, default_days: int) -> datetime | None:
        """When points granted at `at` expire: after the bonus's own `expire_days`, else the program's
        (`points.expire_days`; 0: never)."""
        days = self.expire_days or default_days
        return at + timedelta(days=days) if days else None

    @model_validator(mode="after")
    def _fields_of_trigger(self) -> Bonus:
        if self.trigger != "receipt" and self.min_amount:
            raise ValueError("min_amount applies to trigger: receipt only")
        if self.trigger != "receipt" and self.control_percent:
            raise ValueError(f"a {self.trigger} bonus has no control group: control_percent must be 0 or absent")
        if self.trigger != "birthday":
            if self.days_before is not None or self.days_after is not None:
                raise ValueError("days_before and days_after apply to trigger: birthday only")
            return self
        if self.items is not None:
            raise ValueError("items does not apply to trigger: birthday (a birthday bonus has no receipt)")
        named = [name for name in RECEIPT_CONDITIONS if self.when and getattr(self.when, name) is not None]
        if named:
            raise ValueError(f"when.{named[0]} does not apply to trigger: birthday (a birthday bonus has no "
                             "receipt; its when may name tiers and segments)")
        return self


Campaign = Annotated[
    ReceiptDiscount | QuantityDiscount | NForM | Coupon | Accrual | Redemption | Bonus,
    Field(discriminator="type"),
]
CAMPAIGN_TYPES = ("receipt_discount", "quantity_discount", "n_for_m", "coupon", "accrual", "redemption", "bonus")


class Program(_Doc):
    """Each campaign `id` once; `when.tiers` name levels of `tiers`; a shared coupon `code` in one campaign only."""

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "RUB"
    max_receipt_age_days: Annotated[Days, Field(ge=1)] = 30
    points: PointsSettings = PointsSettings()
    tiers: Tiers
    segments: Segments = Segments()
    campaigns: list[Campaign] = Field(default_factory=list, max_length=10_000)

    def custom_segments(self) -> dict[str, list[str]]:
        """Each custom segment id the campaigns' `when.segments` name, with the paths that name it."""
        named: dict[str, list[str]] = {}
        for index, campaign in enumerate(self.campaigns):
            if campaign.when is not None and campaign.when.segments is not None:
                for position, segment in enumerate(campaign.when.segments):
                    if segment not in CVM_SEGMENTS:
                        named.setdefault(segment, []).append(f"campaigns[{index}].when.segments[{position}]")
        return named

    def document(self) -> dict[str, Any]:
        """The document as JSON-ready data (percents as numbers or decimal strings)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ProgramError(ValueError):
    """An invalid program document; `errors` lists each problem as {path, message}."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))
        self.errors = errors


def error_path(loc: tuple[int | str, ...]) -> str:
    """('campaigns', 0, 'receipt_discount', 'thresholds', 1) → 'campaigns[0].thresholds[1]'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in CAMPAIGN_TYPES or part.startswith("function-"):
            continue  # pydantic's union tag, not a field the author wrote
        else:
            path += f".{part}" if path else part
    return path or "(document)"


def _reference_errors(program: Program) -> list[dict[str, str]]:
    """Checks across campaigns, each reported at the campaign that breaks it."""
    errors: list[dict[str, str]] = []
    tier_ids = {level.id for level in program.tiers.levels}
    seen_ids: set[str] = set()
    seen_codes: set[str] = set()
    for index, campaign in enumerate(program.campaigns):
        if campaign.id in seen_ids:
            errors.append({"path": f"campaigns[{index}].id", "message": f"campaign id {campaign.id!r} is used twice"})
        seen_ids.add(campaign.id)
        unknown = sorted(set(campaign.when.tiers or []) - tier_ids) if campaign.when else []
        if unknown:
            errors.append({"path": f"campaigns[{index}].when.tiers",
                           "message": f"unknown tiers: {', '.join(unknown)}"})
        if isinstance(campaign, Coupon) and campaign.code:
            if campaign.code in seen_codes:
                errors.append({"path": f"campaigns[{index}].code",
                               "message": f"coupon code {campaign.code!r} is used by another campaign"})
            seen_codes.add(campaign.code)
    return errors


def parse_program(data: Any) -> Program:
    """Validate a program document (already parsed from YAML or JSON) or raise ProgramError."""
    if not isinstance(data, dict):
        raise ProgramError([{"path": "(document)", "message": "the program must be a mapping"}])
    try:
        program = Program.model_validate(data)
    except ValidationError as error:
        raise ProgramError(
            [{"path": error_path(e["loc"]), "message": e["msg"]} for e in error.errors(include_url=False)]
        ) from None
    errors = _reference_errors(program)
    if errors:
        raise ProgramError(errors)
    return program
