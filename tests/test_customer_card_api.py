"""The customer card over HTTP (issue 14, part 2) and the LTV deciles (part 4), every figure worked out by
hand: refunds, a cancel, a cardless receipt, a redemption, an adjustment, a receipt whose Moscow day is not
its UTC day, and lines stored before they kept a category."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.load import sql
from tests.programs import program
from tests.support import Service, assert_problem, card, confirm, line, metric, receipt, register

MOSCOW = ZoneInfo("Europe/Moscow")
COFFEE_10 = {"id": "coffee-10", "name": "10% on coffee from 1,000", "type": "receipt_discount", "priority": 10,
             "items": {"categories": ["coffee"]}, "thresholds": [{"min_amount": 100000, "percent": 10}]}


def at(day: date, clock: str, offset: str = "+03:00") -> str:
    return f"{day.isoformat()}T{clock}{offset}"


@pytest.fixture(scope="module")
def shop(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=[{"id": "base", "min_purchases": 0, "accrual_percent": 3}],
                                       campaigns=[COFFEE_10]),
                               BONUS_ENGINE_REPORT_TIME_ZONE="Europe/Moscow", BONUS_ENGINE_REPORT_INTERVAL_S="0")


def insights(client: httpx.Client, number: str) -> dict[str, Any]:
    answer = client.get(f"/v1/accounts/{number}/insights")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def history(shop: Service) -> dict[str, Any]:
    """Customer C: three standing receipts, one cancelled; customer D: one; and a cardless receipt. Base tier
    3 % on what is paid in money, no pending days; coffee lines from 1,000.00 get 10 % off."""
    client = shop.client()
    today = datetime.now(MOSCOW).date()
    d1, d2 = today - timedelta(days=10), today - timedelta(days=3)
    c, d = card(), card()
    register(client, c, profile={"birth_date": "1990-05-17", "gender": "female", "attributes": {"children": 2}})
    # R1, d1 09:30 Moscow: coffee 200,000 - 20,000 = 180,000 + tea 50,000 = 230,000; 3 % = 6,900 points
    r1 = receipt([line("1", 200000, category="coffee"), line("2", 50000, category="tea")], c,
                 issued_at=at(d1, "09:30:00"))
    # R3, d2 12:00 Moscow: coffee 150,000 - 15,000 = 135,000 + cake 60,000 = 195,000; 5,850 points
    r3 = receipt([line("1", 150000, category="coffee"), line("2", 60000, category="bakery")], c,
                 issued_at=at(d2, "12:00:00"))
    # R4, d2 13:00 Moscow: tea 80,000, 2,400 points; cancelled below
    r4 = receipt([line("1", 80000, category="tea")], c, issued_at=at(d2, "13:00:00"))
    # R2, d2 23:30 UTC = d2 + 1 02:30 Moscow: dairy 30,000 + a line without category 10,000; 2,000 paid in
    # points, so 3 % of 38,000 = 1,140 points
    r2 = receipt([line("1", 30000, category="dairy"), line("2", 10000)], c, issued_at=at(d2, "23:30:00", "+00:00"),
                 redeem_points=2000)
    # cardless coffee: nobody's
    cardless = receipt([line("1", 500000, category="coffee")], issued_at=at(d2, "10:00:00"))
    # D, yesterday 12:00 Moscow: tea 10,000
    rd = receipt([line("1", 10000, category="tea")], d, issued_at=at(today - timedelta(days=1), "12:00:00"))
    results = [confirm(client, body) for body in (r1, r3, r4, r2, cardless, rd)]
    assert [r["totals"]["points_accrued"] for r in results] == [6900, 5850, 2400, 1140, 0, 300]
    assert [r["totals"]["discount"] for r in results] == [20000, 15000, 0, 0, 50000, 0]
    answer = client.post(f"/v1/receipts/{r3['receipt_id']}/refunds",
                         json={"refund_id": "cake", "lines": [{"line_id": "2", "quantity": "1"}]})
    assert answer.status_code == 201, answer.text  # 60,000 back, 1,800 points reversed
    assert client.post(f"/v1/receipts/{r4['receipt_id']}/cancel").status_code == 200  # 2,400 points reversed
    answer = client.post(f"/v1/accounts/{c}/adjustments", json={"points": 500, "reason": "complaint"})
    assert answer.status_code == 201, answer.text
    return {"client": client, "today": today, "d1": d1, "d2": d2, "c": c, "d": d, "r2": r2}


def test_every_field_of_the_card(history: dict[str, Any]) -> None:
    client, d1, d2, c = history["client"], history["d1"], history["d2"], history["c"]
    got = insights(client, c)
    assert got["card"] == c and got["time_zone"] == "Europe/Moscow"
    assert datetime.fromisoformat(got["as_of"]) <= datetime.now(UTC)
    # R1 230,000 + R2 40,000 + R3 195,000 - 60,000 refunded; R4 cancelled, the cardless receipt is nobody's
    assert got["ltv"] == 405000 and got["receipts"] == 3
    assert got["average_check"] == 135000
    assert got["items_per_receipt"] == 2.0  # 2 + 2 + 2 lines: a partial refund keeps the receipt's lines
    assert got["first_purchase"] == datetime.fromisoformat(at(d1, "09:30:00")).astimezone(UTC).isoformat()
    assert got["last_purchase"] == datetime.fromisoformat(at(d2, "23:30:00", "+00:00")).isoformat()
    # the last purchase is on Moscow day d2 + 1 = today - 2; from d1 to today: 11 days, 3 x 30 / 11 = 8.18
    assert got["days_since_last"] == 2
    assert got["frequency_30d"] == 8.18
    # discounted lines: coffee 200,000 + 150,000 of 200,000 + 50,000 + 30,000 + 10,000 + 150,000 + 0 (cake back)
    assert got["promo_share"] == round(350000 / 440000, 4) == 0.7955
    assert got["top_categories"] == [{"category": "coffee", "amount": 315000}, {"category": "tea", "amount": 50000},
                                     {"category": "dairy", "amount": 30000}, {"category": "(none)", "amount": 10000}]
    assert sum(row["amount"] for row in got["top_categories"]) == got["ltv"]
    weekdays = [0] * 7
    for day in (d1, d2, d2 + timedelta(days=1)):
        weekdays[day.isoweekday() - 1] += 1
    assert got["weekdays"] == weekdays
    assert got["hours"] == [1 if hour in (2, 9, 12) else 0 for hour in range(24)]
    # earned 6,900 + 5,850 + 2,400 + 1,140 - 1,800 - 2,400; 2,000 redeemed; 500 adjusted
    assert got["points"] == {"earned": 12090, "redeemed": 2000, "expired": 0, "adjusted": 500, "available": 10590}
    assert client.get(f"/v1/accounts/{c}").json()["points"]["available"] == 10590
    # two buyers, C (3 receipts, 405,000, last d2 23:30 UTC) and D (1, 10,000, yesterday): boundaries
    # [C, C, D, D], [1, 1, 3, 3], [10,000, 10,000, 405,000, 405,000]
    assert {k: v for k, v in got["rfm"].items() if k != "as_of"} == {"r": 1, "f": 3, "m": 3}
    assert got["segment"] == "newcomer" and got["tier"] == "base" and got["segments"] == []
    assert got["profile"]["birth_date"] == "1990-05-17" and got["profile"]["attributes"] == {"children": 2}
    assert metric(client.get("/metrics").text, "bonus_rfm_boundary_refreshes_total", by="card") == 1
    other = insights(client, history["d"])
    assert (other["ltv"], other["receipts"], other["rfm"]["r"], other["rfm"]["f"], other["rfm"]["m"]) == (
        10000, 1, 3, 1, 1)
    assert other["days_since_last"] == 1 and other["frequency_30d"] == 15.0  # 1 x 30 / 2 days
    assert other["promo_share"] == 0.0 and other["points"]["earned"] == 300


def test_the_card_agrees_with_the_reports(history: dict[str, Any]) -> None:
    client, c = history["client"], history["c"]
    segments = client.get("/v1/reports/segments").json()
    assert {"r": 1, "f": 3, "m": 3, "members": 1, "revenue": 405000} in segments["rfm"]["cells"]
    customers = client.get("/v1/reports/customers", params={"order": "ltv"}).json()["customers"]
    assert [(row["card"], row["ltv"]) for row in customers] == [(c, 405000), (history["d"], 10000)]


def test_ltv_deciles_beside_the_rfm_grid(history: dict[str, Any]) -> None:
    got = history["client"].get("/v1/reports/segments").json()
    deciles = got["ltv_deciles"]
    assert [row["decile"] for row in deciles] == list(range(1, 11))
    # two buyers: C alone in the top tenth, D in the second; 405,000 / 415,000 = 0.9759
    assert deciles[0] == {"decile": 1, "members": 1, "revenue": 405000, "revenue_share": 0.9759,
                          "min_ltv": 405000, "max_ltv": 405000}
    assert deciles[1] == {"decile": 2, "members": 1, "revenue": 10000, "revenue_share": 0.0241,
                          "min_ltv": 10000, "max_ltv": 10000}
    assert all(row == {"decile": row["decile"], "members": 0, "revenue": 0, "revenue_share": 0.0, "min_ltv": None,
                       "max_ltv": None} for row in deciles[2:])


def test_a_card_without_purchases(history: dict[str, Any]) -> None:
    client, number = history["client"], card()
    register(client, number)
    got = insights(client, number)
    assert {k: got[k] for k in ("ltv", "receipts", "average_check", "items_per_receipt", "frequency_30d",
                                "first_purchase", "last_purchase", "days_since_last", "promo_share",
                                "top_categories", "rfm", "segment", "segments")} == {
        "ltv": 0, "receipts": 0, "average_check": None, "items_per_receipt": None, "frequency_30d": None,
        "first_purchase": None, "last_purchase": None, "days_since_last": None, "promo_share": None,
        "top_categories": [], "rfm": None, "segment": "none", "segments": []}
    assert got["weekdays"] == [0] * 7 and got["hours"] == [0] * 24
    assert got["points"] == {"earned": 0, "redeemed": 0, "expired": 0, "adjusted": 0, "available": 0}


def test_lines_stored_before_categories_count_as_none(shop: Service, history: dict[str, Any]) -> None:
    client, number = history["client"], card()
    body = receipt([line("1", 20000, category="bakery"), line("2", 5000, category="tea")], number,
                   issued_at=at(history["today"] - timedelta(days=1), "10:00:00"))
    confirm(client, body)
    # as receipts were stored before commit befb2ab: no sku, no category
    sql(shop.database_url, "UPDATE receipts SET lines = (SELECT jsonb_agg(l - 'sku' - 'category')"
                           " FROM jsonb_array_elements(lines) l) WHERE receipt_id = $1", body["receipt_id"])
    got = insights(client, number)
    assert got["top_categories"] == [{"category": "(none)", "amount": 25000}] and got["ltv"] == 25000


def test_certificate_sales_are_no_purchase(history: dict[str, Any]) -> None:
    client, number = history["client"], card()
    [code] = client.post("/v1/gift-certificates", json={"count": 1, "nominal": 100000}).json()["codes"]
    confirm(client, receipt([line("1", 100000, sku="GIFT", category="gifts", gift_certificate=code),
                             line("2", 30000, category="tea")], number,
                            issued_at=at(history["today"], "00:00:01")))
    got = insights(client, number)
    assert got["ltv"] == 30000 and got["receipts"] == 1 and got["items_per_receipt"] == 2.0
    assert got["top_categories"] == [{"category": "tea", "amount": 30000}]


def test_bad_requests_for_a_card(shop: Service, history: dict[str, Any]) -> None:
    client = history["client"]
    assert_problem(client.get(f"/v1/accounts/{card()}/insights"), 404, "account_not_found")
    assert_problem(shop.client(shop.key("pos")).get(f"/v1/accounts/{history['c']}/insights"), 403, "forbidden")
    assert_problem(shop.client(None).get(f"/v1/accounts/{history['c']}/insights"), 401, "unauthorized")
    assert_problem(client.get("/v1/accounts/no*such/insights"), 422, "validation_error")
    assert_problem(client.post(f"/v1/accounts/{history['c']}/insights"), 405, "method_not_allowed")


def test_the_background_roll_up_keeps_the_boundaries_fresh(make_module_service: Callable[..., Service]) -> None:
    """With the roll-up running (every 0.2 s here), the boundaries are computed in the background: the card
    does not pay for them."""
    shop = make_module_service(BONUS_ENGINE_REPORT_INTERVAL_S="0.2")
    client, number = shop.client(), card()
    confirm(client, receipt([line("1", 100000)], number))
    deadline = time.monotonic() + 20
    while not sql(shop.database_url, "SELECT frequency FROM report_rfm"):
        assert time.monotonic() < deadline, "the roll-up did not compute the RFM boundaries"
        time.sleep(0.2)
    assert sql(shop.database_url, "SELECT frequency, monetary FROM report_rfm") == [
        {"frequency": [1, 1, 1, 1], "monetary": [100000] * 4}]
    got = insights(client, number)
    assert {k: v for k, v in got["rfm"].items() if k != "as_of"} == {"r": 1, "f": 1, "m": 1}
    text = client.get("/metrics").text
    assert metric(text, "bonus_rfm_boundary_refreshes_total", by="rollup") >= 1
    assert metric(text, "bonus_rfm_boundary_refreshes_total", by="card") == 0


def test_the_card_sql_timer_runs_read_only(shop: Service, history: dict[str, Any]) -> None:
    """loadtests.card_sql (the card's statements at scale) on this small database: it prints its figures and
    the plans, and writes nothing."""
    before = sql(shop.database_url, "SELECT count(*) AS n FROM receipts")
    done = subprocess.run([sys.executable, "-m", "loadtests.card_sql", shop.database_url, "--cards", "5",
                           "--explain"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    # random ids may repeat: at most 5 cards
    assert re.search(r"^[1-5] random cards: p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms$", done.stdout, re.M), \
        done.stdout
    assert "--- categories" in done.stdout and "Execution Time" in done.stdout
    assert sql(shop.database_url, "SELECT count(*) AS n FROM receipts") == before
