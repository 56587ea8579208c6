"""The campaign templates: for each, what it is for (one of the seed's four aims), its parameters (a model
with types, defaults and limits) and a pure function from parameters to a campaign document.

Every template builds only mechanics the engine has (docs/programs.md); where the aim asks for more than
the engine can do, the description says what it does instead. A campaign a template builds is a campaign of
the program document as it is: `PUT /v1/campaigns/{id}` takes it unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AIMS = {
    "win_new": "win new customers",
    "win_back": "win back lost ones",
    "promote": "promote brands and goods",
    "raise_check": "raise the average check",
}
MAX_MONEY = 10**13  # rules' limit on money and points (minor units)

CampaignId = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$", description="the campaign's id")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$", description="shown in reports")]
Priority = Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000, description="lower runs first")]
Points = Annotated[int, Field(strict=True, ge=1, le=MAX_MONEY, description="points in minor units")]
Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_MONEY, description="money in minor units")]
ExpireDays = Annotated[int, Field(strict=True, ge=1, le=36_500, description="the points expire after")]
WholePercent = Annotated[int, Field(strict=True, ge=1, le=100, description="a whole percent")]
Category = Annotated[str, Field(pattern=r"^[^\x00-\x1f/][^\x00-\x1f]{0,127}$",
                                description="a category path such as shoes/summer (its subcategories too)")]
Sku = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
TierId = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$", description="a tier id of the program")]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _base(params: Any, type_: str) -> dict[str, Any]:
    return {"id": params.id, "name": params.name, "type": type_, "priority": params.priority}


class WelcomeParams(Params):
    id: CampaignId = "welcome"
    name: Name = "Welcome points"
    priority: Priority = 1
    points: Points = 20_000
    expire_days: ExpireDays = 30


def welcome_bonus(p: WelcomeParams) -> dict[str, Any]:
    return {**_base(p, "bonus"), "trigger": "registration", "points": p.points, "expire_days": p.expire_days}


class BirthdayParams(Params):
    id: CampaignId = "birthday"
    name: Name = "Points for your birthday"
    priority: Priority = 1
    points: Points = 50_000
    days_before: Annotated[int, Field(strict=True, ge=0, le=90, description="granted this many days before")] = 3
    days_after: Annotated[int, Field(strict=True, ge=0, le=90, description="and until this many days after")] = 2
    expire_days: ExpireDays = 14


def birthday_bonus(p: BirthdayParams) -> dict[str, Any]:
    return {**_base(p, "bonus"), "trigger": "birthday", "points": p.points, "days_before": p.days_before,
            "days_after": p.days_after, "expire_days": p.expire_days}


class WinBackParams(Params):
    id: CampaignId = "win-back"
    name: Name = "Come back: money off your next purchase"
    priority: Priority = 45
    amount: Annotated[int, Field(strict=True, ge=1, le=MAX_MONEY, description="money off, minor units")] = 50_000
    min_amount: Amount = 300_000
    segments: Annotated[list[Literal["pre_churn", "churn"]], Field(min_length=1, max_length=2)] = ["churn"]  # noqa: RUF012


def win_back_coupon(p: WinBackParams) -> dict[str, Any]:
    return {**_base(p, "coupon"), "when": {"segments": list(dict.fromkeys(p.segments))}, "amount": p.amount,
            "min_amount": p.min_amount}


class NForMParams(Params):
    id: CampaignId = "n-for-m"
    name: Name = "3 for the price of 2"
    priority: Priority = 11
    category: Category
    buy: Annotated[int, Field(strict=True, ge=2, le=100, description="units in a group")] = 3
    pay: Annotated[int, Field(strict=True, ge=1, le=99, description="units paid of a group (less than buy)")] = 2

    @model_validator(mode="after")
    def _pay_less(self) -> NForMParams:
        if self.pay >= self.buy:
            raise ValueError("pay must be less than buy")  # the words of rules' own check
        return self


def n_for_m(p: NForMParams) -> dict[str, Any]:
    return {**_base(p, "n_for_m"), "items": {"categories": [p.category]}, "buy": p.buy, "pay": p.pay}


class ThresholdParams(Params):
    id: CampaignId = "bigger-check"
    name: Name = "Money off a bigger receipt"
    priority: Priority = 10
    min_amount: Annotated[int, Field(strict=True, ge=1, le=MAX_MONEY, description="the receipt from")] = 500_000
    percent: WholePercent = 5
    category: Category | None = None


def threshold_discount(p: ThresholdParams) -> dict[str, Any]:
    campaign = {**_base(p, "receipt_discount"), "thresholds": [{"min_amount": p.min_amount, "percent": p.percent}]}
    return {**campaign, "items": {"categories": [p.category]}} if p.category else campaign


class BrandParams(Params):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"anyOf": [
        {"required": ["skus"], "properties": {"skus": {"minItems": 1}}},
        {"required": ["categories"], "properties": {"categories": {"minItems": 1}}},
    ]})

    id: CampaignId = "brand-points"
    name: Name = "Double points on the brand"
    priority: Priority = 20
    skus: Annotated[list[Sku], Field(max_length=1000, description="the brand's SKUs")] = []  # noqa: RUF012
    categories: Annotated[list[Category], Field(max_length=100, description="the brand's categories")] = []  # noqa: RUF012
    multiplier: Annotated[int, Field(strict=True, ge=2, le=10, description="times the tier's points")] = 2

    @model_validator(mode="after")
    def _some_goods(self) -> BrandParams:
        if not self.skus and not self.categories:
            raise ValueError("give skus or categories (or both): the goods of the brand")
        return self


def brand_points(p: BrandParams) -> dict[str, Any]:
    items = {key: list(dict.fromkeys(value)) for key, value in (("categories", p.categories), ("skus", p.skus))
             if value}
    return {**_base(p, "accrual"), "items": items, "multiplier": p.multiplier}


class TierPushParams(Params):
    id: CampaignId = "tier-push"
    name: Name = "Points for a bigger receipt on the way to the next tier"
    priority: Priority = 60
    tier: TierId = "base"
    min_amount: Annotated[int, Field(strict=True, ge=1, le=MAX_MONEY, description="the receipt from")] = 300_000
    points: Points = 30_000
    expire_days: ExpireDays = 30


def tier_push(p: TierPushParams) -> dict[str, Any]:
    return {**_base(p, "bonus"), "trigger": "receipt", "when": {"tiers": [p.tier]}, "min_amount": p.min_amount,
            "points": p.points, "expire_days": p.expire_days}


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    name: str
    aim: str  # a key of AIMS
    description: str
    params: type[Params]
    build: Callable[[Any], dict[str, Any]]
    # where a campaign path comes from a parameter: rules' errors on the campaign are answered at the parameter
    paths: tuple[tuple[str, str], ...] = ()


TEMPLATES: dict[str, Template] = {t.id: t for t in (
    Template("welcome-bonus", "Welcome bonus", "win_new",
             "Points on joining, once per account, when it is created (registration or the first receipt with "
             "the card); they expire soon, to bring the first purchase back.", WelcomeParams, welcome_bonus),
    Template("birthday-bonus", "Birthday bonus", "win_back",
             "Points by the daily sweep once a year around the customer's birthday (accounts with a birth "
             "date), a reason to come back.", BirthdayParams, birthday_bonus),
    Template("win-back-coupon", "Win-back coupon for churned customers", "win_back",
             "A coupon without a shared code: issue single-use codes with POST /v1/coupons/batches and send "
             "them to the segment's members (GET /v1/reports/segments/churn/members). The code works only for "
             "customers still in the chosen segments when they come back. The engine sends nothing itself.",
             WinBackParams, win_back_coupon),
    Template("n-for-m-category", "N for M on a category", "promote",
             "In each group of `buy` units of the category, the cheapest `buy − pay` are free.", NForMParams,
             n_for_m),
    Template("threshold-discount", "Threshold discount to lift the average check", "raise_check",
             "A percent off receipts (or a category's part of them) from an amount, just above today's "
             "average check.", ThresholdParams, threshold_discount),
    Template("brand-extra-points", "Extra points on a brand", "promote",
             "The tier's points times a multiplier on a brand's goods. Receipt lines have no brand field: name "
             "the brand by its SKUs or by its categories (give at least one of the two).", BrandParams,
             brand_points),
    Template("tier-upgrade-push", "Tier upgrade push", "raise_check",
             "Bonus points for a receipt from an amount, for customers in the given tier, so that they buy "
             "more and reach the next one. The engine cannot message each customer \"spend X more to reach "
             "silver\": the till shows it from the account read (`tier.next`); this campaign rewards the "
             "bigger receipt that gets them there.", TierPushParams, tier_push,
             (("when.tiers", "tier"),)),
)}


def parameters(template: Template) -> list[dict[str, Any]]:
    """Each parameter: name, JSON type, whether required, default, limits and description (from the model)."""
    schema = template.params.model_json_schema()
    required = set(schema.get("required", ()))
    found = []
    for name, spec in schema["properties"].items():
        spec = next((option for option in spec.get("anyOf", ()) if option.get("type") != "null"), spec)
        entry = {"name": name, "type": spec.get("type", "string"), "required": name in required}
        for key in ("default", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern",
                    "description"):
            value = schema["properties"][name].get(key, spec.get(key))
            if value is not None:
                entry[key] = value
        if "items" in spec:
            entry["items"] = spec["items"]
        found.append(entry)
    return found
