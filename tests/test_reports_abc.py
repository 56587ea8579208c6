"""The ABC report over HTTP and the CLI on a small fixed data set, every figure worked out by hand.

Day `a` (UTC), base tier 3 %, no campaigns (so a line's final amount is its amount):
- R1, card c1, store s1: BOOT-1 shoes 300,000 ×1; BAG-1 bags 300,000 ×1; CREAM-1 care 100,000 ×2
- R2, no card, store s2: BOOT-2 shoes 150,000 ×1; BOOT-1 shoes 50,000 ×1; CREAM-1 care 50,000 ×1;
  HAT-1 (no category) 25,000 ×1
- R3, card c2, store s1: SOCK-1 socks 25,000 ×2.5; BAG-2 bags 100,000 ×1, then BAG-2 refunded
- R4, card c1, store s2: BOOT-1 shoes 100,000 ×1, then cancelled
Day `b` = a − 1: R5, card c2, store s2: BOOT-1 shoes 70,000 ×1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.load import sql
from tests.programs import program
from tests.support import Service, assert_problem, card, confirm, line, receipt

BASE_ONLY = [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]


def at(day: date, clock: str = "12:00:00") -> str:
    return f"{day.isoformat()}T{clock}+00:00"


def abc(client: httpx.Client, **params: str) -> dict[str, Any]:
    answer = client.get("/v1/reports/abc", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["key"], r["value"], r["share"], r["cumulative_share"], r["class"]) for r in report["rows"]]


def classes(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(c["class"], c["keys"], c["value"], c["share"]) for c in report["classes"]]


@pytest.fixture(scope="module")
def shop(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=BASE_ONLY), BONUS_ENGINE_REPORT_INTERVAL_S="0")


@pytest.fixture(scope="module")
def week(shop: Service) -> dict[str, Any]:
    client = shop.client()
    a = datetime.now(UTC).date() - timedelta(days=2)
    b = a - timedelta(days=1)
    c1, c2 = card(), card()
    r1 = receipt([line("1", 300000, sku="BOOT-1", category="shoes"), line("2", 300000, sku="BAG-1", category="bags"),
                  line("3", 100000, "2", sku="CREAM-1", category="care")], c1, store_id="s1", issued_at=at(a))
    r2 = receipt([line("1", 150000, sku="BOOT-2", category="shoes"), line("2", 50000, sku="BOOT-1", category="shoes"),
                  line("3", 50000, sku="CREAM-1", category="care"), line("4", 25000, sku="HAT-1")],
                 store_id="s2", issued_at=at(a, "13:00:00"))
    r3 = receipt([line("1", 25000, "2.5", sku="SOCK-1", category="socks", price=10000),
                  line("2", 100000, sku="BAG-2", category="bags")], c2, store_id="s1", issued_at=at(a, "14:00:00"))
    r4 = receipt([line("1", 100000, sku="BOOT-1", category="shoes")], c1, store_id="s2", issued_at=at(a, "15:00:00"))
    r5 = receipt([line("1", 70000, sku="BOOT-1", category="shoes")], c2, store_id="s2", issued_at=at(b))
    for body in (r1, r2, r3, r4, r5):
        confirm(client, body)
    before = abc(client, **{"from": a.isoformat(), "to": a.isoformat()})  # rolls the sales up before the refunds
    assert before["total"] == 1200000  # R4's 100,000 and R3's BAG-2 100,000 still count
    answer = client.post(f"/v1/receipts/{r3['receipt_id']}/refunds",
                         json={"refund_id": "bag-back", "lines": [{"line_id": "2", "quantity": "1"}]})
    assert answer.status_code == 201, answer.text
    assert client.post(f"/v1/receipts/{r4['receipt_id']}/cancel").status_code == 200
    return {"client": client, "a": a, "b": b}


def test_categories_by_revenue_with_the_80_and_95_percent_boundaries(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = abc(client, **{"from": a.isoformat(), "to": a.isoformat()})
    assert got["by"] == "category" and got["measure"] == "revenue"  # the defaults
    assert got["period"] == {"from": a.isoformat(), "to": a.isoformat(), "time_zone": "UTC", "store": None}
    # shoes 300,000 + 150,000 + 50,000 (R4 cancelled); bags 300,000 + 100,000 − 100,000 refunded; care 100,000 +
    # 50,000; no category (HAT-1) 25,000; socks 25,000: 1,000,000. Bags end exactly at 80 %: care, after it, is
    # B; care ends exactly at 95 %: the rest are C. The two at 25,000 tie: no key first.
    assert got["total"] == 1000000
    assert rows(got) == [("shoes", 500000, 0.5, 0.5, "A"), ("bags", 300000, 0.3, 0.8, "A"),
                         ("care", 150000, 0.15, 0.95, "B"), (None, 25000, 0.025, 0.975, "C"),
                         ("socks", 25000, 0.025, 1.0, "C")]
    assert classes(got) == [("A", 2, 800000, 0.8), ("B", 1, 150000, 0.15), ("C", 2, 50000, 0.05)]


def test_categories_by_quantity_and_by_receipts(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    period = {"from": a.isoformat(), "to": a.isoformat()}
    # care 2 + 1, shoes 1 + 1 + 1, socks 2.5, no category 1, bags 1 + 1 − 1 returned: 10.5 (the last two tie:
    # no key first). Before the fourth: 8.5 / 10.5 = 80.95 % (B); before the last: 9.5 / 10.5 = 90.48 % (B)
    got = abc(client, measure="quantity", **period)
    assert got["total"] == "10.5"
    assert rows(got) == [("care", "3", 0.2857, 0.2857, "A"), ("shoes", "3", 0.2857, 0.5714, "A"),
                         ("socks", "2.5", 0.2381, 0.8095, "A"), (None, "1", 0.0952, 0.9048, "B"),
                         ("bags", "1", 0.0952, 1.0, "B")]
    assert classes(got)[2] == ("C", 0, "0", 0.0)
    # standing receipts holding each: R2's two shoe lines count once; R3 still stands after its bag went back
    got = abc(client, measure="receipts", **period)
    assert got["total"] == 8
    assert rows(got) == [("bags", 2, 0.25, 0.25, "A"), ("care", 2, 0.25, 0.5, "A"), ("shoes", 2, 0.25, 0.75, "A"),
                         (None, 1, 0.125, 0.875, "A"), ("socks", 1, 0.125, 1.0, "B")]


def test_skus_by_revenue_keep_a_returned_sku_of_a_standing_receipt_at_zero(week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    got = abc(client, by="sku", **{"from": a.isoformat(), "to": a.isoformat()})
    # BOOT-1 300,000 + 50,000; BOOT-2 and CREAM-1 tie at 150,000 (by key); BAG-2 all returned, R3 stands
    assert rows(got) == [("BOOT-1", 350000, 0.35, 0.35, "A"), ("BAG-1", 300000, 0.3, 0.65, "A"),
                         ("BOOT-2", 150000, 0.15, 0.8, "A"), ("CREAM-1", 150000, 0.15, 0.95, "B"),
                         ("HAT-1", 25000, 0.025, 0.975, "C"), ("SOCK-1", 25000, 0.025, 1.0, "C"),
                         ("BAG-2", 0, 0.0, 1.0, "C")]
    by_receipts = abc(client, by="sku", measure="receipts", **{"from": a.isoformat(), "to": a.isoformat()})
    assert {r["key"]: r["value"] for r in by_receipts["rows"]} == {
        "BOOT-1": 2, "BAG-1": 1, "BOOT-2": 1, "CREAM-1": 2, "HAT-1": 1, "SOCK-1": 1, "BAG-2": 1}
    quantity = abc(client, by="sku", measure="quantity", **{"from": a.isoformat(), "to": a.isoformat()})
    assert {r["key"]: r["value"] for r in quantity["rows"]}["SOCK-1"] == "2.5"
    assert {r["key"]: r["value"] for r in quantity["rows"]}["BAG-2"] == "0"


def test_a_store_and_the_period_narrow_the_receipts(week: dict[str, Any]) -> None:
    client, a, b = week["client"], week["a"], week["b"]
    # s1: R1 and R3 only: bags 300,000, shoes 300,000 (tie, by key), care 100,000, socks 25,000 of 725,000;
    # before care 600,000 / 725,000 = 82.8 % (B), before socks 700,000 / 725,000 = 96.6 % (C)
    s1 = abc(client, store="s1", **{"from": a.isoformat(), "to": a.isoformat()})
    assert s1["period"]["store"] == "s1" and s1["total"] == 725000
    assert [(r["key"], r["value"], r["class"]) for r in s1["rows"]] == [
        ("bags", 300000, "A"), ("shoes", 300000, "A"), ("care", 100000, "B"), ("socks", 25000, "C")]
    day_b = abc(client, by="sku", **{"from": b.isoformat(), "to": b.isoformat()})
    assert rows(day_b) == [("BOOT-1", 70000, 1.0, 1.0, "A")]
    both = abc(client, **{"from": b.isoformat(), "to": a.isoformat()})
    assert both["rows"][0] == {"key": "shoes", "value": 570000, "share": 0.5327, "cumulative_share": 0.5327,
                               "class": "A"}
    empty = abc(client, **{"from": (b - timedelta(days=3)).isoformat(), "to": (b - timedelta(days=1)).isoformat()})
    assert empty["rows"] == [] and empty["total"] == 0
    assert classes(empty) == [("A", 0, 0, None), ("B", 0, 0, None), ("C", 0, 0, None)]
    nowhere = abc(client, store="nowhere", **{"from": a.isoformat(), "to": a.isoformat()})
    assert nowhere["rows"] == [] and nowhere["total"] == 0


@pytest.mark.parametrize(("params", "code", "where"), [
    ({"by": "brand"}, "validation_error", "query.by"),
    ({"by": "SKU"}, "validation_error", "query.by"),
    ({"measure": "profit"}, "validation_error", "query.measure"),
    ({"measure": ""}, "validation_error", "query.measure"),
    ({"from": "2026-13-01"}, "invalid_period", None),
    ({"from": "yesterday"}, "validation_error", "query.from"),
    ({"to": "2026-1-1"}, "validation_error", "query.to"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "invalid_period", None),
    ({"from": "2000-01-01", "to": "2026-11-01"}, "invalid_period", None),
    ({"store": "s 1"}, "validation_error", "query.store"),
])
def test_bad_queries_are_422_and_roll_nothing_up(shop: Service, params: dict[str, str], code: str,
                                                 where: str | None) -> None:
    client = shop.client()
    before = sql(shop.database_url, "SELECT watermark, rolled_at FROM report_state")
    # something to roll up that no other test's period holds: 20 days back
    confirm(client, receipt([line("1", 100000, sku="X-1", category="x")], store_id="s-bad",
                            issued_at=(datetime.now(UTC) - timedelta(days=20)).isoformat()))
    problem = assert_problem(client.get("/v1/reports/abc", params=params), 422, code)
    if where:
        assert where in [error["path"] for error in problem["errors"]], problem
    assert sql(shop.database_url, "SELECT watermark, rolled_at FROM report_state") == before


def test_the_report_needs_an_admin_key(shop: Service) -> None:
    assert_problem(shop.client(shop.key("pos")).get("/v1/reports/abc"), 403, "forbidden")
    assert_problem(shop.client(None).get("/v1/reports/abc"), 401, "unauthorized")


def test_the_openapi_schema_documents_it(shop: Service) -> None:
    schema = shop.client().get("/openapi.json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/v1/reports/abc"]["get"]["parameters"]}
    assert set(parameters) >= {"by", "measure", "from", "to", "store"}
    assert parameters["by"]["schema"]["enum"] == ["category", "sku"]
    assert parameters["measure"]["schema"]["enum"] == ["revenue", "quantity", "receipts"]
    row = schema["components"]["schemas"]["AbcRow"]["properties"]
    assert set(row) == {"key", "value", "share", "cumulative_share", "class"}
    [example] = schema["components"]["schemas"]["AbcReport"]["examples"]  # one an integrator can copy
    assert [(r["key"], r["class"]) for r in example["rows"]] == [("shoes", "A"), ("bags", "A"), ("care", "B"),
                                                                ("socks", "C")]


def test_the_cli_prints_the_same_report(shop: Service, week: dict[str, Any]) -> None:
    client, a = week["client"], week["a"]
    period = ["--from", a.isoformat(), "--to", a.isoformat()]
    api = abc(client, by="sku", measure="quantity", **{"from": a.isoformat(), "to": a.isoformat()})
    printed = shop.cli("report", "abc", "--by", "sku", "--measure", "quantity", *period, "--format", "json",
                       check=True)
    assert {**json.loads(printed.stdout), "as_of": None} == {**api, "as_of": None}
    table = shop.cli("report", "abc", *period, check=True).stdout
    assert "# classes" in table and "# abc" in table
    assert [line.split() for line in table.splitlines() if line.startswith("care")] == [
        ["care", "150000", "0.15", "0.95", "B"]]
    as_csv = list(csv.reader(io.StringIO(shop.cli("report", "abc", *period, "--store", "s1", "--format", "csv",
                                                  check=True).stdout)))
    assert ["table", "key", "value", "share", "cumulative_share", "class"] in as_csv
    assert ["abc", "socks", "25000", "0.0345", "1.0", "C"] in as_csv  # 25,000 / 725,000
    assert ["classes", "A", "2", "600000", "0.8276"] in as_csv
    unknown = shop.cli("report", "abc", "--by", "brand")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr, unknown.stderr
    bad = shop.cli("report", "abc", "--from", "2026-02-30")
    assert bad.returncode == 1 and "from must be a date" in bad.stderr
    backwards = shop.cli("report", "abc", "--from", "2026-11-02", "--to", "2026-11-01")
    assert backwards.returncode == 1 and "invalid_period" in backwards.stderr


def test_lines_stored_without_sku_and_category_count_under_no_key(shop: Service, week: dict[str, Any]) -> None:
    """Receipts confirmed before stored lines kept their SKU and category: made here by taking them out of a
    new receipt's stored lines before the roll-up reads it; then a rebuild gives the same."""
    client = shop.client()
    old = datetime.now(UTC).date() - timedelta(days=9)
    body = receipt([line("1", 40000, sku="OLD-1", category="old"), line("2", 2000, sku="OLD-2")], card(),
                   store_id="s1", issued_at=at(old))
    confirm(client, body)
    sql(shop.database_url, "UPDATE receipts SET lines = (SELECT jsonb_agg(l - 'sku' - 'category' ORDER BY n)"
                           " FROM jsonb_array_elements(lines) WITH ORDINALITY AS e(l, n)) WHERE receipt_id = $1",
        body["receipt_id"])
    for by in ("sku", "category"):
        got = abc(client, by=by, **{"from": old.isoformat(), "to": old.isoformat()})
        assert rows(got) == [(None, 42000, 1.0, 1.0, "A")], by
    assert abc(client, by="sku", measure="receipts", **{"from": old.isoformat(), "to": old.isoformat()})[
        "rows"][0]["value"] == 1
    before = abc(client, by="sku", **{"from": week["b"].isoformat(), "to": week["a"].isoformat()})
    rebuilt = shop.cli("report", "rebuild", check=True).stdout
    assert "items:" in rebuilt
    again = abc(client, by="sku", **{"from": week["b"].isoformat(), "to": week["a"].isoformat()})
    assert {**again, "as_of": None} == {**before, "as_of": None}
    assert abc(client, by="sku", **{"from": old.isoformat(), "to": old.isoformat()})["rows"][0]["key"] is None
