"""Campaign templates (app/templates): each one's campaign is one the program document takes as it is; its
parameters are listed with types, defaults and limits; bad parameters are refused at their paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.errors import AppError
from app.templates import AIMS, TEMPLATES, build, listing
from app.templates.catalogue import (
    BrandParams,
    NForMParams,
    ThresholdParams,
    TierPushParams,
    brand_points,
    n_for_m,
    threshold_discount,
    tier_push,
)
from rules import load_program, parse_program

EXAMPLE = load_program((Path(__file__).resolve().parents[2] / "rules" / "examples" / "program.yaml").read_text(),
                       "yaml")
# what the templates without a default for every parameter need
REQUIRED: dict[str, dict[str, Any]] = {"n-for-m-category": {"category": "shoes/summer"},
                                       "brand-extra-points": {"skus": ["NIKE-1", "NIKE-2"]}}
SEED_TEMPLATES = {"welcome-bonus", "birthday-bonus", "win-back-coupon", "n-for-m-category", "threshold-discount",
                  "brand-extra-points", "tier-upgrade-push"}


def test_the_seed_templates_are_there_each_for_one_of_the_four_aims() -> None:
    assert set(TEMPLATES) >= SEED_TEMPLATES
    assert set(AIMS.values()) == {"win new customers", "win back lost ones", "promote brands and goods",
                                  "raise the average check"}
    assert {t.aim for t in TEMPLATES.values()} == set(AIMS)  # every aim has a template
    for described in listing()["templates"]:
        assert described["aim_text"] == AIMS[described["aim"]] and described["description"]


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_each_campaign_joins_the_example_program_as_it_is(template_id: str) -> None:
    campaign = build(template_id, REQUIRED.get(template_id, {}), EXAMPLE)
    document = {**EXAMPLE.document(), "campaigns": [c for c in EXAMPLE.document()["campaigns"]
                                                    if c["id"] != campaign["id"]] + [campaign]}
    program = parse_program(document)
    assert program.document()["campaigns"][-1] == campaign  # unchanged by the parser: normalized already


def test_the_campaigns_built_are_those_the_parameters_say() -> None:
    assert n_for_m(NForMParams(category="shoes", buy=4, pay=3)) == {
        "id": "n-for-m", "name": "3 for the price of 2", "type": "n_for_m", "priority": 11,
        "items": {"categories": ["shoes"]}, "buy": 4, "pay": 3}
    assert threshold_discount(ThresholdParams(min_amount=700000, percent=7)) == {
        "id": "bigger-check", "name": "Money off a bigger receipt", "type": "receipt_discount", "priority": 10,
        "thresholds": [{"min_amount": 700000, "percent": 7}]}
    assert brand_points(BrandParams(skus=["A", "A", "B"], categories=["brands/nike"], multiplier=3))["items"] == {
        "categories": ["brands/nike"], "skus": ["A", "B"]}
    assert tier_push(TierPushParams(tier="silver", min_amount=100, points=5))["when"] == {"tiers": ["silver"]}
    welcome = build("welcome-bonus", {"points": 30000, "id": "hello"}, EXAMPLE)
    assert welcome == {"id": "hello", "name": "Welcome points", "type": "bonus", "priority": 1,
                       "stacking": "stack", "trigger": "registration", "points": 30000, "min_amount": 0,
                       "expire_days": 30}
    assert build("win-back-coupon", {"segments": ["pre_churn", "pre_churn"]}, None)["when"] == {
        "segments": ["pre_churn"]}


def test_parameters_are_listed_with_types_defaults_and_limits() -> None:
    described = {t["id"]: t for t in listing()["templates"]}
    points = next(p for p in described["welcome-bonus"]["parameters"] if p["name"] == "points")
    assert points == {"name": "points", "type": "integer", "required": False, "default": 20000, "minimum": 1,
                      "maximum": 10**13, "description": "points in minor units"}
    category = next(p for p in described["n-for-m-category"]["parameters"] if p["name"] == "category")
    assert category["required"] is True and category["type"] == "string" and "pattern" in category


@pytest.mark.parametrize(("template_id", "params", "paths"), [
    ("welcome-bonus", {"points": 0}, ["points"]),
    ("welcome-bonus", {"points": 100.0}, ["points"]),  # integers only, in minor units
    ("welcome-bonus", {"points": "100"}, ["points"]),
    ("welcome-bonus", {"pointz": 100}, ["pointz"]),  # a typo is not ignored
    ("birthday-bonus", {"days_before": 91}, ["days_before"]),
    ("n-for-m-category", {}, ["category"]),
    ("n-for-m-category", {"category": "shoes", "buy": 2, "pay": 2}, ["(body)"]),
    ("threshold-discount", {"percent": 101, "id": "Bad Id"}, ["id", "percent"]),
    ("brand-extra-points", {}, ["(body)"]),
    ("win-back-coupon", {"segments": ["loyal"]}, ["segments[0]"]),
    ("tier-upgrade-push", {"tier": "platinum"}, ["tier"]),  # not a tier of the program
    ("welcome-bonus", [1], ["(body)"]),
])
def test_bad_parameters_are_refused_at_their_paths(template_id: str, params: Any, paths: list[str]) -> None:
    with pytest.raises(AppError) as refused:
        build(template_id, params, EXAMPLE)
    assert refused.value.status == 422 and refused.value.code == "invalid_template_params"
    assert sorted(e["path"] for e in refused.value.extra["errors"]) == paths


def test_an_unknown_template_is_404() -> None:
    with pytest.raises(AppError) as refused:
        build("no-such", {}, EXAMPLE)
    assert (refused.value.status, refused.value.code) == (404, "template_not_found")
