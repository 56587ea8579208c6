"""`GET /reports` in a real browser: Debian's Chromium, headless, against the service over real HTTP.

Chromium sends the admin key as HTTP Basic credentials from the URL (after the page's 401 challenge), takes
a screenshot and dumps the DOM; the DOM must hold the figures the JSON API gives for the same period, and
the screenshot must be a real, non-blank picture of the page. Chromium missing is a failure, not a skip:
CI installs it (.ci/run).

BONUS_REPORTS_SCREENSHOT=docs/reports.png also confirms a month of synthetic receipts (loadtests.make_receipts)
and saves the screenshot there, for docs/reports.md.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from app.core import text
from app.reports import page
from loadtests.make_receipts import MSK
from loadtests.make_receipts import receipts as synthetic_receipts
from tests.support import ADMIN_KEY, Service, card, confirm, line, receipt

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 2400
README_HEIGHT = 5050
SCREENSHOT = os.environ.get("BONUS_REPORTS_SCREENSHOT")
CHALLENGE = 'Basic realm="bonus-engine reports"'


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    """Its own service, so the report counts only this module's receipts."""
    service = make_module_service()
    client = service.client()
    cards = [card() for _ in range(3)]
    for index, amount in enumerate((1_299_000, 649_000, 250_000, 89_000, 1_000_000)):
        lines = [line("1", amount, sku="BOOT-123", category="shoes/winter"),
                 line("2", 29_000, "1", sku="SOCKS-1", category="socks")]
        confirm(client, receipt(lines, cards[index % 3] if index < 4 else None, store_id="s1"))
    if SCREENSHOT:
        _confirm_a_month(client)
    return service


def _confirm_a_month(client: httpx.Client) -> None:
    """~200 receipts of a shoe chain over the 29 days before today (the program takes 30 days back)."""
    today = datetime.now(UTC).astimezone(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
    for body in synthetic_receipts(200, seed=7, cards=60, start=today - timedelta(days=29), days=29):
        confirm(client, body)


def browser(*args: str, height: int = HEIGHT, timeout_s: float = 45) -> subprocess.CompletedProcess[str]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-extensions", f"--window-size={WIDTH},{height}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def page_url(svc: Service, key: str, query: str = "") -> str:
    return svc.url.replace("http://", f"http://reports:{quote(key, safe='')}@") + "/reports" + query


# --- the page in Chromium ---------------------------------------------------------------------------


def test_chromium_shows_the_figures_of_the_json_api(svc: Service, tmp_path: Path) -> None:
    dom = browser(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page_url(svc, ADMIN_KEY)).stdout
    report = svc.client().get("/v1/reports/program")
    assert report.status_code == 200, report.text
    figures = report.json()
    shown = dict(re.findall(r'data-kpi="([a-z0-9_]+)">([^<]*)<', dom))
    assert shown["receipts"] == text.count(figures["receipts"]["total"])
    assert figures["receipts"]["total"] >= 5
    assert shown["revenue"] == text.amount(figures["revenue"]["total"])
    assert shown["average_check"] == text.amount(figures["average_check"]["all"])
    assert shown["average_check_with_card"] == text.amount(figures["average_check"]["with_card"])
    assert shown["average_check_without_card"] == text.amount(figures["average_check"]["without_card"])
    assert shown["identified_share"] == page.share(figures["receipts"]["identified_share"])
    assert shown["points_accrued"] == text.amount(figures["points"]["accrued"])
    assert shown["liability"] == text.amount(figures["liability"]["outstanding"])
    assert shown["active_members"] == text.count(figures["members"]["active"])
    assert len(re.findall(r'<rect class="bar"', dom.split("<title>Receipts per day</title>", 1)[1]
                          .split("</svg>", 1)[0])) == len(figures["days"])
    assert "Winter: 5% from 5,000, 10% from 10,000" in dom  # the example program's campaign, by name
    kpis = figures["kpis"]
    assert shown["new_buyers"] == text.count(kpis["new_buyers"]) and kpis["new_buyers"] >= 3
    assert shown["churn_to_new"] == page.decimal(kpis["churn_to_new"])
    assert shown["revenue_per_member"] == text.amount(kpis["revenue_per_member"])
    assert shown["points_cost_per_member"] == text.amount(kpis["points_cost_per_member"])
    stores = svc.client().get("/v1/reports/stores").json()["stores"]
    s1 = next(row for row in stores if row["store"] == "s1")
    assert cells(dom, f'data-store="{s1["store"]}"') == [
        text.count(s1["receipts"]), text.amount(s1["revenue"]), text.amount(s1["average_check"]),
        page.share(s1["identified_share"]), text.count(s1["registrations"]), text.count(s1["members"]),
        page.decimal(s1["purchase_frequency"])]
    top = svc.client().get("/v1/reports/customers", params={"order": "amount", "limit": "10"}).json()["customers"]
    assert len(top) == 3 and dom.count("data-card=") == 3
    for customer in top:
        assert cells(dom, f'data-card="{customer["card"]}"')[:4] == [
            text.count(customer["receipts"]), text.amount(customer["amount"]),
            page.decimal(customer["items_per_receipt"]), text.amount(customer["ltv"])]
    for title in ("Revenue per store", "Top customers by amount in the period",
                  "Share of receipts and of revenue per customer segment"):
        assert f"<title>{title}</title>" in dom, title
    categories = svc.client().get("/v1/reports/abc").json()
    skus = svc.client().get("/v1/reports/abc", params={"by": "sku"}).json()
    # shoes/winter (the boots) hold most of the revenue: A; socks: the rest
    assert [(r["key"], r["class"]) for r in categories["rows"]] == [("shoes/winter", "A"), ("socks", "C")]
    chart = dom.split("<title>Revenue per category, classed A, B and C</title>", 1)[1].split("</svg>", 1)[0]
    assert len(re.findall(r'<rect class="bar"', chart)) == 2 and "shoes/winter: class A" in chart
    for klass in ("A", "B", "C"):
        of = [next(c for c in report["classes"] if c["class"] == klass) for report in (categories, skus)]
        assert cells(dom, f'data-abc-class="{klass}"') == [
            value for c in of for value in (text.count(c["keys"]), page.share(c["share"]))]


def test_chromium_goes_from_a_segment_to_each_customers_card(svc: Service, tmp_path: Path) -> None:
    """The page links each CVM segment's members; each member's row links their card, whose figures are the
    insights API's (issue 14)."""
    profile = f"--user-data-dir={tmp_path / 'profile'}"
    client = svc.client()
    assert 'href="/reports/segments/newcomer"' in browser(profile, "--dump-dom", page_url(svc, ADMIN_KEY)).stdout
    members = client.get("/v1/reports/segments/newcomer/members").text.splitlines()[1:]
    numbers = [row.split(",")[0] for row in members]
    assert len(numbers) == 3
    dom = browser(profile, "--dump-dom", page_url(svc, ADMIN_KEY, "/segments/newcomer")).stdout
    assert re.findall(r'<a href="/reports/customers/([0-9]+)">', dom) == numbers  # by card, as the CSV
    for number in numbers:
        card_dom = browser(profile, "--dump-dom", page_url(svc, ADMIN_KEY, f"/customers/{number}")).stdout
        figures = client.get(f"/v1/accounts/{number}/insights").json()
        shown = dict(re.findall(r'data-kpi="([a-z0-9_]+)">([^<]*)<', card_dom))
        assert shown["ltv"] == text.amount(figures["ltv"]) and figures["ltv"] > 0
        assert shown["receipts"] == text.count(figures["receipts"])
        assert shown["average_check"] == text.amount(figures["average_check"])
        assert shown["items_per_receipt"] == page.decimal(figures["items_per_receipt"]) == "2.00"
        assert shown["points_earned"] == text.amount(figures["points"]["earned"])
        assert shown["rfm"] == "R{r} F{f} M{m}".format(**figures["rfm"])
        assert "<title>What the customer paid per category</title>" in card_dom and "shoes/winter" in card_dom
        assert f"Customer {number}" in card_dom
    answer = client.get("/reports/customers/2999999999999")
    assert answer.status_code == 404 and answer.json()["code"] == "account_not_found"
    answer = client.get("/reports/segments/vip")
    assert answer.status_code == 404 and answer.json()["code"] == "segment_not_found"
    pos = svc.client(svc.key("pos"))
    assert pos.get(f"/reports/customers/{numbers[0]}").status_code == 403
    assert pos.get("/reports/segments/newcomer").status_code == 403
    assert httpx.get(f"{svc.url}/reports/customers/{numbers[0]}").status_code == 401


def cells(dom: str, row: str) -> list[str]:
    """The data cells of the table row with this attribute, as the browser's DOM holds them."""
    return re.findall(r"<td>([^<]*)</td>", dom.split(row + ">", 1)[1].split("</tr>", 1)[0])


def test_chromium_takes_a_screenshot_of_the_page(svc: Service, tmp_path: Path) -> None:
    shot, blank = tmp_path / "reports.png", tmp_path / "blank.png"
    browser(f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", page_url(svc, ADMIN_KEY))
    browser(f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={blank}", "about:blank")
    assert png_size(shot) == (WIDTH, HEIGHT)
    # a blank page compresses to almost nothing; the report's text, cards and charts do not
    assert shot.stat().st_size > 5 * blank.stat().st_size, (shot.stat().st_size, blank.stat().st_size)
    if SCREENSHOT:  # the whole page, as a month of receipts fills it (Chromium cannot shoot past the window)
        browser(f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={SCREENSHOT}", page_url(svc, ADMIN_KEY),
                height=README_HEIGHT)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature, and that the image data
    inflates to exactly the size those promise (8-bit RGB or RGBA rows, each with its filter byte)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and color in (2, 6), (depth, color)
    idat, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + width * (3 if color == 2 else 4))
    return width, height


# --- who may see it ---------------------------------------------------------------------------------


def test_chromium_without_the_key_sees_nothing(svc: Service, tmp_path: Path) -> None:
    profile = f"--user-data-dir={tmp_path / 'profile'}"
    for url in (f"{svc.url}/reports", page_url(svc, ADMIN_KEY + "x")):
        dom = browser(profile, "--dump-dom", url).stdout
        assert "data-kpi" not in dom and "Winter" not in dom, dom[:500]


def test_a_browser_is_asked_for_the_key(svc: Service) -> None:
    for headers in ({}, {"Authorization": f"Basic {_basic('x', ADMIN_KEY + 'x')}"},
                    {"Authorization": f"Basic {_basic(ADMIN_KEY, '')}"}, {"Authorization": "Basic !!!"},
                    {"Authorization": f"Bearer {ADMIN_KEY}x"}, {"Authorization": ADMIN_KEY}):
        answer = httpx.get(f"{svc.url}/reports", headers=headers, params={"from": "not-a-date"})
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["www-authenticate"] == CHALLENGE
        assert "Winter" not in answer.text


def test_an_admin_key_by_basic_auth_or_bearer_opens_it(svc: Service) -> None:
    for headers in ({"Authorization": f"Basic {_basic('anyone', ADMIN_KEY)}"},
                    {"Authorization": f"Bearer {ADMIN_KEY}"}):
        answer = httpx.get(f"{svc.url}/reports", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.text.startswith("<!DOCTYPE html>")
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
    admin = svc.key("admin")
    assert httpx.get(f"{svc.url}/reports", auth=("marketing", admin)).status_code == 200


def test_a_pos_key_is_refused(svc: Service) -> None:
    for key in (svc.key("pos"), svc.key("pos", "s1")):
        for headers in ({"Authorization": f"Basic {_basic('x', key)}"}, {"Authorization": f"Bearer {key}"}):
            answer = httpx.get(f"{svc.url}/reports", headers=headers)
            assert answer.status_code == 403, answer.text
            assert answer.json()["code"] == "forbidden"


def test_the_period_and_store_are_those_of_the_json_api(svc: Service) -> None:
    client = svc.client()
    today = datetime.now(UTC).date()
    query = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat(), "store": "s1"}
    answer = client.get("/reports", params=query)
    assert answer.status_code == 200, answer.text
    figures = client.get("/v1/reports/program", params=query).json()
    assert answer.text.count('<rect class="bar"') >= len(figures["days"]) == 7
    assert f'data-kpi="receipts">{text.count(figures["receipts"]["total"])}<' in answer.text
    assert "s1" in answer.text.split("</header>", 1)[0]
    for bad in ({"from": "yesterday"}, {"from": "2026-11-10", "to": "2026-11-01"}, {"store": "no spaces"}):
        refused, api = client.get("/reports", params=bad), client.get("/v1/reports/program", params=bad)
        assert refused.status_code == api.status_code == 422, refused.text
        assert refused.json()["code"] == api.json()["code"], (refused.text, api.text)


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()
