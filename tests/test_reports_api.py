"""Reports over HTTP on small fixed data sets, every figure worked out by hand in the comments."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.conftest import Servers
from tests.load import sql
from tests.programs import program
from tests.support import Service, assert_problem, card, confirm, line, receipt

MOSCOW = ZoneInfo("Europe/Moscow")
BASE_ONLY = [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]
BIG_CHECK = {"id": "big-check", "name": "10% from 10,000", "type": "receipt_discount", "priority": 10,
             "thresholds": [{"min_amount": 1000000, "percent": 10}]}


def at(day: date, clock: str, offset: str = "+03:00") -> str:
    return f"{day.isoformat()}T{clock}{offset}"


def refund(client: httpx.Client, receipt_id: str, line_id: str, quantity: str = "1") -> None:
    answer = client.post(f"/v1/receipts/{receipt_id}/refunds",
                         json={"refund_id": f"back-{line_id}", "lines": [{"line_id": line_id, "quantity": quantity}]})
    assert answer.status_code == 201, answer.text


def cancel(client: httpx.Client, receipt_id: str) -> None:
    answer = client.post(f"/v1/receipts/{receipt_id}/cancel")
    assert answer.status_code == 200, answer.text


def report(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    answer = client.get(f"/v1/reports/{path}", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def shop(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=BASE_ONLY, campaigns=[BIG_CHECK]),
                        BONUS_ENGINE_REPORT_TIME_ZONE="Europe/Moscow", BONUS_ENGINE_REPORT_INTERVAL_S="0")


@pytest.fixture(scope="module")
def week(shop: Service) -> dict[str, Any]:
    """Six receipts over three Moscow days, a partial refund and a cancel; base tier 3 %, no pending days."""
    client = shop.client()
    today = datetime.now(MOSCOW).date()
    a, b = today - timedelta(days=3), today - timedelta(days=2)
    c1, c2 = card(), card()
    r4 = receipt([line("1", 1000000), line("2", 400000), line("3", 100000)], c2, store_id="s1",
                 issued_at=at(b, "12:00:00"))
    r5 = receipt([line("1", 50000)], c2, store_id="s1", issued_at=at(b, "23:30:00", "+00:00"))  # Moscow: b + 1
    bodies = [
        receipt([line("1", 100000)], c1, store_id="s1", issued_at=at(a, "12:00:00")),  # 3,000 points
        receipt([line("1", 2000000)], c1, store_id="s2", issued_at=at(b, "12:00:00")),  # 10 %: 200000 off
        receipt([line("1", 50000), line("2", 30000)], store_id="s1", issued_at=at(a, "13:00:00")),  # cardless
        r4, r5,
        # 10 % off 1,000,000 = 900,000, 20,000 paid in points: 3 % of 880,000 = 26,400 points
        receipt([line("1", 1000000)], c1, store_id="s2", issued_at=at(b, "15:00:00"), redeem_points=20000),
    ]
    results = [confirm(client, body) for body in bodies]
    assert [r["totals"]["points_accrued"] for r in results] == [3000, 54000, 0, 40500, 1500, 26400]
    assert results[5]["totals"]["points_redeemed"] == 20000
    first = report(client, "program", **{"from": a.isoformat()})  # rolls these up before the refunds
    assert first["receipts"]["total"] == 6
    refund(client, r4["receipt_id"], "3")  # 100,000 less its 10,000 discount share; 2,700 points back
    cancel(client, r5["receipt_id"])
    return {"client": client, "today": today, "a": a, "b": b, "c1": c1, "c2": c2}


def test_program_report_counts_standing_receipts_by_the_chains_days(week: dict[str, Any]) -> None:
    client, a, today = week["client"], week["a"], week["today"]
    got = report(client, "program", **{"from": a.isoformat(), "to": today.isoformat()})
    assert got["period"] == {"from": a.isoformat(), "to": today.isoformat(), "time_zone": "Europe/Moscow",
                             "store": None}
    # the cancelled receipt no longer counts: 5 stand, 4 of them with a card
    assert got["receipts"] == {"total": 5, "with_card": 4, "without_card": 1, "identified_share": 0.8,
                               "items_per_receipt": 1.6}  # 1 + 1 + 2 + 3 + 1 lines
    # 100,000 + 1,800,000 + 80,000 + (1,350,000 - 90,000 refunded) + 900,000
    assert got["revenue"] == {"total": 4140000, "with_card": 4060000, "without_card": 80000}
    assert got["average_check"] == {"all": 828000, "with_card": 1015000, "without_card": 80000}
    # both cards were enrolled today by their first receipt, and both still have a standing receipt
    assert got["members"] == {"total": 2, "active": 2, "active_share": 1.0, "new": 2}
    # accrued 3,000 + 54,000 + 40,500 + 1,500 + 26,400; reversed 2,700 (refund) + 1,500 (cancel)
    assert got["points"] == {"accrued": 125400, "bonus": 0, "redeemed": 20000, "returned": 0, "reversed": 4200,
                             "expired": 0, "adjusted": 0}
    assert got["liability"] == {"outstanding": 125400 - 20000 - 4200, "expiring_30_days": 0,
                                "expiring_90_days": 0}
    days = {d["day"]: d for d in got["days"]}
    assert len(days) == 4
    assert days[a.isoformat()]["receipts"] == 2 and days[a.isoformat()]["revenue"] == 180000
    assert days[(a + timedelta(days=2)).isoformat()]["receipts"] == 0  # the 23:30 UTC receipt was cancelled
    assert days[today.isoformat()]["points_accrued"] == 125400  # points are written when confirmed: today
    assert days[today.isoformat()]["points_redeemed"] == 20000


def test_store_filter_keeps_that_stores_receipts_and_points(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = report(client, "program", **{"from": a.isoformat(), "store": "s1"})
    assert got["receipts"]["total"] == 3 and got["receipts"]["with_card"] == 2
    assert got["revenue"]["total"] == 100000 + 80000 + 1260000
    assert got["members"]["active"] == 2
    assert got["points"]["accrued"] == 3000 + 40500 + 1500 and got["points"]["reversed"] == 4200
    assert got["points"]["redeemed"] == 0
    empty = report(client, "program", **{"from": a.isoformat(), "store": "nowhere"})
    assert empty["receipts"]["total"] == 0 and empty["average_check"]["all"] is None
    assert empty["receipts"]["identified_share"] is None


def test_a_period_before_the_receipts_is_empty_but_liability_is_now(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = report(client, "program", **{"from": (a - timedelta(days=9)).isoformat(),
                                       "to": (a - timedelta(days=1)).isoformat()})
    assert got["receipts"]["total"] == 0 and got["members"] == {"total": 0, "active": 0, "active_share": None,
                                                               "new": 0}
    assert got["liability"]["outstanding"] == 101200
    assert len(got["days"]) == 9 and not any(d["receipts"] for d in got["days"])


def test_campaigns_report_compares_touched_with_untouched_receipts(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = report(client, "campaigns", **{"from": a.isoformat()})
    assert got["receipts"] == {"total": 5, "revenue": 4140000, "average_check": 828000}
    [big] = got["campaigns"]
    # 200,000 + 150,000 + 100,000 off; revenue 1,800,000 + 1,260,000 + 900,000 on three receipts
    assert big == {"id": "big-check", "name": "10% from 10,000", "type": "receipt_discount", "receipts": 3,
                   "discount": 450000, "points": 0, "coupon_uses": 0, "revenue": 3960000,
                   "average_check": 1320000,
                   "untouched": {"receipts": 2, "revenue": 180000, "average_check": 90000}}


def test_a_program_without_receipts_in_the_period_still_lists_its_campaigns(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = report(client, "campaigns", **{"to": (a - timedelta(days=1)).isoformat()})
    assert got["campaigns"][0]["receipts"] == 0 and got["campaigns"][0]["average_check"] is None


def test_program_kpis_of_two_new_buyers(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = report(client, "program", **{"from": a.isoformat()})["kpis"]
    # both cards first bought in the period, nobody passed into churn (the default churn_days is far away)
    assert {k: got[k] for k in ("churned", "new_buyers", "stable", "churn_to_new", "churn_to_stable")} == {
        "churned": 0, "new_buyers": 2, "stable": 0, "churn_to_new": 0.0, "churn_to_stable": None}
    # card revenue 4,060,000 over 2 active members; points 125,400 accrued less 4,200 reversed
    assert got["revenue_per_member"] == 2030000
    assert got["points_cost"] == 121200 and got["points_cost_per_member"] == 60600
    assert got["segments"][0] == {"segment": "newcomer", "receipts": 4, "revenue": 4060000, "receipts_share": 1.0,
                                  "revenue_share": 1.0}
    assert [s["receipts"] for s in got["segments"][1:]] == [0, 0, 0] and len(got["segments"]) == 4
    s2 = report(client, "program", **{"from": a.isoformat(), "store": "s2"})["kpis"]
    # at s2: c1's two receipts (1,800,000 + 900,000) over one member; member flows and segments stay the chain's
    assert s2["revenue_per_member"] == 2700000 and s2["new_buyers"] == 2
    assert s2["points_cost"] == 54000 + 26400 and s2["segments"] == got["segments"]


def test_stores_report_by_store_and_day(week: dict[str, Any]) -> None:
    client, a, b, today = week["client"], week["a"], week["b"], week["today"]
    got = report(client, "stores", **{"from": a.isoformat()})
    assert got["period"]["from"] == a.isoformat() and len(got["stores"]) == 2
    s2, s1 = got["stores"]  # by revenue: s2 2,700,000, s1 1,440,000
    # s2: c1's 1,800,000 and 900,000 on day b; one member, 2 receipts over 4 days: 2 × 30 / 4 = 15
    assert {k: v for k, v in s2.items() if k != "days"} == {
        "store": "s2", "receipts": 2, "with_card": 2, "identified_share": 1.0, "revenue": 2700000,
        "average_check": 1350000, "registrations": 0, "members": 1, "purchase_frequency": 15.0}
    # s1: 100,000 (c1) and 80,000 (cardless) on day a, 1,260,000 (c2, after its refund) on day b; c1 and c2
    # both first bought at s1 (c1 on day a; c2's cancelled receipt does not count) and opened today
    assert {k: v for k, v in s1.items() if k != "days"} == {
        "store": "s1", "receipts": 3, "with_card": 2, "identified_share": 0.6667, "revenue": 1440000,
        "average_check": 480000, "registrations": 2, "members": 2, "purchase_frequency": 7.5}
    assert s1["days"] == [
        {"day": a.isoformat(), "receipts": 2, "with_card": 1, "identified_share": 0.5, "revenue": 180000,
         "average_check": 90000, "registrations": 0},
        {"day": b.isoformat(), "receipts": 1, "with_card": 1, "identified_share": 1.0, "revenue": 1260000,
         "average_check": 1260000, "registrations": 0},
        {"day": today.isoformat(), "receipts": 0, "with_card": 0, "identified_share": None, "revenue": 0,
         "average_check": None, "registrations": 2},
    ]
    # 4 receipts with a card, 2 members, 4 days: 4 × 30 / (2 × 4) = 15
    assert got["total"] == {"receipts": 5, "with_card": 4, "identified_share": 0.8, "revenue": 4140000,
                            "average_check": 828000, "registrations": 2, "registrations_without_purchase": 0,
                            "members": 2, "purchase_frequency": 15.0}
    only = report(client, "stores", **{"from": a.isoformat(), "store": "s2"})
    assert [s["store"] for s in only["stores"]] == ["s2"] and only["total"]["registrations"] == 0


def test_customers_ranked_paged_and_inactive(week: dict[str, Any]) -> None:
    client, a, c1, c2 = week["client"], week["a"], week["c1"], week["c2"]
    by_amount = report(client, "customers", order="amount", **{"from": a.isoformat()})
    assert by_amount["order"] == "amount" and by_amount["next_cursor"] is None
    first, second = by_amount["customers"]
    # c1: 100,000 + 1,800,000 + 900,000 on three one-line receipts; c2: 1,260,000 on one of three lines
    assert {k: first[k] for k in ("card", "receipts", "amount", "items_per_receipt", "ltv", "lifetime_receipts")} \
        == {"card": c1, "receipts": 3, "amount": 2800000, "items_per_receipt": 1.0, "ltv": 2800000,
            "lifetime_receipts": 3}
    assert {k: second[k] for k in ("card", "receipts", "amount", "items_per_receipt", "ltv")} == {
        "card": c2, "receipts": 1, "amount": 1260000, "items_per_receipt": 3.0, "ltv": 1260000}
    by_ltv = report(client, "customers", **{"from": a.isoformat()})  # the default order
    assert by_ltv["order"] == "ltv" and by_ltv["customers"] == by_amount["customers"]
    by_items = report(client, "customers", order="items", limit="1", **{"from": a.isoformat()})
    assert [c["card"] for c in by_items["customers"]] == [c2] and by_items["next_cursor"]
    rest = report(client, "customers", order="items", limit="1", cursor=by_items["next_cursor"],
                  **{"from": a.isoformat()})
    assert [c["card"] for c in rest["customers"]] == [c1] and rest["next_cursor"] is None
    at_s2 = report(client, "customers", order="receipts", store="s2", **{"from": a.isoformat()})
    assert [(c["card"], c["receipts"], c["amount"]) for c in at_s2["customers"]] == [(c1, 2, 2700000)]
    # both last bought on day b, two days before today: quiet for 2 days up to today, not for 3
    quiet = report(client, "customers", inactive_days="2")
    assert {c["card"] for c in quiet["customers"]} == {c1, c2}
    assert quiet["inactive_before"].startswith((week["today"] - timedelta(days=1)).isoformat())
    assert report(client, "customers", inactive_days="3")["customers"] == []
    as_csv = client.get("/v1/reports/customers", params={"from": a.isoformat(), "order": "amount", "limit": "1"},
                        headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["card"], r["amount"], r["items_per_receipt"]) for r in rows] == [(c1, "2800000", "1.0"),
                                                                                (c2, "1260000", "3.0")]


SEGMENTED = {"newcomer_days": 5, "pre_churn_days": 10, "churn_days": 20}


def test_segments_follow_first_and_last_standing_purchase(make_module_service: Callable[..., Service]) -> None:
    service = make_module_service(program(levels=BASE_ONLY, max_receipt_age_days=60).replace(
        "campaigns: []", "campaigns: []\nsegments: {newcomer_days: 5, pre_churn_days: 10, churn_days: 20}"),
        BONUS_ENGINE_REPORT_INTERVAL_S="0")
    client = service.client()
    now = datetime.now(UTC)

    def bought(number: str, days_ago: float, amount: int = 100000) -> dict[str, Any]:
        issued = (now - timedelta(days=days_ago)).replace(microsecond=0).isoformat()
        return confirm(client, receipt([line("1", amount)], number, issued_at=issued))

    cards = {name: card() for name in ("new", "loyal", "pre", "churn", "none", "undone", "moved")}
    bought(cards["new"], 1)
    bought(cards["loyal"], 8)
    bought(cards["loyal"], 1, 300000)
    bought(cards["pre"], 12)
    bought(cards["churn"], 25)
    assert client.post("/v1/accounts", json={"card": cards["none"]}).status_code == 201
    undone = bought(cards["undone"], 1)
    bought(cards["moved"], 25)
    moved = bought(cards["moved"], 1)
    before = report(client, "segments")
    assert {s["segment"]: s["members"] for s in before["cvm"]} == {
        "newcomer": 2, "loyal": 2, "pre_churn": 1, "churn": 1, "none": 1}
    cancel(client, undone["receipt_id"])  # no standing purchase left: none
    refund(client, moved["receipt_id"], "1")  # the last purchase moves back 24 days: churn
    got = report(client, "segments")
    assert got["settings"] == SEGMENTED and got["members"] == 7
    assert got["cvm"] == [
        {"segment": "newcomer", "members": 1, "revenue": 100000},
        {"segment": "loyal", "members": 1, "revenue": 400000},
        {"segment": "pre_churn", "members": 1, "revenue": 100000},
        {"segment": "churn", "members": 2, "revenue": 200000},
        {"segment": "none", "members": 2, "revenue": 0},
    ]
    cells = got["rfm"]["cells"]
    assert sum(c["members"] for c in cells) == 5 and sum(c["revenue"] for c in cells) == 800000
    # frequency: four members bought once, one twice: every boundary is 1, so once scores 1, twice 5
    assert got["rfm"]["boundaries"]["frequency"] == [1, 1, 1, 1]
    assert {c["f"] for c in cells} == {1, 5}
    members = client.get("/v1/reports/segments/churn/members")
    assert members.status_code == 200 and members.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(members.text)))
    assert sorted(row["card"] for row in rows) == sorted([cards["churn"], cards["moved"]])
    assert {row["receipts"] for row in rows} == {"1"} and {row["segment"] for row in rows} == {"churn"}
    nobody = list(csv.DictReader(io.StringIO(client.get("/v1/reports/segments/none/members").text)))
    assert sorted(row["card"] for row in nobody) == sorted([cards["none"], cards["undone"]])
    # the last 6 days: "churn" and "moved" (last purchase 25 days ago) passed into churn 5 days ago; "new" first
    # bought in them, "loyal" bought in them and before: 2 churned per new buyer, and per stable member
    kpis = report(client, "program", **{"from": (now - timedelta(days=5)).date().isoformat()})["kpis"]
    assert {k: kpis[k] for k in ("churned", "new_buyers", "stable", "churn_to_new", "churn_to_stable")} == {
        "churned": 2, "new_buyers": 1, "stable": 1, "churn_to_new": 2.0, "churn_to_stable": 2.0}
    # all their standing receipts, 6 for 800,000: newcomer 1 (100,000), loyal 2 (400,000), pre_churn 1
    # (100,000), churn 2 (200,000)
    shares = {s["segment"]: (s["receipts"], s["revenue"], s["receipts_share"], s["revenue_share"])
              for s in kpis["segments"]}
    assert shares == {"newcomer": (1, 100000, 0.1667, 0.125), "loyal": (2, 400000, 0.3333, 0.5),
                      "pre_churn": (1, 100000, 0.1667, 0.125), "churn": (2, 200000, 0.3333, 0.25)}
    # inactive for 20 days or more: the two churned, the most valuable first (equal: in the order they joined)
    quiet = report(client, "customers", inactive_days="20")
    assert [c["card"] for c in quiet["customers"]] == [cards["churn"], cards["moved"]]
    assert [(c["receipts"], c["amount"], c["ltv"]) for c in quiet["customers"]] == [(1, 100000, 100000)] * 2
    by_items = report(client, "customers", inactive_days="20", order="items", limit="1")
    assert [(c["card"], c["items_per_receipt"]) for c in by_items["customers"]] == [(cards["churn"], 1.0)]
    assert report(client, "customers", inactive_days="20", order="items", cursor=by_items["next_cursor"])[
        "customers"][0]["card"] == cards["moved"]


@pytest.mark.parametrize(("params", "code", "detail"), [
    ({"from": "2026-13-01"}, "invalid_period", "from must be a date"),
    ({"from": "0.0"}, "validation_error", "query.from"),
    ({"to": "yesterday"}, "validation_error", "query.to"),
    ({"store": "s 1"}, "validation_error", "query.store"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "invalid_period", "is after to"),
    ({"from": "2000-01-01", "to": "2026-11-01"}, "invalid_period", "at most 3660 days"),
])
def test_bad_periods_are_422_with_the_reason(shop: Service, params: dict[str, str], code: str, detail: str) -> None:
    for path in ("program", "campaigns"):
        problem = assert_problem(shop.client().get(f"/v1/reports/{path}", params=params), 422, code)
        assert detail in str(problem), problem


@pytest.mark.parametrize(("params", "code", "path"), [
    ({"order": "name"}, "validation_error", "query.order"),
    ({"limit": "0"}, "validation_error", "query.limit"),
    ({"limit": "501"}, "validation_error", "query.limit"),
    ({"inactive_days": "0"}, "validation_error", "query.inactive_days"),
    ({"inactive_days": "many"}, "validation_error", "query.inactive_days"),
    ({"cursor": "not-a-cursor"}, "invalid_cursor", None),
    ({"cursor": "a2x0djoxOjE"}, "invalid_cursor", None),  # base64 of "kltv:1:1", for another order
    ({"cursor": "x" * 129}, "validation_error", "query.cursor"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "invalid_period", None),
])
def test_bad_customer_queries_are_422_and_roll_nothing_up(shop: Service, params: dict[str, str], code: str,
                                                          path: str | None) -> None:
    client = shop.client()
    before = sql(shop.database_url, "SELECT watermark, rolled_at FROM report_state")
    # something to roll up that no other test's period or figures holds: cardless, 20 days back
    confirm(client, receipt([line("1", 100000)], store_id="s-bad",
                            issued_at=(datetime.now(UTC) - timedelta(days=20)).isoformat()))
    for accept in ("application/json", "text/csv"):
        problem = assert_problem(client.get("/v1/reports/customers", params={"order": "amount", **params},
                                            headers={"Accept": accept}), 422, code)
        if path:
            assert path in [error["path"] for error in problem["errors"]], problem
    assert sql(shop.database_url, "SELECT watermark, rolled_at FROM report_state") == before


@pytest.mark.parametrize("params", [{"from": "2026-13-01"}, {"from": "2026-11-02", "to": "2026-11-01"},
                                    {"store": "s 1"}, {"to": "2026-1-1"}])
def test_bad_store_report_periods_are_422(shop: Service, params: dict[str, str]) -> None:
    answer = shop.client().get("/v1/reports/stores", params=params)
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", answer.text


def test_reports_need_an_admin_key_and_a_known_segment(shop: Service) -> None:
    pos = shop.key("pos")
    for path in ("program", "campaigns", "segments", "segments/churn/members", "stores", "customers"):
        assert_problem(shop.client(pos).get(f"/v1/reports/{path}"), 403, "forbidden")
        assert_problem(shop.client(None).get(f"/v1/reports/{path}"), 401, "unauthorized")
    assert_problem(shop.client().get("/v1/reports/segments/vip/members"), 404, "segment_not_found")


def test_the_cli_prints_the_same_reports(shop: Service, week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    api = report(client, "program", **{"from": a.isoformat()})
    printed = shop.cli("report", "program", "--from", a.isoformat(), "--format", "json", check=True)
    assert {**json.loads(printed.stdout), "as_of": None} == {**api, "as_of": None}
    table = shop.cli("report", "campaigns", "--from", a.isoformat(), check=True).stdout
    assert "# campaigns" in table and "big-check" in table and "450000" in table
    as_csv = shop.cli("report", "program", "--from", a.isoformat(), "--store", "s1", "--format", "csv",
                      check=True).stdout
    rows = list(csv.reader(io.StringIO(as_csv)))
    assert ["program", "receipts.total", "3"] in rows and ["program", "revenue.total", "1440000"] in rows
    segments = shop.cli("report", "segments", check=True).stdout
    assert "# cvm" in segments and "newcomer" in segments
    stores_api = report(client, "stores", **{"from": a.isoformat()})
    stores = shop.cli("report", "stores", "--from", a.isoformat(), "--format", "json", check=True)
    assert {**json.loads(stores.stdout), "as_of": None} == {**stores_api, "as_of": None}
    rows = list(csv.reader(io.StringIO(shop.cli("report", "stores", "--from", a.isoformat(), "--format", "csv",
                                                check=True).stdout)))
    assert ["stores", "s1", "3", "2", "0.6667", "1440000", "480000", "2", "2", "7.5"] in rows
    assert ["total", "registrations", "2"] in rows
    page = shop.cli("report", "customers", "--from", a.isoformat(), "--order", "items", "--limit", "1",
                    "--format", "json", check=True)
    api = report(client, "customers", order="items", limit="1", **{"from": a.isoformat()})
    assert {**json.loads(page.stdout), "as_of": None} == {**api, "as_of": None}
    every = shop.cli("report", "customers", "--from", a.isoformat(), "--order", "amount", "--format", "csv",
                     check=True).stdout.splitlines()
    assert every[0].startswith("card,phone,receipts,amount") and len(every) == 3
    assert every[1].startswith(f"{week['c1']},,3,2800000,1.0,2800000,3,")
    kpis = list(csv.reader(io.StringIO(shop.cli("report", "program", "--from", a.isoformat(), "--format", "csv",
                                                check=True).stdout)))
    assert ["program", "kpis.points_cost", "121200"] in kpis
    assert ["segment_shares", "newcomer", "4", "4060000", "1.0", "1.0"] in kpis
    for wrong in (["--limit", "0"], ["--cursor", "nope"]):
        refused = shop.cli("report", "customers", *wrong)
        assert refused.returncode == 1 and "error:" in refused.stderr, refused.stderr
    bad = shop.cli("report", "program", "--from", "2026-02-30")
    assert bad.returncode == 1 and "from must be a date" in bad.stderr


def test_rebuild_from_the_history_gives_the_same_numbers(shop: Service, week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    before = {path: report(client, path, **{"from": a.isoformat()}) for path in ("program", "campaigns")}
    rebuilt = shop.cli("report", "rebuild", check=True).stdout
    assert "receipts:" in rebuilt and "done in" in rebuilt
    for path, earlier in before.items():
        assert {**report(client, path, **{"from": a.isoformat()}), "as_of": None} == {**earlier, "as_of": None}


def test_a_long_transaction_holds_reports_back_only_in_this_database(shop: Service, servers: Servers) -> None:
    """Transaction ids are shared by every database of the server: a long one elsewhere must not hold this
    database's reports back, while an open one here must (its rows could still commit below newer ones)."""
    client = shop.client()
    today = datetime.now(MOSCOW).date().isoformat()
    other_database = servers.new_database()

    def s9_receipts() -> int:
        return int(report(client, "program", **{"from": today, "store": "s9"})["receipts"]["total"])

    async def open_transaction(url: str) -> asyncpg.Connection:
        conn = await asyncpg.connect(url)
        await conn.execute("BEGIN")
        await conn.fetchval("SELECT pg_current_xact_id()")  # takes a transaction id, as a write would
        return conn

    async def scenario() -> list[int]:
        seen = []
        elsewhere = await open_transaction(other_database)
        confirm(client, receipt([line("1", 100000)], card(), store_id="s9"))
        seen.append(s9_receipts())
        here = await open_transaction(shop.database_url)
        confirm(client, receipt([line("1", 100000)], card(), store_id="s9"))
        seen.append(s9_receipts())
        await here.execute("COMMIT")
        seen.append(s9_receipts())
        await elsewhere.execute("ROLLBACK")
        await asyncio.gather(here.close(), elsewhere.close())
        return seen

    assert asyncio.run(scenario()) == [1, 1, 2]
