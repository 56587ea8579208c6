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


def test_reports_need_an_admin_key_and_a_known_segment(shop: Service) -> None:
    pos = shop.key("pos")
    for path in ("program", "campaigns", "segments", "segments/churn/members"):
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
