"""Campaign templates over HTTP (issue 18 part 3): the list, and each template's campaign, with its defaults,
added to the active program through PUT /v1/program as it is; bad parameters answered with their paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from tests.programs import program
from tests.support import Service, assert_problem

# what the templates without a default for every parameter need
REQUIRED: dict[str, dict[str, Any]] = {"n-for-m-category": {"category": "shoes/summer"},
                                       "brand-extra-points": {"categories": ["brands/acme"]}}


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program())


@pytest.fixture(scope="module")
def marketer(svc: Service) -> httpx.Client:
    return svc.client(svc.key("marketer"))


def test_the_list_says_what_each_template_is_for(marketer: httpx.Client) -> None:
    answer = marketer.get("/v1/templates")
    assert answer.status_code == 200, answer.text
    templates = {t["id"]: t for t in answer.json()["templates"]}
    assert set(templates) >= {"welcome-bonus", "birthday-bonus", "win-back-coupon", "n-for-m-category",
                              "threshold-discount", "brand-extra-points", "tier-upgrade-push"}
    assert {t["aim_text"] for t in templates.values()} == {"win new customers", "win back lost ones",
                                                           "promote brands and goods", "raise the average check"}
    buy = next(p for p in templates["n-for-m-category"]["parameters"] if p["name"] == "buy")
    assert buy == {"name": "buy", "type": "integer", "required": False, "default": 3, "minimum": 2, "maximum": 100,
                   "description": "units in a group"}


def test_every_template_campaign_is_published_as_it_is(svc: Service, marketer: httpx.Client) -> None:
    """Each template's campaign, with its defaults, goes into the program document unchanged and is published
    by PUT /v1/program; then the program holds each exactly as the template gave it."""
    templates = [t["id"] for t in marketer.get("/v1/templates").json()["templates"]]
    campaigns = []
    for template_id in templates:
        answer = marketer.post(f"/v1/templates/{template_id}/campaign", json=REQUIRED.get(template_id, {}))
        assert answer.status_code == 200, (template_id, answer.text)
        campaigns.append(answer.json())
    document = yaml.safe_load(program())
    document["campaigns"] = campaigns
    put = marketer.put("/v1/program", params={"note": "every template"}, json=document)
    assert put.status_code == 200, put.text
    assert put.json()["campaigns"] == len(templates)
    active = {c["id"]: c for c in marketer.get("/v1/program").json()["campaigns"]}
    assert [active[c["id"]] for c in campaigns] == campaigns
    # and one at a time, by the campaigns API, with parameters of the marketer's own
    silver_push = marketer.post("/v1/templates/tier-upgrade-push/campaign",
                                json={"id": "silver-push", "tier": "silver", "min_amount": 250000, "points": 10000})
    assert silver_push.status_code == 200, silver_push.text
    assert marketer.put("/v1/campaigns/silver-push", json=silver_push.json()).status_code == 201
    assert marketer.get("/v1/campaigns/silver-push").json() == silver_push.json()


@pytest.mark.parametrize(("template_id", "body", "paths"), [
    ("welcome-bonus", {"points": -1}, ["points"]),
    ("welcome-bonus", {"points": 1.5}, ["points"]),
    ("threshold-discount", {"percent": 0, "min_amount": "5000"}, ["min_amount", "percent"]),
    ("n-for-m-category", {"buy": 3}, ["category"]),
    ("n-for-m-category", {"category": "a", "buy": 3, "pay": 5}, ["(body)"]),
    ("brand-extra-points", {"skus": []}, ["(body)"]),
    ("tier-upgrade-push", {"tier": "platinum"}, ["tier"]),  # the program has no such tier
    ("win-back-coupon", {"segments": ["newcomer"], "colour": "red"}, ["colour", "segments[0]"]),
    ("birthday-bonus", [], ["(body)"]),
])
def test_bad_parameters_are_refused_with_their_paths(svc: Service, marketer: httpx.Client, template_id: str,
                                                      body: Any, paths: list[str]) -> None:
    version = marketer.get("/v1/program").headers["Program-Version"]
    problem = assert_problem(marketer.post(f"/v1/templates/{template_id}/campaign", json=body), 422,
                             "invalid_template_params")
    assert sorted(e["path"] for e in problem["errors"]) == paths
    assert marketer.get("/v1/program").headers["Program-Version"] == version  # nothing is ever saved


def test_unknown_templates_and_bodies_that_are_not_json(marketer: httpx.Client) -> None:
    assert_problem(marketer.post("/v1/templates/no-such/campaign", json={}), 422, "validation_error")  # the path
    assert_problem(marketer.post("/v1/templates/welcome-bonus/campaign", content=b"{",
                                 headers={"Content-Type": "application/json"}), 422, "invalid_json")
    empty = marketer.post("/v1/templates/welcome-bonus/campaign")  # no body: every default
    assert empty.status_code == 200 and empty.json()["points"] == 20000
