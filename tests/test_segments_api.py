"""Custom segments over HTTP (issue 14, part 3): each filter condition alone and combined on four customers
whose figures are worked out by hand, the members CSV, a custom segment steering a campaign through
confirm, the refresh's age, and every bad input answered with a 4xx and no change."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.load import sql
from tests.programs import program
from tests.support import Service, assert_problem, card, confirm, line, receipt, register

MOSCOW = ZoneInfo("Europe/Moscow")
LEVELS = [{"id": "base", "min_purchases": 0, "accrual_percent": 3},
          {"id": "silver", "min_purchases": 200000, "accrual_percent": 5}]
TEN_OFF = {"id": "vip-10", "name": "10% for big spenders", "type": "receipt_discount", "priority": 10,
           "when": {"segments": ["big-spenders"]}, "thresholds": [{"min_amount": 0, "percent": 10}]}


def noon(today: date, days_ago: int) -> str:
    return f"{(today - timedelta(days=days_ago)).isoformat()}T12:00:00+03:00"


def put(client: httpx.Client, segment_id: str, condition: dict[str, Any], status: int = 201) -> dict[str, Any]:
    answer = client.put(f"/v1/segments/{segment_id}", json={"name": segment_id, "filter": condition})
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def members(client: httpx.Client, segment_id: str) -> list[dict[str, str]]:
    answer = client.get(f"/v1/segments/{segment_id}/members")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


@pytest.fixture(scope="module")
def shop(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=LEVELS, max_receipt_age_days=365),
                               BONUS_ENGINE_REPORT_TIME_ZONE="Europe/Moscow", BONUS_ENGINE_REPORT_INTERVAL_S="0")


@pytest.fixture(scope="module")
def people(shop: Service) -> dict[str, Any]:
    """A: female, born in December, 2 children, a cat, newsletter; coffee 200,000 in s1 10 days ago and tea
    50,000 in s2 100 days ago: ltv 250,000 (silver), 2 receipts, average 125,000, loyal.
    B: male, born in March, no children; beans (coffee/beans, SKU-9) 30,000 in s1 70 days ago: pre_churn.
    C: registered, no purchase: ltv 0, CVM none.
    D: gender unspecified; three teas of 10,000 in s2 130 days ago: churn; registered 400 days ago."""
    client = shop.client()
    today = datetime.now(MOSCOW).date()
    a, b, c, d = card(), card(), card(), card()
    register(client, a, birth_date="1990-12-05",
             profile={"gender": "female", "attributes": {"children": 2, "pets": "cat", "newsletter": True}})
    register(client, b, birth_date="1985-03-01", profile={"gender": "male", "attributes": {"children": 0}})
    register(client, c)
    register(client, d, profile={"gender": "unspecified"})
    confirm(client, receipt([line("1", 50000, category="tea")], a, store_id="s2", issued_at=noon(today, 100)))
    confirm(client, receipt([line("1", 200000, category="coffee")], a, store_id="s1", issued_at=noon(today, 10)))
    confirm(client, receipt([line("1", 30000, sku="SKU-9", category="coffee/beans")], b, store_id="s1",
                            issued_at=noon(today, 70)))
    for _ in range(3):
        confirm(client, receipt([line("1", 10000, category="tea")], d, store_id="s2", issued_at=noon(today, 130)))
    sql(shop.database_url, "UPDATE accounts SET created_at = now() - interval '400 days' WHERE card = $1", d)
    return {"client": client, "cards": {"A": a, "B": b, "C": c, "D": d}, "today": today}


def who(people: dict[str, Any], segment_id: str, condition: dict[str, Any]) -> str:
    """The letters of the four customers in a segment of this filter, from its members CSV."""
    client, cards = people["client"], people["cards"]
    put(client, segment_id, condition, status=201)
    found = {row["card"] for row in members(client, segment_id)}
    assert client.delete(f"/v1/segments/{segment_id}").status_code == 204
    return "".join(letter for letter, number in sorted(cards.items()) if number in found)


CONDITIONS = [
    ("ltv-high", {"all": [{"ltv": {"gte": 100000}}]}, "A"),
    ("ltv-low", {"all": [{"ltv": {"lt": 30000}}]}, "C"),  # no purchase: 0
    ("ltv-band", {"all": [{"ltv": {"gt": 0, "lte": 30000}}]}, "BD"),
    ("receipts", {"all": [{"receipts": {"gte": 2}}]}, "AD"),
    ("average-check", {"all": [{"average_check": {"gte": 10000, "lte": 30000}}]}, "BD"),  # C has none
    ("days-since-last", {"all": [{"days_since_last": {"gt": 60}}]}, "BD"),
    ("days-recent", {"all": [{"days_since_last": {"lte": 10}}]}, "A"),
    # three buyers: recency bounds [D, B, B, A] so r is A 4, B 2, D 1; frequency [1, 2, 2, 3]: A 2, B 1, D 4;
    # monetary [30,000 x 3, 250,000]: A 4, B 1, D 1
    ("rfm-r", {"all": [{"rfm": {"r": {"gte": 4}}}]}, "A"),
    ("rfm-f", {"all": [{"rfm": {"f": {"gte": 3}}}]}, "D"),
    ("rfm-fm", {"all": [{"rfm": {"f": {"lte": 1}, "m": {"lte": 1}}}]}, "B"),
    ("cvm-pre-churn", {"all": [{"segment": {"in": ["pre_churn"]}}]}, "B"),
    ("cvm-churn-none", {"all": [{"segment": {"in": ["churn", "none"]}}]}, "CD"),
    ("cvm-loyal", {"all": [{"segment": {"in": ["loyal"]}}]}, "A"),
    ("tier-silver", {"all": [{"tier": {"in": ["silver"]}}]}, "A"),
    ("tier-base", {"all": [{"tier": {"in": ["base"]}}]}, "BCD"),
    ("bought-coffee-30", {"all": [{"bought": {"categories": ["coffee"], "within_days": 30}}]}, "A"),
    ("bought-coffee", {"all": [{"bought": {"categories": ["coffee"]}}]}, "AB"),  # coffee/beans is below coffee
    ("bought-sku", {"all": [{"bought": {"skus": ["SKU-9"]}}]}, "B"),
    ("bought-tea-year", {"all": [{"bought": {"categories": ["tea"], "within_days": 365}}]}, "AD"),
    ("gender-female", {"all": [{"gender": {"in": ["female"]}}]}, "A"),
    ("gender-others", {"all": [{"gender": {"in": ["male", "unspecified"]}}]}, "BD"),
    ("birth-december", {"all": [{"birth_month": {"in": [12]}}]}, "A"),
    ("birth-spring", {"all": [{"birth_month": {"in": [3, 12]}}]}, "AB"),
    ("children", {"all": [{"attributes": {"children": {"gte": 1}}}]}, "A"),
    ("no-children", {"all": [{"attributes": {"children": 0}}]}, "B"),
    ("pets", {"all": [{"attributes": {"pets": {"in": ["cat", "dog"]}}}]}, "A"),
    ("newsletter", {"all": [{"attributes": {"newsletter": True}}]}, "A"),
    ("typed", {"all": [{"attributes": {"children": True}}]}, ""),  # true is not the integer 1 or 2
    ("registered", {"all": [{"registered_within_days": 30}]}, "ABC"),
    ("store-s2", {"all": [{"store": {"in": ["s2"]}}]}, "AD"),
    ("store-s1-month", {"all": [{"store": {"in": ["s1"], "within_days": 30}}]}, "A"),
    # combined
    ("drifting", {"all": [{"ltv": {"gte": 20000}}, {"any": [{"segment": {"in": ["pre_churn", "churn"]}},
                                                             {"bought": {"categories": ["coffee"],
                                                                         "within_days": 30}}]}]}, "ABD"),
    ("mixed", {"all": [{"gender": {"in": ["female", "male"]}},
                       {"any": [{"birth_month": {"in": [3]}}, {"attributes": {"pets": "cat"}}]}]}, "AB"),
    ("either", {"any": [{"ltv": {"gte": 200000}}, {"days_since_last": {"gt": 100}}]}, "AD"),
    ("nested", {"any": [{"all": [{"receipts": {"gte": 2}}, {"store": {"in": ["s1"]}}]},
                        {"all": [{"registered_within_days": 30}, {"receipts": {"lte": 0}}]}]}, "AC"),
    ("nobody", {"all": [{"tier": {"in": ["silver"]}}, {"gender": {"in": ["male"]}}]}, ""),
]


@pytest.mark.parametrize(("segment_id", "condition", "expected"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_each_condition_alone_and_combined(people: dict[str, Any], segment_id: str, condition: dict[str, Any],
                                           expected: str) -> None:
    assert who(people, segment_id, condition) == expected


def test_a_segment_document_its_members_and_the_card(people: dict[str, Any]) -> None:
    client, cards = people["client"], people["cards"]
    yaml = ("id: coffee-people\nname: \"Coffee people\"\nfilter:\n  any:\n"
            "    - bought: {categories: [coffee]}\n")
    answer = client.put("/v1/segments/coffee-people", content=yaml, headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert got["members"] == 2 and got["name"] == "Coffee people" and got["refreshed_at"] is not None
    assert got["filter"] == {"any": [{"bought": {"categories": ["coffee"]}}]}
    assert client.get("/v1/segments/coffee-people").json() == got
    assert "coffee-people" in [row["id"] for row in client.get("/v1/segments").json()["segments"]]
    rows = {row["card"]: row for row in members(client, "coffee-people")}
    # ltv and receipts as the card has them; last purchase in RFC 3339
    assert sorted((row["card"], row["ltv"], row["receipts"]) for row in rows.values()) == sorted([
        (cards["A"], "250000", "2"), (cards["B"], "30000", "1")])
    assert datetime.fromisoformat(rows[cards["B"]]["last_purchase"]) == datetime.fromisoformat(
        noon(people["today"], 70))
    card_a = client.get(f"/v1/accounts/{cards['A']}/insights").json()
    assert card_a["segments"] == ["coffee-people"] and card_a["ltv"] == 250000
    assert client.get(f"/v1/accounts/{cards['C']}/insights").json()["segments"] == []
    # the same document again: 200, same members
    again = client.put("/v1/segments/coffee-people", content=yaml, headers={"Content-Type": "application/yaml"})
    assert again.status_code == 200 and again.json()["members"] == 2
    assert client.delete("/v1/segments/coffee-people").status_code == 204
    assert client.get(f"/v1/accounts/{cards['A']}/insights").json()["segments"] == []  # deleted: not listed
    assert_problem(client.get("/v1/segments/coffee-people"), 404, "custom_segment_not_found")


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"ltv": {"gte": 1}}
    for _ in range(levels):
        node = {"all": [node]}
    return node


BAD = [
    ({"name": "x", "filter": {"all": [{"ltv": {}}]}}, "filter.all[0].ltv"),
    ({"name": "x", "filter": {"all": [{"ltv": {"gte": -1}}]}}, "filter.all[0].ltv.gte"),
    ({"name": "x", "filter": {"all": [{"ltv": {"gte": 1.5}}]}}, "filter.all[0].ltv.gte"),
    ({"name": "x", "filter": {"all": [{"ltv": {"gte": 1}, "receipts": {"gte": 1}}]}}, "filter.all[0]"),
    ({"name": "x", "filter": {"all": [{"height": {"gte": 1}}]}}, "filter.all[0]"),
    ({"name": "x", "filter": {"none": []}}, "filter"),
    ({"name": "x", "filter": {"all": []}}, "filter.all"),
    ({"name": "x", "filter": {"any": [{"rfm": {"r": {"gte": 6}}}]}}, "filter.any[0].rfm.r.gte"),
    ({"name": "x", "filter": {"all": [{"rfm": {}}]}}, "filter.all[0].rfm"),
    ({"name": "x", "filter": {"all": [{"segment": {"in": ["vip"]}}]}}, "filter.all[0].segment.in[0]"),
    ({"name": "x", "filter": {"all": [{"bought": {"categories": ["a"], "skus": ["b"]}}]}}, "filter.all[0].bought"),
    ({"name": "x", "filter": {"all": [{"bought": {"skus": ["b"], "within_days": 0}}]}},
     "filter.all[0].bought.within_days"),
    ({"name": "x", "filter": {"all": [{"gender": {"in": ["other"]}}]}}, "filter.all[0].gender.in[0]"),
    ({"name": "x", "filter": {"all": [{"birth_month": {"in": [13]}}]}}, "filter.all[0].birth_month.in[0]"),
    ({"name": "x", "filter": {"all": [{"attributes": {"Bad": 1}}]}}, "filter.all[0].attributes.Bad.[key]"),
    ({"name": "x", "filter": {"all": [{"attributes": {"pets": {"in": []}}}]}}, "filter.all[0].attributes.pets.in"),
    ({"name": "x", "filter": {"all": [{"registered_within_days": "30"}]}}, "filter.all[0].registered_within_days"),
    ({"name": "x", "filter": {"all": [{"store": {"in": ["s 1"]}}]}}, "filter.all[0].store.in[0]"),
    ({"name": "", "filter": {"all": [{"ltv": {"gte": 1}}]}}, "name"),
    ({"name": "x", "filter": {"all": [{"ltv": {"gte": 1}}]}, "extra": 1}, "extra"),
    ({"name": "x"}, "filter"),
    ({"name": "x", "filter": {"all": [{"ltv": {"gte": 1}}] * 101}}, "filter.all"),
    ({"name": "x", "filter": nested(9)}, "filter" + ".all[0]" * 8),  # nine levels: the ninth is one too many
]


@pytest.mark.parametrize(("body", "path"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_documents_are_refused_with_the_path(people: dict[str, Any], body: dict[str, Any], path: str) -> None:
    client = people["client"]
    problem = assert_problem(client.put("/v1/segments/bad-one", json=body), 422, "invalid_segment")
    assert path in [error["path"] for error in problem["errors"]], problem["errors"]
    assert_problem(client.get("/v1/segments/bad-one"), 404, "custom_segment_not_found")  # no change


def test_limits_at_their_edge(people: dict[str, Any]) -> None:
    """Eight levels of all/any and 100 conditions are taken; one more of either is refused above."""
    client = people["client"]
    assert client.put("/v1/segments/deep", json={"name": "x", "filter": nested(8)}).status_code == 201
    wide = {"all": [{"ltv": {"gte": n}} for n in range(100)]}
    assert client.put("/v1/segments/wide", json={"name": "x", "filter": wide}).status_code == 201
    for segment_id in ("deep", "wide"):
        assert client.delete(f"/v1/segments/{segment_id}").status_code == 204


def test_other_bad_requests_change_nothing(shop: Service, people: dict[str, Any]) -> None:
    client = people["client"]
    put(client, "kept", {"all": [{"ltv": {"gte": 1}}]})
    before = client.get("/v1/segments/kept").json()
    good = {"name": "x", "filter": {"all": [{"ltv": {"gte": 5}}]}}
    problem = assert_problem(client.put("/v1/segments/kept", json={**good, "id": "other"}), 422,
                             "segment_id_mismatch")
    assert problem["errors"][0]["path"] == "id"
    assert_problem(client.put("/v1/segments/churn", json=good), 422, "invalid_segment")  # a CVM name
    assert_problem(client.put("/v1/segments/Bad_Id", json=good), 422, "validation_error")
    assert_problem(client.put("/v1/segments/kept", content=b"{", headers={"Content-Type": "application/json"}),
                   422, "invalid_segment")
    assert_problem(client.put("/v1/segments/kept", content=b"- a\n- b\n", headers={"Content-Type": "text/yaml"}),
                   422, "invalid_segment")
    assert_problem(client.put("/v1/segments/kept", json=good, headers={"Content-Type": "text/plain"}), 415,
                   "unsupported_media_type")
    nul = {"name": "x", "filter": {"all": [{"bought": {"skus": ["a\u0000"]}}]}}
    assert_problem(client.put("/v1/segments/kept", json=nul), 422, "invalid_segment")
    pos = shop.client(shop.key("pos"))
    assert_problem(pos.put("/v1/segments/kept", json=good), 403, "forbidden")
    assert_problem(pos.get("/v1/segments/kept"), 403, "forbidden")
    assert_problem(pos.get("/v1/segments/kept/members"), 403, "forbidden")
    assert_problem(pos.delete("/v1/segments/kept"), 403, "forbidden")
    assert_problem(shop.client(None).get("/v1/segments"), 401, "unauthorized")
    assert_problem(client.get("/v1/segments/missing/members"), 404, "custom_segment_not_found")
    assert_problem(client.delete("/v1/segments/missing"), 404, "custom_segment_not_found")
    assert client.get("/v1/segments/kept").json() == before
    assert client.delete("/v1/segments/kept").status_code == 204


@pytest.fixture(scope="module")
def steered(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=LEVELS), BONUS_ENGINE_REPORT_INTERVAL_S="0")


def test_a_custom_segment_steers_a_campaign_through_confirm(steered: Service) -> None:
    client = steered.client()
    big, small = card(), card()
    confirm(client, receipt([line("1", 150000)], big))
    confirm(client, receipt([line("1", 20000)], small))
    # a campaign may not name a segment that does not exist, in the program or one campaign at a time
    document = program(levels=LEVELS, campaigns=[TEN_OFF])
    problem = assert_problem(client.put("/v1/program", content=document,
                                        headers={"Content-Type": "application/yaml"}), 422, "invalid_program")
    assert problem["errors"][0]["path"] == "campaigns[0].when.segments[0]"
    problem = assert_problem(client.put("/v1/campaigns/vip-10", json=TEN_OFF), 422, "invalid_campaign")
    assert problem["errors"][0]["path"] == "when.segments[0]"
    assert client.get("/v1/program").headers["program-version"] == "1"
    put(client, "big-spenders", {"all": [{"ltv": {"gte": 100000}}]})
    answer = client.put("/v1/campaigns/vip-10", json=TEN_OFF)
    assert answer.status_code == 201, answer.text
    # big (150,000 bought) is in: 10 % off 10,000 is 1,000; small is not
    assert confirm(client, receipt([line("1", 10000)], big))["totals"]["discount"] == 1000
    assert confirm(client, receipt([line("1", 10000)], small))["totals"]["discount"] == 0
    # small buys 90,000 more (100,000 in all) but stays out until the next refresh ...
    confirm(client, receipt([line("1", 90000)], small))
    assert confirm(client, receipt([line("1", 10000)], small))["totals"]["discount"] == 0
    done = steered.cli("segments", "refresh")
    # incremental: the two accounts with receipts since the PUT's refresh are evaluated again
    assert done.returncode == 0 and done.stdout.startswith(
        "1 custom segments refreshed, 2 accounts evaluated, 1 accounts changed"), done.stdout + done.stderr
    # ... and is in after it
    assert confirm(client, receipt([line("1", 10000)], small))["totals"]["discount"] == 1000
    assert client.get(f"/v1/accounts/{small}/insights").json()["segments"] == ["big-spenders"]
    # a segment a campaign names cannot be deleted; the answer says where it is named
    problem = assert_problem(client.delete("/v1/segments/big-spenders"), 409, "segment_in_use")
    assert problem["errors"] == [{"path": "campaigns[0].when.segments[0]", "message": "names this segment"}]
    assert client.get("/v1/segments/big-spenders").status_code == 200
    assert client.delete("/v1/campaigns/vip-10").status_code == 204
    assert client.delete("/v1/segments/big-spenders").status_code == 204
    assert steered.audit().returncode == 0


def test_the_background_refresh_keeps_membership_within_its_age(make_module_service: Callable[..., Service]) -> None:
    """With segment_refresh_s 1 and the roll-up every 0.2 s, membership may be 1 + 2 x 0.2 s plus a refresh's
    run old: a new member shows within a few seconds, and refreshed_at stays that young."""
    shop = make_module_service(program(levels=LEVELS), BONUS_ENGINE_REPORT_INTERVAL_S="0.2",
                               BONUS_ENGINE_SEGMENT_REFRESH_S="1")
    client, number = shop.client(), card()
    put(client, "buyers", {"all": [{"receipts": {"gte": 1}}]})
    assert client.get("/v1/segments/buyers").json()["members"] == 0
    confirm(client, receipt([line("1", 1000)], number))
    started = time.monotonic()
    while not members(client, "buyers"):
        assert time.monotonic() - started < 15, "the background refresh did not find the new member"
        time.sleep(0.2)
    assert client.get(f"/v1/accounts/{number}/insights").json()["segments"] == ["buyers"]
    for _ in range(3):  # refreshed again and again, never older than its age allows
        time.sleep(1)
        refreshed = datetime.fromisoformat(client.get("/v1/segments/buyers").json()["refreshed_at"])
        age = datetime.now(refreshed.tzinfo) - refreshed
        assert age < timedelta(seconds=1 + 2 * 0.2 + 3), age
