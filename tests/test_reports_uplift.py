"""Holdout control groups through the API: confirm, the stored result, and the uplift report, with every
figure worked out by hand (and the intervals by `statistics`, not by the code under test)."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import statistics
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core import text
from tests.programs import program
from tests.support import ADMIN_KEY, Service, assert_problem, card, confirm, line, receipt

from .test_reports_api import MOSCOW, at, cancel, report
from .test_reports_page import browser, page_url

BASE_ONLY = [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]
TEN_OFF = {"id": "ten-off", "name": "10% off everything", "type": "receipt_discount", "priority": 10,
           "thresholds": [{"min_amount": 0, "percent": 10}], "control_percent": 50}
PLAIN = {"id": "plain", "name": "no control group", "type": "receipt_discount", "priority": 20,
         "thresholds": [{"min_amount": 10_000_000, "percent": 1}]}
Z_95 = statistics.NormalDist().inv_cdf(0.975)


def held_out(campaign_id: str, number: str, percent: int) -> bool:
    """The contract's rule, written out: BLAKE2b-64 of "<campaign>\\n<card>", big-endian, mod 10,000."""
    digest = hashlib.blake2b(f"{campaign_id}\n{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < percent * 100


def member(out: bool) -> str:
    while True:
        number = card()
        if held_out("ten-off", number, 50) == out:
            return number


@pytest.fixture(scope="module")
def shop(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=BASE_ONLY, campaigns=[TEN_OFF, PLAIN]),
                               BONUS_ENGINE_REPORT_TIME_ZONE="Europe/Moscow", BONUS_ENGINE_REPORT_INTERVAL_S="0")


@pytest.fixture(scope="module")
def groups(shop: Service) -> dict[str, Any]:
    """Three treated members, two held out, a cardless receipt and a cancelled one, over two Moscow days."""
    client = shop.client()
    today = datetime.now(MOSCOW).date()
    a, b = today - timedelta(days=2), today - timedelta(days=1)
    t1, t2, t3, h1, h2 = member(False), member(False), member(False), member(True), member(True)
    bodies = {
        "t1a": receipt([line("1", 100_000)], t1, issued_at=at(a, "10:00:00")),  # 10,000 off: 90,000
        "t1b": receipt([line("1", 200_000)], t1, issued_at=at(b, "10:00:00")),  # 20,000 off: 180,000
        "t2": receipt([line("1", 50_000)], t2, issued_at=at(a, "11:00:00")),  # 5,000 off: 45,000
        "t3": receipt([line("1", 300_000)], t3, issued_at=at(b, "12:00:00")),  # 30,000 off: 270,000
        "t3x": receipt([line("1", 100_000)], t3, issued_at=at(b, "13:00:00")),  # cancelled below
        "h1": receipt([line("1", 100_000)], h1, issued_at=at(a, "10:30:00")),  # held out: 100,000
        "h2a": receipt([line("1", 60_000)], h2, issued_at=at(a, "12:30:00")),  # 60,000
        "h2b": receipt([line("1", 20_000)], h2, issued_at=at(b, "12:30:00")),  # 20,000
        "none": receipt([line("1", 500_000)], issued_at=at(b, "14:00:00")),  # cardless: 50,000 off
    }
    results = {name: confirm(client, body) for name, body in bodies.items()}
    cancel(client, bodies["t3x"]["receipt_id"])
    return {"client": client, "a": a, "today": today, "bodies": bodies, "results": results}


def test_a_held_out_member_gets_no_discount_and_the_receipt_records_it(groups: dict[str, Any]) -> None:
    results, client = groups["results"], groups["client"]
    for name in ("h1", "h2a", "h2b"):
        assert results[name]["totals"]["discount"] == 0
        assert results[name]["campaigns"] == []
        assert results[name]["holdout"] == {"treated": [], "held_out": ["ten-off"]}
        # base 3 % on the whole amount: no campaign changed it
        assert results[name]["totals"]["points_accrued"] == groups["bodies"][name]["lines"][0]["amount"] * 3 // 100
    assert results["t1a"]["totals"]["discount"] == 10_000
    assert results["t1a"]["holdout"] == {"treated": ["ten-off"], "held_out": []}
    assert results["none"]["totals"]["discount"] == 50_000 and "holdout" not in results["none"]  # cardless
    stored = client.get(f"/v1/receipts/{groups['bodies']['h1']['receipt_id']}")
    assert stored.status_code == 200 and stored.json()["holdout"] == {"treated": [], "held_out": ["ten-off"]}


def test_calculate_agrees_with_confirm_for_a_held_out_member(groups: dict[str, Any]) -> None:
    client = groups["client"]
    body = receipt([line("1", 70_000)], groups["bodies"]["h1"]["card"])
    answer = client.post("/v1/receipts/calculate", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["totals"]["discount"] == 0 and answer.json()["holdout"]["held_out"] == ["ten-off"]


def _interval(values: list[int]) -> list[int]:
    half = Z_95 * statistics.stdev(values) / math.sqrt(len(values))
    mean = statistics.mean(values)
    return [round(mean - half), round(mean + half)]


def test_uplift_report_with_hand_computed_figures(groups: dict[str, Any]) -> None:
    got = report(groups["client"], "campaigns/ten-off/uplift",
                 **{"from": groups["a"].isoformat(), "to": groups["today"].isoformat()})
    assert got["campaign"] == {"id": "ten-off", "name": "10% off everything", "type": "receipt_discount",
                               "control_percent": 50}
    treated = [90_000 + 180_000, 45_000, 270_000]  # per member; t3's cancelled receipt does not stand
    held = [100_000, 60_000 + 20_000]
    assert got["treated"] == {"eligible_members": 3, "buyers": 3, "repeat_buyers": 1, "receipts": 4,
                              "revenue": 585_000, "revenue_per_member": 195_000,
                              "revenue_per_member_ci": _interval(treated)}
    assert got["held_out"] == {"eligible_members": 2, "buyers": 2, "repeat_buyers": 1, "receipts": 3,
                               "revenue": 180_000, "revenue_per_member": 90_000,
                               "revenue_per_member_ci": _interval(held)}
    # Welch: SE = sqrt(s1²/n1 + s0²/n0); the normal's 97.5th percentile
    error = math.sqrt(statistics.variance(treated) / 3 + statistics.variance(held) / 2)
    difference = 195_000 - 90_000
    low, high = difference - Z_95 * error, difference + Z_95 * error
    assert got["difference"] == {"revenue_per_member": 105_000, "revenue_per_member_ci": [round(low), round(high)],
                                 "method": "welch_normal_95"}
    # 10,000 + 20,000 + 5,000 + 30,000 to members, 50,000 to the cardless receipt; the cancelled one is off
    assert got["cost"] == {"discount": 115_000, "points": 0, "total": 115_000}
    assert got["incremental_revenue"] == 315_000  # 105,000 × 3 treated members
    assert got["incremental_revenue_ci"] == [round(low * 3), round(high * 3)]
    assert got["return_per_cost"] == round(315_000 / 115_000, 4) == 2.7391
    assert low < 0 < high  # five members: the interval is wide
    assert got["conclusion"].startswith("The difference is within noise")


def test_a_campaign_without_a_control_group_says_so(groups: dict[str, Any]) -> None:
    got = report(groups["client"], "campaigns/plain/uplift", **{"from": groups["a"].isoformat()})
    assert got["campaign"]["control_percent"] == 0
    assert got["treated"]["eligible_members"] == 0 and got["held_out"]["eligible_members"] == 0
    assert got["difference"]["revenue_per_member"] is None and got["return_per_cost"] is None
    assert "no control group" in got["conclusion"]


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("nope", {}, 404, "campaign_not_found"),
    ("Bad_Id", {}, 422, "validation_error"),
    ("ten-off", {"from": "2026-13-01"}, 422, "invalid_period"),
    ("ten-off", {"from": "yesterday"}, 422, "validation_error"),
    ("ten-off", {"from": "2026-12-06", "to": "2026-12-01"}, 422, "invalid_period"),
    ("ten-off", {"from": "2000-01-01", "to": "2026-12-01"}, 422, "invalid_period"),
])
def test_bad_uplift_queries_are_clear_problems(groups: dict[str, Any], path: str, params: dict[str, str],
                                               status: int, code: str) -> None:
    assert_problem(groups["client"].get(f"/v1/reports/campaigns/{path}/uplift", params=params), status, code)


def test_a_pos_key_may_not_read_the_uplift(shop: Service) -> None:
    assert_problem(shop.client(shop.key("pos")).get("/v1/reports/campaigns/ten-off/uplift"), 403, "forbidden")


@pytest.mark.parametrize("value", [51, -1, "10", 10.5])
def test_a_bad_control_percent_is_refused_and_changes_nothing(groups: dict[str, Any], value: Any) -> None:
    client: httpx.Client = groups["client"]
    version = client.get("/v1/program").headers["Program-Version"]
    answer = client.put("/v1/campaigns/ten-off", json={**TEN_OFF, "control_percent": value})
    problem = assert_problem(answer, 422, "invalid_campaign")
    assert [e["path"] for e in problem["errors"]] == ["control_percent"]
    assert client.get("/v1/program").headers["Program-Version"] == version
    assert client.get("/v1/campaigns/ten-off").json()["control_percent"] == 50


def test_the_cli_prints_the_same_uplift(shop: Service, groups: dict[str, Any]) -> None:
    period = {"from": groups["a"].isoformat(), "to": groups["today"].isoformat()}
    api = report(groups["client"], "campaigns/ten-off/uplift", **period)
    printed = shop.cli("report", "uplift", "ten-off", "--from", period["from"], "--to", period["to"],
                       "--format", "json", check=True)
    assert {**json.loads(printed.stdout), "as_of": None} == {**api, "as_of": None}
    rows = list(csv.reader(io.StringIO(shop.cli("report", "uplift", "ten-off", "--from", period["from"],
                                                "--format", "csv", check=True).stdout)))
    low, high = api["treated"]["revenue_per_member_ci"]
    assert ["groups", "treated", "3", "3", "1", "4", "585000", "195000", str(low), str(high)] in rows
    assert ["uplift", "incremental_revenue", "315000"] in rows
    assert ["uplift", "conclusion", api["conclusion"]] in rows
    table = shop.cli("report", "uplift", "ten-off", "--from", period["from"], check=True).stdout
    assert "# groups" in table and "within noise" in table
    for wrong, message in ((["nope"], "campaign_not_found"), (["Bad_Id"], "validation_error"),
                           (["ten-off", "--from", "2026-02-30"], "invalid_period")):
        refused = shop.cli("report", "uplift", *wrong)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr


def test_rebuild_gives_the_same_uplift(shop: Service, groups: dict[str, Any]) -> None:
    period = {"from": groups["a"].isoformat()}
    before = report(groups["client"], "campaigns/ten-off/uplift", **period)
    shop.cli("report", "rebuild", check=True)
    after = report(groups["client"], "campaigns/ten-off/uplift", **period)
    assert {**after, "as_of": None} == {**before, "as_of": None}


def test_chromium_shows_the_uplift_chart_and_sentence(shop: Service, groups: dict[str, Any], tmp_path: Path) -> None:
    query = f"?from={groups['a'].isoformat()}&to={groups['today'].isoformat()}"
    dom = browser(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page_url(shop, ADMIN_KEY, query)).stdout
    api = report(groups["client"], "campaigns/ten-off/uplift",
                 **{"from": groups["a"].isoformat(), "to": groups["today"].isoformat()})
    block = dom.split('id="uplift-ten-off"', 1)[1].split("</div>", 1)[0]
    chart = block.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<title>10% off everything: revenue per eligible member, with and without the campaign</title>" in chart
    assert chart.count('class="estimate"') == 3 and chart.count('class="ci"') == 3
    low, high = api["treated"]["revenue_per_member_ci"]
    assert (f"with the campaign: {text.amount(195_000)} per eligible member, 95% interval "
            f"{text.amount(low)} to {text.amount(high)}") in chart
    assert f"held out: {text.amount(90_000)} per eligible member" in chart
    assert f'<p class="conclusion">{html.escape(api["conclusion"], quote=False)}</p>' in block
    assert "The difference is within noise" in block
    assert "3 eligible members with the campaign, 2 held out (50%)" in block
    assert 'id="uplift-plain"' not in dom  # no control group: no chart
