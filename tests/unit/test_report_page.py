"""The report page rendered from fixed report dicts: exact figures, one bar per day, escaping, nothing
loaded from elsewhere, well-formed SVG, and the empty, one-day and long periods."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

from app.customers import page as card_page
from app.reports import charts, members_page, page

PERIOD = {"from": "2026-11-01", "to": "2026-11-30", "time_zone": "Europe/Moscow", "store": None}
AS_OF = "2026-11-27T07:30:00+00:00"


def days(count: int, start: str = "2026-11-01") -> list[dict[str, Any]]:
    first = date.fromisoformat(start)
    return [{"day": (first + timedelta(days=i)).isoformat(), "receipts": 10 + i % 7, "revenue": 1_000_000 + i,
             "points_accrued": 1200 + 10 * i, "points_redeemed": 300 * (i % 3)} for i in range(count)]


def program(day_rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "period": PERIOD, "as_of": AS_OF,
        "receipts": {"total": 1200, "with_card": 800, "without_card": 400, "identified_share": 0.6667,
                     "items_per_receipt": 3.25},
        "revenue": {"total": 123456789, "with_card": 90000000, "without_card": 33456789},
        "average_check": {"all": 102881, "with_card": 112500, "without_card": 83642},
        "members": {"total": 5000, "active": 700, "active_share": 0.14, "new": 120},
        "points": {"accrued": 100000, "bonus": 5000, "redeemed": 30000, "returned": 100, "reversed": 2000,
                   "expired": 4000, "adjusted": -50},
        "liability": {"outstanding": 1234567, "expiring_30_days": 10000, "expiring_90_days": 50000},
        "kpis": {"churned": 30, "new_buyers": 120, "stable": 580, "churn_to_new": 0.25, "churn_to_stable": 0.0517,
                 "revenue_per_member": 128571, "points_cost": 103000, "points_cost_per_member": 147,
                 "segments": [segment_sales("newcomer", 0.1, 0.05), segment_sales("loyal", 0.6, 0.75),
                              segment_sales("pre_churn", 0.2, 0.15), segment_sales("churn", 0.1, 0.05)]},
        "days": days(30) if day_rows is None else day_rows,
    }


def segment_sales(name: str, receipts_share: float | None, revenue_share: float | None) -> dict[str, Any]:
    receipts = round((receipts_share or 0) * 800)
    return {"segment": name, "receipts": receipts, "revenue": round((revenue_share or 0) * 90000000),
            "receipts_share": receipts_share, "revenue_share": revenue_share}


def store(name: str, revenue: int, registrations: int = 3) -> dict[str, Any]:
    day_rows = [{"day": f"2026-11-{d:02d}", "receipts": d, "with_card": d // 2, "identified_share": 0.5,
                 "revenue": revenue // 30, "average_check": 1000, "registrations": registrations}
                for d in range(1, 31)]
    return {"store": name, "receipts": 465, "with_card": 225, "identified_share": 0.4839, "revenue": revenue,
            "average_check": revenue // 465, "registrations": 30 * registrations, "members": 90,
            "purchase_frequency": 2.5, "days": day_rows}


def stores(rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rows = [store("s1", 60000000), store("s2", 40000000), store("s17", 23456789, 0),
            store("s9", 100)] if rows is None else rows
    return {"period": PERIOD, "as_of": AS_OF, "stores": rows,
            "total": {"receipts": 1200, "with_card": 800, "identified_share": 0.6667, "revenue": 123456789,
                      "average_check": 102881, "registrations": 120, "registrations_without_purchase": 30,
                      "members": 700, "purchase_frequency": 1.14}}


def customers(count: int = 3) -> dict[str, Any]:
    rows = [{"card": f"2900000000{i}", "phone": None, "receipts": 10 - i, "amount": 500000 - 1000 * i,
             "items_per_receipt": 2.5, "ltv": 9000000, "lifetime_receipts": 40,
             "first_purchase_at": "2025-01-02T10:00:00+00:00", "last_purchase_at": "2026-11-20T18:00:00+00:00"}
            for i in range(count)]
    return {"period": PERIOD, "as_of": AS_OF, "order": "amount", "inactive_days": None, "inactive_before": None,
            "customers": rows, "next_cursor": None}


def campaign(campaign_id: str, name: str, discount: int, points: int) -> dict[str, Any]:
    return {"id": campaign_id, "name": name, "type": "receipt_discount", "receipts": 120, "discount": discount,
            "points": points, "coupon_uses": 3, "revenue": 15000000, "average_check": 125000,
            "untouched": {"receipts": 1080, "revenue": 108456789, "average_check": 100000}}


def campaigns(rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"period": PERIOD, "as_of": AS_OF,
            "receipts": {"total": 1200, "revenue": 123456789, "average_check": 102881},
            "campaigns": [campaign("winter-check", "Winter: 5% from 5,000", 50000, 0),
                          campaign("care-double", "Double points on care", 0, 32000)] if rows is None else rows}


def segments() -> dict[str, Any]:
    cells = [{"r": 5, "f": 5, "m": m, "members": 10 * m, "revenue": 100000} for m in (1, 2, 5)]
    cells.append({"r": 1, "f": 2, "m": 3, "members": 7, "revenue": 5000})
    return {
        "as_of": AS_OF, "settings": {"newcomer_days": 30, "pre_churn_days": 60, "churn_days": 120}, "members": 5000,
        "cvm": [{"segment": "newcomer", "members": 100, "revenue": 1000000},
                {"segment": "loyal", "members": 1200, "revenue": 9000000},
                {"segment": "pre_churn", "members": 400, "revenue": 2000000},
                {"segment": "churn", "members": 300, "revenue": 500000},
                {"segment": "none", "members": 3000, "revenue": 0}],
        "rfm": {"boundaries": {"recency": ["2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"],
                               "frequency": [1, 1, 2, 4], "monetary": [5000, 12000, 30000, 80000]},
                "cells": cells},
        "ltv_deciles": [{"decile": 1, "members": 200, "revenue": 9000000, "revenue_share": 0.72, "min_ltv": 30000,
                         "max_ltv": 900000},
                        {"decile": 2, "members": 200, "revenue": 3500000, "revenue_share": 0.28, "min_ltv": 1000,
                         "max_ltv": 30000},
                        *({"decile": d, "members": 0, "revenue": 0, "revenue_share": 0.0, "min_ltv": None,
                           "max_ltv": None} for d in range(3, 11))],
    }


def empty_period() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """No receipts at all: zero counts, null averages and shares, zero days, no campaign, no buyer."""
    report = program([{**row, "receipts": 0, "revenue": 0, "points_accrued": 0, "points_redeemed": 0}
                      for row in days(30)])
    report["receipts"] = {"total": 0, "with_card": 0, "without_card": 0, "identified_share": None,
                          "items_per_receipt": None}
    report["revenue"] = {"total": 0, "with_card": 0, "without_card": 0}
    report["average_check"] = {"all": None, "with_card": None, "without_card": None}
    report["members"] = {"total": 0, "active": 0, "active_share": None, "new": 0}
    report["points"] = dict.fromkeys(report["points"], 0)
    report["liability"] = dict.fromkeys(report["liability"], 0)
    report["kpis"] = {"churned": 0, "new_buyers": 0, "stable": 0, "churn_to_new": None, "churn_to_stable": None,
                      "revenue_per_member": None, "points_cost": 0, "points_cost_per_member": None,
                      "segments": [segment_sales(name, None, None) for name in ("newcomer", "loyal", "pre_churn",
                                                                                 "churn")]}
    groups = segments()
    groups["members"] = 0
    groups["cvm"] = [{**row, "members": 0, "revenue": 0} for row in groups["cvm"]]
    groups["rfm"] = {"boundaries": {"recency": None, "frequency": None, "monetary": None}, "cells": []}
    groups["ltv_deciles"] = [{"decile": d, "members": 0, "revenue": 0, "revenue_share": None, "min_ltv": None,
                              "max_ltv": None} for d in range(1, 11)]
    return report, campaigns([]), groups


# --- reading the page -------------------------------------------------------------------------------


def kpis(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="([a-z0-9_]+)">([^<]*)<', html))


def svgs(html: str) -> dict[str, ET.Element]:
    """Every inline chart parsed as XML (fails if one is not well-formed), by its title."""
    found = {}
    for markup in re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL):
        root = ET.fromstring(markup)
        title = root.find("title")
        assert title is not None and title.text, markup[:200]
        assert root.get("aria-label") == title.text and root.get("role") == "img"
        found[title.text] = root
    return found


def day_labels(svg: ET.Element) -> list[str]:
    """The x axis labels (the y axis ticks are right-aligned)."""
    return [t.text or "" for t in svg.iter("text") if t.get("text-anchor") == "middle"]


def bars(svg: ET.Element) -> list[ET.Element]:
    return [rect for rect in svg.iter("rect") if rect.get("class") == "bar"]


class _Balance(HTMLParser):
    """Checks that every element is closed, in order (void elements excepted)."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "path", "circle"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()


def assert_well_formed(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert checker.open == []
    svgs(html)


# links to this service's own report pages: a segment's members and a customer's card (issue 14)
_OWN_LINK = re.compile(r'href="/reports(?:/(?:segments|customers)/[A-Za-z0-9_-]{1,64})?"')


def assert_self_contained(html: str) -> None:
    lowered = _OWN_LINK.sub("", html).lower()
    for needle in ("http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link", "<iframe"):
        assert needle not in lowered, needle


# --- formatting -------------------------------------------------------------------------------------


def test_axis_ticks_are_round_and_cover_the_highest_value() -> None:
    assert charts.axis_ticks(0) == [0, 1]
    assert charts.axis_ticks(1) == [0, 1]
    assert charts.axis_ticks(7) == [0, 2, 4, 6, 8]
    assert charts.axis_ticks(60) == [0, 20, 40, 60]
    assert charts.axis_ticks(123456) == [0, 50000, 100000, 150000]


def test_missing_days_are_filled_with_zeros() -> None:
    rows = page.dense_days([{"day": "2026-11-03", "receipts": 2, "revenue": 1, "points_accrued": 0,
                             "points_redeemed": 0},
                            {"day": "2026-11-01", "receipts": 1, "revenue": 1, "points_accrued": 0,
                             "points_redeemed": 0}])
    assert [(row["day"], row["receipts"]) for row in rows] == [("2026-11-01", 1), ("2026-11-02", 0),
                                                               ("2026-11-03", 2)]


# --- the full page ----------------------------------------------------------------------------------


def test_the_kpis_are_formatted_exactly() -> None:
    html = page.render(program(), campaigns(), segments())
    assert kpis(html) == {
        "receipts": "1,200", "revenue": "1,234,567.89", "identified_share": "66.7%", "items_per_receipt": "3.25",
        "average_check": "1,028.81", "average_check_with_card": "1,125.00", "average_check_without_card": "836.42",
        "card_lift": "+34.5%", "members": "5,000", "active_members": "700", "active_share": "14.0%",
        "new_members": "120", "points_accrued": "1,000.00", "points_redeemed": "300.00", "points_expired": "40.00",
        "points_reversed": "20.00", "liability": "12,345.67", "expiring_30_days": "100.00",
        "expiring_90_days": "500.00", "churned": "30", "new_buyers": "120", "churn_to_new": "0.25",
        "churn_to_stable": "0.05", "revenue_per_member": "1,285.71", "points_cost": "1,030.00",
        "points_cost_per_member": "1.47",
    }
    assert "1 Nov 2026 – 30 Nov 2026" in html and "Europe/Moscow" in html and "all stores" in html
    assert "27 Nov 2026, 07:30 (+00:00)" in html


def test_the_page_is_well_formed_and_loads_nothing() -> None:
    html = page.render(program(), campaigns(), segments())
    assert_well_formed(html)
    assert_self_contained(html)
    assert set(svgs(html)) == {"Receipts per day", "Points accrued and redeemed per day",
                               "Members per customer segment", "Campaign cost: discount and points per campaign",
                               "Share of receipts and of revenue per customer segment"}
    full = page.render(program(), campaigns(), segments(), stores(), customers())
    assert_well_formed(full)
    assert_self_contained(full)
    assert {"Revenue per store", "Receipts per day of the busiest stores",
            "Top customers by amount in the period"} <= set(svgs(full))


def test_segment_shares_side_by_side() -> None:
    html = page.render(program(), campaigns(), segments())
    chart = svgs(html)["Share of receipts and of revenue per customer segment"]
    titles = [rect.find("title").text for rect in bars(chart)]  # type: ignore[union-attr]
    assert titles[:4] == ["Newcomers: 10% share of receipts", "Newcomers: 5% share of revenue",
                          "Loyal: 60% share of receipts", "Loyal: 75% share of revenue"]
    assert len(titles) == 8


def test_stores_chart_and_table() -> None:
    html = page.render(program(), campaigns(), segments(), stores(), customers())
    revenue = svgs(html)["Revenue per store"]
    widths = [float(rect.get("width", "0")) for rect in bars(revenue)]
    assert len(widths) == 4 and widths == sorted(widths, reverse=True)
    days = svgs(html)["Receipts per day of the busiest stores"]
    assert len(bars(days)) == 3 * 30  # the three busiest stores, every day of the period
    row = re.findall(r"<td>([^<]*)</td>", html.split('data-store="s2">', 1)[1].split("</tr>", 1)[0])
    assert row == ["465", "400,000.00", "860.21", "48.4%", "90", "90", "2.50"]
    assert "30 have not bought yet" in html
    many = stores([store(f"s{i}", 1000 * (50 - i)) for i in range(20)])
    html = page.render(program(), campaigns(), segments(), many)
    assert len(bars(svgs(html)["Revenue per store"])) == 15 and "5 more in the table" in html
    assert html.count("data-store=") == 20
    assert "No data for this period." in page.render(program(), campaigns(), segments(), stores([]))


def test_top_customers_table() -> None:
    html = page.render(program(), campaigns(), segments(), stores(), customers())
    assert len(bars(svgs(html)["Top customers by amount in the period"])) == 3
    row = re.findall(r"<td>([^<]*)</td>", html.split('data-card="29000000001">', 1)[1].split("</tr>", 1)[0])
    assert row == ["9", "4,990.00", "2.50", "90,000.00", "20 Nov 2026"]
    assert "No data for this period." in page.render(program(), campaigns(), segments(), stores(), customers(0))


def test_one_bar_per_day_and_two_per_day_for_points() -> None:
    charts_by_title = svgs(page.render(program(days(30)), campaigns(), segments()))
    receipts = bars(charts_by_title["Receipts per day"])
    assert len(receipts) == 30
    # the tallest bar is the busiest day, and it reaches the top of the axis it sets
    heights = [float(rect.get("height", "0")) for rect in receipts]
    assert heights.index(max(heights)) == [row["receipts"] for row in days(30)].index(16)
    assert len(bars(charts_by_title["Points accrued and redeemed per day"])) == 60
    first = receipts[0].find("title")
    assert first is not None and first.text == "1 Nov: 10 receipts"


def test_segment_and_campaign_bars() -> None:
    charts_by_title = svgs(page.render(program(), campaigns(), segments()))
    segment_bars = bars(charts_by_title["Members per customer segment"])
    assert len(segment_bars) == 5
    widths = [float(rect.get("width", "0")) for rect in segment_bars]
    assert widths.index(max(widths)) == 4  # "none", 3,000 members, spans the plot
    cost = charts_by_title["Campaign cost: discount and points per campaign"]
    assert len(bars(cost)) == 4  # discount and points for each campaign
    assert [t.text for t in cost.iter("text") if t.text and t.text[0].isdigit()] == ["500.00", "320.00"]


def test_campaigns_without_cost_are_in_the_table_only() -> None:
    rows = campaigns()["campaigns"] + [campaign("no-points-on-sale", "No points on clearance", 0, 0)]
    html = page.render(program(), campaigns(rows), segments())
    assert len(bars(svgs(html)["Campaign cost: discount and points per campaign"])) == 4
    assert html.count("No points on clearance") == 1 and "no-points-on-sale · receipt discount" in html


def test_campaign_table_has_every_figure_and_totals() -> None:
    html = page.render(program(), campaigns(), segments())
    table = html.split('<table class="campaigns">', 1)[1].split("</table>", 1)[0]
    row = table.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert re.findall(r"<td>([^<]*)</td>", row) == ["120", "150,000.00", "1,250.00", "1,000.00", "+25.0%",
                                                    "500.00", "0.00", "3", "500.00"]
    assert "winter-check · receipt discount" in row
    assert re.findall(r"<td>([^<]*)</td>", table.split("<tfoot>", 1)[1]) == ["500.00", "320.00", "", "820.00"]


def test_rfm_grid_sums_the_monetary_scores() -> None:
    html = page.render(program(), campaigns(), segments())
    grid = html.split('<table class="rfm">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr><th scope="row">R(\d)</th>(.*?)</tr>', grid)
    assert [r for r, _ in rows] == ["5", "4", "3", "2", "1"]
    counts = {r: re.findall(r">([\d,]+)</td>", cells) for r, cells in rows}
    assert counts["5"] == ["0", "0", "0", "0", "80"]  # 10 + 20 + 50 over m = 1, 2, 5
    assert counts["1"] == ["0", "7", "0", "0", "0"]
    assert "rgba(37,99,235,0.90)" in grid  # the largest cell is the darkest


def test_data_from_the_program_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & <a href="https://evil.example">Co</a>'
    report = program()
    report["period"] = {**PERIOD, "store": "<b>s1</b>"}
    html = page.render(report, campaigns([campaign("evil", hostile, 100, 100)]), segments())
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;a href=&quot;https://evil.example" in html
    assert "&lt;b&gt;s1&lt;/b&gt;" in html
    assert "<b>" not in html
    assert_well_formed(html)
    # the link is there only as escaped text (whole, or cut short in a chart label)
    assert_self_contained(re.sub(r"&lt;a href=&quot;[^&<…]*", "", html))


def test_inputs_are_not_changed() -> None:
    reports = (program(), campaigns(), segments())
    before = copy.deepcopy(reports)
    page.render(*reports)
    assert reports == before


# --- empty, one day, long periods -------------------------------------------------------------------


def test_a_period_without_receipts_says_so() -> None:
    html = page.render(*empty_period())
    assert_well_formed(html)
    assert_self_contained(html)
    assert html.count("No data for this period.") == 5  # receipts, points, RFM grid, LTV deciles, segment shares
    assert "No campaign gave a discount or points in this period." in html
    assert set(svgs(html)) == {"Members per customer segment"}
    values = kpis(html)
    assert values["receipts"] == "0" and values["revenue"] == "0.00"
    assert values["churn_to_new"] == values["revenue_per_member"] == values["points_cost_per_member"] == "—"
    assert values["average_check"] == values["average_check_with_card"] == values["card_lift"] == "—"
    assert values["identified_share"] == values["items_per_receipt"] == values["active_share"] == "—"
    for junk in ("None", "nan", "inf"):
        assert junk not in re.sub(r"<[^>]+>", " ", html).split(), junk


def test_no_days_at_all() -> None:
    report, campaign_report, groups = empty_period()
    report["days"] = []
    html = page.render(report, campaign_report, groups)
    assert html.count("No data for this period.") == 5


def test_a_single_day() -> None:
    charts_by_title = svgs(page.render(program(days(1)), campaigns(), segments()))
    receipts = charts_by_title["Receipts per day"]
    assert len(bars(receipts)) == 1
    assert day_labels(receipts) == ["1 Nov"]


def test_a_long_period_thins_its_labels() -> None:
    charts_by_title = svgs(page.render(program(days(120, "2026-08-01")), campaigns(), segments()))
    receipts = charts_by_title["Receipts per day"]
    assert len(bars(receipts)) == 120
    labels = day_labels(receipts)
    assert 8 <= len(labels) <= 12 and labels[:2] == ["1 Aug", "11 Aug"]
    assert len(bars(charts_by_title["Points accrued and redeemed per day"])) == 240


def test_a_campaign_no_longer_in_the_program_is_named_by_its_id() -> None:
    gone = {**campaign("autumn", "autumn", 700, 0), "type": None}
    html = page.render(program(), campaigns([gone]), segments())
    assert "autumn · no longer in the program" in html and "None" not in html


# --- the key a browser sends ------------------------------------------------------------------------


def test_the_key_is_a_bearer_token_or_the_basic_password() -> None:
    import base64

    from app.reports.web import presented_key

    def basic(credentials: bytes) -> str:
        return "Basic " + base64.b64encode(credentials).decode()

    assert presented_key("Bearer  be_admin_x ") == "be_admin_x"
    assert presented_key(basic(b"anyone:be_admin_x:y")) == "be_admin_x:y"  # a password may hold colons
    assert presented_key(basic(b":be_admin_x")) == "be_admin_x"
    for refused in ("", "Bearer", "Bearer  ", "be_admin_x", "Digest x", basic(b"be_admin_x"), basic(b"user:"),
                    "Basic !!!", basic(b"\xff:\xfe")):
        assert presented_key(refused) is None, refused


# --- LTV deciles and the customer pages (issue 14) ---------------------------------------------------


def test_the_deciles_show_the_non_empty_tenths() -> None:
    html = page.render(program(), campaigns(), segments())
    rows = re.findall(r'<tr data-decile="(\d+)"><th scope="row">\d+</th>((?:<td>[^<]*</td>)+)</tr>', html)
    assert [(decile, re.findall(r"<td>([^<]*)</td>", cells)) for decile, cells in rows] == [
        ("1", ["200", "90,000.00", "72.0%", "300.00", "9,000.00"]),
        ("2", ["200", "35,000.00", "28.0%", "10.00", "300.00"])]
    assert 'href="/reports/segments/churn"' in html


def insights(**changes: Any) -> dict[str, Any]:
    card = {
        "card": "2900000012345", "as_of": AS_OF, "time_zone": "Europe/Moscow", "ltv": 405000, "receipts": 3,
        "average_check": 135000, "items_per_receipt": 2.0, "frequency_30d": 8.18,
        "first_purchase": "2026-11-26T06:30:00+00:00", "last_purchase": "2026-12-03T23:30:00+00:00",
        "days_since_last": 2, "promo_share": 0.7955,
        "top_categories": [{"category": "coffee", "amount": 315000}, {"category": "(none)", "amount": 10000}],
        "weekdays": [0, 0, 1, 1, 0, 0, 1], "hours": [1 if hour in (2, 9, 12) else 0 for hour in range(24)],
        "points": {"earned": 12090, "redeemed": 2000, "expired": 0, "adjusted": 500, "available": 10590},
        "rfm": {"r": 1, "f": 3, "m": 3, "as_of": AS_OF}, "segment": "newcomer", "tier": "base", "segments": [],
        "profile": {"card": "2900000012345", "birth_date": "1990-05-17", "gender": "female",
                    "attributes": {"children": 2, "vip": True}, "updated_at": AS_OF},
    }
    return {**card, **changes}


def test_a_customer_card_page() -> None:
    html = card_page.render_card(insights())
    assert_well_formed(html)
    assert_self_contained(html)
    values = kpis(html)
    assert values["ltv"] == "4,050.00" and values["receipts"] == "3" and values["average_check"] == "1,350.00"
    assert values["frequency_30d"] == "8.18" and values["promo_share"] == "79.5%" and values["rfm"] == "R1 F3 M3"
    assert values["points_earned"] == "120.90" and values["points_available"] == "105.90"  # minor units
    assert set(svgs(html)) == {"Receipts per weekday", "Receipts per hour of the day",
                               "What the customer paid per category"}
    assert '<th scope="row">vip</th><td>true</td>' in html and 'href="/reports/segments/newcomer"' in html


def test_a_customer_without_purchases_and_hostile_text() -> None:
    hostile = '<script>alert("x")</script>'
    html = card_page.render_card(insights(
        ltv=0, receipts=0, average_check=None, items_per_receipt=None, frequency_30d=None, first_purchase=None,
        last_purchase=None, days_since_last=None, promo_share=None, top_categories=[], weekdays=[0] * 7,
        hours=[0] * 24, rfm=None, segment="none",
        profile={"card": "2900000012345", "birth_date": None, "gender": None, "attributes": {"note": hostile},
                 "updated_at": None}))
    assert_well_formed(html)
    assert_self_contained(html)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert html.count("No purchases.") == 3 and kpis(html)["rfm"] == "—"


def test_a_segments_members_page_links_each_card() -> None:
    rows = [{"card": f"29000000000{n:02d}", "receipts": n, "revenue": 1000 * n,
             "first_purchase_at": "2026-11-01T10:00:00+00:00", "last_purchase_at": "2026-12-01T10:00:00+00:00"}
            for n in range(1, 4)]
    html = members_page.render_members("loyal", rows, 200)
    assert_well_formed(html)
    assert_self_contained(html)
    assert re.findall(r'<a href="/reports/customers/([0-9]+)">', html) == [row["card"] for row in rows]
    assert "lists them all" not in html
    assert "lists them all" in members_page.render_members("loyal", rows, 3)
    assert "No members in this segment." in members_page.render_members("churn", [], 200)


# --- ABC --------------------------------------------------------------------------------------------


def abc_report(by: str, keys: list[tuple[str | None, int, str]]) -> dict[str, Any]:
    total = sum(value for _, value, _ in keys)
    rows, before = [], 0
    for key, value, klass in keys:
        before += value
        rows.append({"key": key, "value": value, "share": round(value / total, 4),
                     "cumulative_share": round(before / total, 4), "class": klass})
    summary = [{"class": name, "keys": sum(k == name for _, _, k in keys),
                "value": sum(v for _, v, k in keys if k == name),
                "share": round(sum(v for _, v, k in keys if k == name) / total, 4)} for name in "ABC"]
    return {"period": PERIOD, "as_of": AS_OF, "by": by, "measure": "revenue", "total": total, "classes": summary,
            "rows": rows}


def test_abc_chart_colours_each_category_by_its_class() -> None:
    categories = abc_report("category", [("shoes", 5000000, "A"), ("bags", 3000000, "A"), ("care", 1500000, "B"),
                                         (None, 250000, "C"), ("socks", 250000, "C")])
    skus = abc_report("sku", [(f"SKU-{i}", 1000 - i, "A" if i < 5 else "B" if i < 8 else "C") for i in range(12)])
    html = page.render(program(), campaigns(), segments(), stores(), customers(), categories, skus)
    assert_well_formed(html)
    assert_self_contained(html)
    chart = svgs(html)["Revenue per category, classed A, B and C"]
    rects = bars(chart)
    assert [rect.get("fill") for rect in rects] == [page.GREEN, page.GREEN, page.AMBER, page.GREY, page.GREY]
    assert rects[3].find("title").text == "(none): class C, revenue 2,500.00"  # type: ignore[union-attr]
    assert "B · 15.0% · 95.0% cumulative" in html
    row = re.findall(r"<td>([^<]*)</td>", html.split('data-abc-class="A">', 1)[1].split("</tr>", 1)[0])
    assert row == ["2", "80.0%", "5", f"{(1000 + 999 + 998 + 997 + 996) * 100 / sum(range(989, 1001)):.1f}%"]
    many = abc_report("category", [(f"c{i:02d}", 100 - i, "A") for i in range(25)])
    html = page.render(program(), campaigns(), segments(), stores(), customers(), many, skus)
    assert len(bars(svgs(html)["Revenue per category, classed A, B and C"])) == 20
    assert "5 more are counted in the table" in html
    empty = {**categories, "rows": [], "total": 0}
    assert "No data for this period." in page.render(program(), campaigns(), segments(), stores(), customers(),
                                                     empty, skus)
