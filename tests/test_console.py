"""The marketer's console over HTTP (issue 18 part 5): every page and POST with each kind of key, CSRF refused
with nothing changed, bad YAML and bad template parameters answered with their paths and nothing published,
and publish, diff and rollback through the forms; a draft simulated from the editor on a small stored history
(its progress while it runs, its figures by hand when done, its draft published from the results), bad drafts
and periods refused with their paths and nothing queued. tests/test_console_browser.py drives the same in
Chromium."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from app.console import csrf, simulation_pages
from tests import test_simulations_api as simulations_api
from tests.conftest import EXAMPLE, Servers
from tests.load import sql, worker_pids
from tests.support import Service, assert_problem, confirm, start_service

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
TEXTAREA = re.compile(r'<textarea id="yaml" name="yaml"[^>]*>(.*?)</textarea>', re.S)
PAGES = ("/console", "/console/templates", "/console/templates/welcome-bonus", "/console/campaigns/{campaign}",
         "/console/history", "/console/history/1", "/console/diff?version=1&against=1", "/console/simulations")
POSTS = ("/console/templates/welcome-bonus", "/console/publish", "/console/rollback", "/console/campaigns/{campaign}",
         "/console/simulate", "/console/campaigns/{campaign}/simulate")


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service()


@pytest.fixture(scope="module")
def marketer(svc: Service) -> httpx.Client:
    return svc.client(svc.key("marketer"))


def token_of(client: httpx.Client, path: str = "/console/templates/welcome-bonus") -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    found = TOKEN.search(answer.text)
    assert found, answer.text
    return found.group(1)


def newest(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/v1/program/versions", params={"limit": 1})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["versions"][0])


def first_campaign(client: httpx.Client) -> str:
    return str(client.get("/v1/campaigns").json()["campaigns"][0]["id"])


def errors_shown(page: str) -> list[str]:
    return [html.unescape(path) for path in re.findall(r'data-error-path="([^"]*)"', page)]


def simulation_count(service: Service) -> int:
    return int(sql(service.database_url, "SELECT count(*) AS n FROM simulations")[0]["n"])


def test_each_page_takes_a_marketer_and_refuses_a_pos_key_and_no_key(svc: Service, marketer: httpx.Client) -> None:
    pos, anonymous = svc.client(svc.key("pos")), svc.client(None)
    campaign = first_campaign(marketer)
    for path in (p.replace("{campaign}", campaign) for p in PAGES):
        shown = marketer.get(path)
        assert shown.status_code == 200, (path, shown.text)
        assert shown.headers["content-type"].startswith("text/html")
        policy = shown.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "form-action 'self'" in policy and "script" not in policy
        assert "<script" not in shown.text
        assert_problem(pos.get(path), 403, "forbidden")
        refused = anonymous.get(path)
        assert_problem(refused, 401, "unauthorized")
        assert refused.headers["www-authenticate"].startswith("Basic ")
    version, simulated = newest(marketer)["version"], simulation_count(svc)
    for path in (p.replace("{campaign}", campaign) for p in POSTS):
        assert_problem(pos.post(path, data={"csrf_token": token_of(marketer)}), 403, "forbidden")
        assert_problem(anonymous.post(path, data={}), 401, "unauthorized")
    assert newest(marketer)["version"] == version and simulation_count(svc) == simulated
    # Basic auth, as a browser sends it
    assert httpx.get(f"{svc.url}/console", auth=("me", svc.key("marketer"))).status_code == 200


def test_a_post_without_the_keys_csrf_token_is_refused_and_changes_nothing(svc: Service,
                                                                           marketer: httpx.Client) -> None:
    campaign = first_campaign(marketer)
    text = html.unescape(TEXTAREA.search(marketer.get(f"/console/campaigns/{campaign}").text).group(1))  # type: ignore[union-attr]
    before, simulated = newest(marketer)["version"], simulation_count(svc)
    other_keys = csrf.token(csrf.secret_of(None), "bootstrap")  # this process's secret, not the service's
    stale = token_of(svc.client(svc.key("marketer")))  # another marketer key's token
    for token in (None, "", "0" * 64, other_keys, stale):
        fields = {"yaml": text.replace("name:", "name: Changed", 1), "note": "should not land"}
        for path, data in (("/console/publish", fields), ("/console/rollback", {"version": "1"}),
                           ("/console/templates/welcome-bonus", {}), ("/console/simulate", fields),
                           (f"/console/campaigns/{campaign}/simulate", {"name": "x", "priority": "1"})):
            answer = marketer.post(path, data={**data, **({"csrf_token": token} if token is not None else {})})
            assert answer.status_code == 403, (path, token, answer.text)
            assert 'data-refused="csrf"' in answer.text and "Nothing was changed" in answer.text
            assert "form-action 'self'" in answer.headers["content-security-policy"]
    assert newest(marketer)["version"] == before
    assert simulation_count(svc) == simulated  # the Simulate forms started nothing either


def test_a_token_holds_for_its_window_and_the_one_before() -> None:
    secret = b"s" * 32
    made = csrf.token(secret, "k1", now_s=10 * csrf.WINDOW_S + 5)
    assert csrf.valid(secret, "k1", made, now_s=11 * csrf.WINDOW_S + 5)
    assert not csrf.valid(secret, "k1", made, now_s=12 * csrf.WINDOW_S + 5)
    assert not csrf.valid(secret, "k2", made, now_s=10 * csrf.WINDOW_S + 5)
    assert not csrf.valid(b"t" * 32, "k1", made, now_s=10 * csrf.WINDOW_S + 5)


def test_bad_yaml_is_shown_with_paths_and_nothing_is_published(marketer: httpx.Client) -> None:
    before = newest(marketer)["version"]
    token = token_of(marketer)
    cases = {
        "id: [unclosed": ["(text)"],
        "- a list": ["(text)"],
        "name: no id": ["id"],
        "id: bad-one\nname: Bad\npriority: 1\ntype: bonus\ntrigger: registration\npoints: -5\n": ["points"],
        "id: bad-two\nname: Bad\npriority: 1\ntype: receipt_discount\nthresholds: [{min_amount: 100, percent: 500}]\n":
            ["thresholds[0].percent"],
        "id: bad-three\nname: Bad\npriority: 1\ntype: no_such_type\n": ["type"],
    }
    for text, paths in cases.items():
        answer = marketer.post("/console/publish", data={"yaml": text, "note": "bad", "csrf_token": token})
        assert answer.status_code == 422, (text, answer.text)
        assert errors_shown(answer.text) == paths, (text, answer.text)
        assert html.unescape(TEXTAREA.search(answer.text).group(1)) == text  # type: ignore[union-attr]  # kept to fix
    assert newest(marketer)["version"] == before


def test_template_parameters_out_of_their_limits_are_shown_by_name(marketer: httpx.Client) -> None:
    form = marketer.get("/console/templates/welcome-bonus").text
    assert 'name="points"' in form and 'value="20000"' in form and 'min="1"' in form  # the catalogue's default, limit
    before = newest(marketer)["version"]
    answer = marketer.post("/console/templates/welcome-bonus",
                           data={"csrf_token": token_of(marketer), "points": "0", "expire_days": "many"})
    assert answer.status_code == 422, answer.text
    assert sorted(errors_shown(answer.text)) == ["expire_days", "points"]
    assert 'value="many"' in answer.text  # what was sent stays in the form
    assert newest(marketer)["version"] == before


def _made_from_template(client: httpx.Client, campaign_id: str, points: str) -> str:
    answer = client.post("/console/templates/welcome-bonus",
                         data={"csrf_token": token_of(client), "id": campaign_id, "points": points})
    assert answer.status_code == 200, answer.text
    return html.unescape(TEXTAREA.search(answer.text).group(1))  # type: ignore[union-attr]


def test_create_from_a_template_publish_with_a_note_diff_and_roll_back(marketer: httpx.Client) -> None:
    before = newest(marketer)["version"]
    text = _made_from_template(marketer, "console-welcome", "15000")
    assert "id: console-welcome\n" in text and "points: 15000\n" in text
    assert newest(marketer)["version"] == before  # making the campaign publishes nothing
    fields = {"yaml": text.replace("15000", "17000"), "note": "welcome from the console",
              "csrf_token": token_of(marketer)}
    published = marketer.post("/console/publish", data=fields)
    assert published.status_code == 303, published.text
    version = newest(marketer)
    assert published.headers["location"] == f"/console/history?published={version['version']}"
    assert version["version"] == before + 1 and version["note"] == "welcome from the console"
    assert version["author"] not in (None, "bootstrap")  # the marketer's key id
    assert marketer.get("/v1/campaigns/console-welcome").json()["points"] == 17000
    history = marketer.get(published.headers["location"]).text
    assert f'<tr data-version="{before + 1}">' in history and "welcome from the console" in history
    overview = marketer.get("/console").text
    row = overview.split('data-campaign="console-welcome"', 1)[1].split("</tr>", 1)[0]
    assert "data-status>active<" in row
    diff = marketer.get("/console/diff", params={"version": before + 1, "against": before}).text
    assert '<ul data-diff="added"><li>console-welcome</li></ul>' in diff

    edited = marketer.get("/console/campaigns/console-welcome").text
    text = html.unescape(TEXTAREA.search(edited).group(1))  # type: ignore[union-attr]
    assert marketer.post("/console/publish", data={"yaml": text.replace("17000", "19000"), "note": "more",
                                                   "csrf_token": TOKEN.search(edited).group(1)}).status_code == 303  # type: ignore[union-attr]
    diff = marketer.get("/console/diff", params={"version": before + 2, "against": before + 1}).text
    assert 'data-path="points"' in diff and ">17000<" in diff and ">19000<" in diff

    rolled = marketer.post("/console/rollback", data={"version": str(before), "note": "undo",
                                                      "csrf_token": token_of(marketer, f"/console/history/{before}")})
    assert rolled.status_code == 303, rolled.text
    restored = newest(marketer)
    assert restored["version"] == before + 3 and restored["note"] == "undo"
    assert marketer.get("/v1/campaigns/console-welcome").status_code == 404
    assert (marketer.get(f"/v1/program/versions/{before + 3}").json()
            == marketer.get(f"/v1/program/versions/{before}").json())


def test_rollback_to_a_version_that_does_not_exist_changes_nothing(marketer: httpx.Client) -> None:
    before = newest(marketer)["version"]
    token = token_of(marketer)
    assert marketer.post("/console/rollback", data={"version": "x", "csrf_token": token}).status_code == 422
    assert_problem(marketer.post("/console/rollback", data={"version": "999999", "csrf_token": token}), 404,
                   "program_version_not_found")
    assert newest(marketer)["version"] == before


def test_a_campaigns_status_follows_its_dates(marketer: httpx.Client) -> None:
    token = token_of(marketer)
    for campaign_id, active in (("console-later", "{from: '2999-01-01T00:00:00Z'}"),
                                ("console-over", "{from: '2001-01-01T00:00:00Z', to: '2002-01-01T00:00:00Z'}")):
        text = (f"id: {campaign_id}\nname: Dated\npriority: 1\ntype: bonus\ntrigger: registration\npoints: 100\n"
                f"active: {active}\n")
        answer = marketer.post("/console/publish", data={"yaml": text, "csrf_token": token})
        assert answer.status_code == 303, answer.text
    page = marketer.get("/console").text
    for campaign_id, status in (("console-later", "scheduled"), ("console-over", "ended")):
        row = page.split(f'data-campaign="{campaign_id}"', 1)[1].split("</tr>", 1)[0]
        assert f"data-status>{status}<" in row, row


def test_a_campaigns_window_shows_the_days_its_program_writes(marketer: httpx.Client) -> None:
    """At +03:00 from midnight of 1 Nov to midnight of 1 Jan (the example's campaigns): those days, not the
    UTC days before them."""
    text = ("id: console-moscow\nname: Moscow\npriority: 1\ntype: bonus\ntrigger: registration\npoints: 100\n"
            "active: {from: '2026-11-01T00:00:00+03:00', to: '2027-01-01T00:00:00+03:00'}\n")
    answer = marketer.post("/console/publish", data={"yaml": text, "csrf_token": token_of(marketer)})
    assert answer.status_code == 303, answer.text
    row = marketer.get("/console").text.split('data-campaign="console-moscow"', 1)[1].split("</tr>", 1)[0]
    assert "<td>1 Nov 2026</td><td>1 Jan 2027</td>" in row, row


def test_the_main_fields_form_changes_them_and_keeps_the_rest(marketer: httpx.Client) -> None:
    campaign_id = first_campaign(marketer)
    before = marketer.get(f"/v1/campaigns/{campaign_id}").json()
    shown = marketer.get(f"/console/campaigns/{campaign_id}").text
    assert f'id="f-name" name="name" type="text" value="{html.escape(before["name"])}"' in shown
    token = TOKEN.search(shown).group(1)  # type: ignore[union-attr]
    version = newest(marketer)["version"]
    bad = {"name": "", "priority": "soon", "from": "2027-01-01T00:00:00+00:00", "to": "2026-01-01T00:00:00+00:00",
           "note": "bad", "csrf_token": token}
    refused = marketer.post(f"/console/campaigns/{campaign_id}", data=bad)
    assert refused.status_code == 422, refused.text
    assert sorted(errors_shown(refused.text)) == ["active", "name", "priority"], refused.text
    assert 'value="soon"' in refused.text and newest(marketer)["version"] == version
    good = {**bad, "name": "Renamed in the console", "priority": "7", "from": "", "to": "2999-01-01T00:00:00+00:00",
            "note": "rename", "csrf_token": token}
    assert marketer.post(f"/console/campaigns/{campaign_id}", data=good).status_code == 303
    after = marketer.get(f"/v1/campaigns/{campaign_id}").json()
    assert after == {**before, "name": "Renamed in the console", "priority": 7,
                     "active": {"to": "2999-01-01T00:00:00Z"}}, after
    assert newest(marketer)["version"] == version + 1 and newest(marketer)["note"] == "rename"
    missing = {"csrf_token": token, "name": "x", "priority": "1"}
    assert_problem(marketer.post("/console/campaigns/no-such-campaign", data=missing), 404, "campaign_not_found")


def test_a_form_of_too_many_fields_is_refused_and_changes_nothing(marketer: httpx.Client) -> None:
    before = newest(marketer)["version"]
    fields = {f"f{index}": "x" for index in range(101)} | {"csrf_token": token_of(marketer)}
    assert_problem(marketer.post("/console/publish", data=fields), 422, "validation_error")
    assert newest(marketer)["version"] == before


def test_the_workers_of_one_server_share_the_csrf_secret(servers: Servers) -> None:
    """`serve --workers 2` without BONUS_ENGINE_CONSOLE_SECRET: a form loaded from one worker posts to the other."""
    service = start_service(servers.new_database(), servers.redis_url, f"t{servers.run_id}console2:",
                            EXAMPLE.read_text(), {}, workers=2)
    try:
        client = service.client()
        token = token_of(client)
        answers = [httpx.post(f"{service.url}/console/templates/welcome-bonus", data={"csrf_token": token},
                              headers=client.headers, timeout=30) for _ in range(20)]  # a new connection each
        assert [answer.status_code for answer in answers] == [200] * 20
        assert len(worker_pids(service)) == 2
    finally:
        service.stop()


# --- simulate ---------------------------------------------------------------------------------------


def _simulated(answer: httpx.Response) -> int:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/console/simulations/(\d+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def test_a_bad_draft_period_or_baseline_is_shown_with_paths_and_nothing_is_simulated(
        svc: Service, marketer: httpx.Client) -> None:
    token, simulated = token_of(marketer), simulation_count(svc)
    period = {"period_from": "2026-11-01", "period_to": "2026-11-30", "baseline": "active"}
    drafts = {  # the same paths as publishing shows (test_bad_yaml_is_shown_with_paths_and_nothing_is_published)
        "id: [unclosed": ["(text)"],
        "name: no id": ["id"],
        "id: bad-one\nname: Bad\npriority: 1\ntype: bonus\ntrigger: registration\npoints: -5\n": ["points"],
        "id: bad-two\nname: Bad\npriority: 1\ntype: receipt_discount\nthresholds: [{min_amount: 100, percent: 500}]\n":
            ["thresholds[0].percent"],
        "id: bad-three\nname: Bad\npriority: 1\ntype: no_such_type\n": ["type"],
    }
    good = "id: fine\nname: Fine\npriority: 1\ntype: receipt_discount\nthresholds: [{min_amount: 0, percent: 5}]\n"
    periods = {  # a good draft over a wrong period or against a wrong baseline
        "period_from": ({"period_from": "yesterday"}, ["period_from"]),
        "reversed": ({"period_from": "2026-12-01", "period_to": "2026-11-01"}, ["period_to"]),
        "too long": ({"period_from": "2024-01-01", "period_to": "2026-01-01"}, ["period_to"]),
        "baseline": ({"baseline": "latest"}, ["baseline"]),
        "no such version": ({"baseline": "999999"}, ["baseline"]),
        "both dates": ({"period_from": "x", "period_to": "y"}, ["period_from", "period_to"]),
    }
    cases = [(text, period, paths) for text, paths in drafts.items()]
    cases += [(good, {**period, **changed}, paths) for changed, paths in periods.values()]
    for text, fields, paths in cases:
        answer = marketer.post("/console/simulate", data={"yaml": text, "note": "kept", "csrf_token": token, **fields})
        assert answer.status_code == 422, (text, fields, answer.text)
        assert errors_shown(answer.text) == paths, (text, fields, answer.text)
        assert html.unescape(TEXTAREA.search(answer.text).group(1)) == text  # type: ignore[union-attr]  # kept to fix
        for name, value in fields.items():  # the period as sent, to correct
            assert f'name="{name}" type="{"text" if name == "baseline" else "date"}" value="{value}"' in answer.text
    campaign = first_campaign(marketer)
    refused = marketer.post(f"/console/campaigns/{campaign}/simulate",
                            data={"name": "x", "priority": "soon", "csrf_token": token, **period})
    assert refused.status_code == 422 and errors_shown(refused.text) == ["priority"], refused.text
    assert 'value="soon"' in refused.text
    assert_problem(marketer.post("/console/campaigns/no-such-campaign/simulate",
                                 data={"name": "x", "priority": "1", "csrf_token": token, **period}),
                   404, "campaign_not_found")
    assert simulation_count(svc) == simulated


def test_the_editor_and_the_fields_form_offer_simulate_over_the_last_30_days(marketer: httpx.Client) -> None:
    campaign = first_campaign(marketer)
    shown = marketer.get(f"/console/campaigns/{campaign}").text
    today = datetime.now(UTC).date()  # the example's report time zone is UTC (the default)
    first = (today - timedelta(days=29)).isoformat()
    for prefix in ("", "f-"):
        assert f'id="{prefix}period_from" name="period_from" type="date" value="{first}"' in shown
        assert f'id="{prefix}period_to" name="period_to" type="date" value="{today.isoformat()}"' in shown
        assert f'id="{prefix}baseline" name="baseline" type="text" value="active"' in shown
    assert 'formaction="/console/simulate" data-action="simulate"' in shown
    assert f'formaction="/console/campaigns/{campaign}/simulate" data-action="simulate"' in shown
    assert '<a href="/console/simulations">Simulations</a>' in marketer.get("/console").text


# A small stored history, as tests/test_simulations_api.py builds and works it out by hand (its docstring): the
# program P gives 10 % off every receipt, the draft 20 %. Over the last two days, three receipts:
#   r1  C1 (silver, 5,400 points), 100,000, redeems 2,000;  r2  C2 (new), 50,000;  r3  no card, 30,000.
# Draft:    discounts 20,000 + 10,000 + 6,000 = 36,000; accrued (80,000 − 2,000) × 5 % + 40,000 × 3 % = 3,900 + 1,200
#           = 5,100; redeemed 2,000; cost 36,000 + 5,100 = 41,100; revenue 80,000 + 40,000 + 24,000 = 144,000, 48,000
#           a receipt.
# Baseline: discounts 10,000 + 5,000 + 3,000 = 18,000; accrued (90,000 − 2,000) × 5 % + 45,000 × 3 % = 4,400 + 1,350
#           = 5,750; cost 23,750; revenue 90,000 + 45,000 + 27,000 = 162,000, 54,000 a receipt.
# Shown in major units: 360.00 against 180.00 (+180.00), 51.00 against 57.50 (-6.50), cost 411.00 against 237.50
# (+173.50), revenue per receipt 480.00 against 540.00 (-60.00). The campaign touches every receipt: untouched "—".
TOTALS_BY_HAND = {"receipts": ("3", "3", "0"), "discount": ("360.00", "180.00", "+180.00"),
                  "points_granted": ("51.00", "57.50", "-6.50"), "points_redeemed": ("20.00", "20.00", "0.00"),
                  "coupon_uses": ("0", "0", "0"), "cost": ("411.00", "237.50", "+173.50"),
                  "revenue": ("1,440.00", "1,620.00", "-180.00"), "revenue_per_receipt": ("480.00", "540.00", "-60.00")}
CAMPAIGN_BY_HAND = {"receipts": "3", "discount": "360.00", "points": "0.00", "coupon_uses": "0", "cost": "360.00",
                    "baseline_cost": "180.00", "cost_difference": "+180.00", "revenue_per_receipt_touched": "480.00",
                    "revenue_per_receipt_untouched": "—"}


def stored_history(make_module_service: Callable[..., Service]) -> Service:
    """A service under P with the history and the period's receipts confirmed (tests/test_simulations_api.py's),
    whose worker looks for queued simulations every 0.2 s."""
    service = make_module_service(simulations_api.P, **simulations_api.ENV)
    client = service.client()
    confirm(client, simulations_api._history("2900000000001"))
    for body in simulations_api._period("2900000000001", "2900000000002"):
        confirm(client, body)
    return service


@pytest.fixture(scope="module")
def history(make_module_service: Callable[..., Service]) -> Service:
    return stored_history(make_module_service)


@contextmanager
def receipts_locked(database_url: str) -> Iterator[None]:
    """`receipts` locked by a transaction of the test's own: a simulation that starts meanwhile waits on it (queued
    or running, never done) until the block ends."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(database_url))
    try:
        loop.run_until_complete(conn.execute("BEGIN; LOCK TABLE receipts IN ACCESS EXCLUSIVE MODE"))
        yield
    finally:
        loop.run_until_complete(conn.close())  # ends the transaction and its lock
        loop.close()


def wait_finished(client: httpx.Client, simulation: int, timeout_s: float = 60) -> str:
    """The simulation's page once it no longer reloads itself (done or failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        shown = client.get(f"/console/simulations/{simulation}")
        assert shown.status_code == 200, shown.text
        if 'http-equiv="refresh"' not in shown.text or time.monotonic() > deadline:
            return shown.text
        time.sleep(0.2)


def total_shown(page: str, key: str) -> tuple[str, ...]:
    row = page.split(f'<tr data-total="{key}">', 1)[1].split("</tr>", 1)[0]
    return tuple(html.unescape(re.search(rf'data-side="{side}">([^<]*)<', row).group(1))  # type: ignore[union-attr]
                 for side in ("draft", "baseline", "difference"))


def campaign_shown(page: str, campaign_id: str) -> dict[str, str]:
    row = page.split(f'<tr data-campaign="{campaign_id}">', 1)[1].split("</tr>", 1)[0]
    return {name: html.unescape(value) for name, value in re.findall(r'data-figure="([a-z_]+)">([^<]*)<', row)}


def test_a_draft_simulated_from_the_editor_shows_progress_then_the_figures_by_hand_and_publishes(
        history: Service) -> None:
    client = history.client(history.key("marketer"))
    first, last = simulations_api._days()
    draft = yaml.safe_dump(simulations_api.DRAFT_CAMPAIGN, sort_keys=False)
    fields = {"yaml": draft, "note": "", "period_from": first, "period_to": last, "baseline": "active",
              "csrf_token": token_of(client, "/console/campaigns/ten-off")}
    with receipts_locked(history.database_url):
        simulation = _simulated(client.post("/console/simulate", data=fields))
        running = client.get(f"/console/simulations/{simulation}")
        assert running.status_code == 200 and '<meta http-equiv="refresh" content="2">' in running.text
        assert re.search(r'data-status>(queued|running)<', running.text), running.text
        assert "data-progress=" in running.text and "data-total=" not in running.text
        assert running.headers["content-security-policy"].startswith("default-src 'none'")
        assert "<script" not in running.text
    shown = wait_finished(client, simulation)
    assert "data-status>done<" in shown and 'http-equiv="refresh"' not in shown, shown
    job = client.get(f"/v1/simulations/{simulation}").json()
    assert job["author"].startswith("key:") and job["from"] == first and job["to"] == last
    for key, figures in TOTALS_BY_HAND.items():
        assert total_shown(shown, key) == figures, key
    assert campaign_shown(shown, "ten-off") == CAMPAIGN_BY_HAND
    svg = shown.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "Off everything · draft" in svg and "Off everything · baseline" in svg and 'class="bar"' in svg
    assert "cost 360.00" in svg and "cost 180.00" in svg and "<image" not in svg and "href" not in svg
    assert "<script" not in shown

    # the draft, from the job's row: its YAML back in the editor, over the same period and baseline
    assert 'data-draft="ten-off"' in shown
    edited = client.get(f"/console/simulations/{simulation}/campaigns/ten-off")
    assert edited.status_code == 200, edited.text
    text = html.unescape(TEXTAREA.search(edited.text).group(1))  # type: ignore[union-attr]
    assert yaml.safe_load(text).items() >= simulations_api.DRAFT_CAMPAIGN.items()  # and stored defaults
    assert f'name="period_from" type="date" value="{first}"' in edited.text
    assert f'name="baseline" type="text" value="{job["baseline_version"]}"' in edited.text
    assert_problem(client.get(f"/console/simulations/{simulation}/campaigns/no-such"), 404, "campaign_not_found")
    assert_problem(client.get("/console/simulations/999999"), 404, "simulation_not_found")

    assert_problem(client.get("/console/simulations", params={"cursor": "x"}), 422, "invalid_cursor")
    listing = client.get("/console/simulations").text
    assert "Older simulations" not in listing  # one page holds them all
    row = listing.split(f'<tr data-simulation="{simulation}">', 1)[1].split("</tr>", 1)[0]
    assert f'href="/console/simulations/{simulation}"' in row and ">done<" in row and "3 of 3 (100%)" in row

    # "Publish this draft": the form on the results page, with its note
    form = shown.split('data-form="publish-draft"', 1)[1].split("</form>", 1)[0]
    hidden = html.unescape(re.search(r'name="yaml" value="([^"]*)"', form).group(1))  # type: ignore[union-attr]
    assert 'action="/console/publish"' in shown.split('data-form="publish-draft"', 1)[0][-200:]
    before = newest(client)["version"]
    published = client.post("/console/publish", data={"yaml": hidden, "note": "twenty after the simulation",
                                                      "csrf_token": TOKEN.search(form).group(1)})  # type: ignore[union-attr]
    assert published.status_code == 303, published.text
    assert newest(client)["version"] == before + 1 and newest(client)["note"] == "twenty after the simulation"
    assert client.get("/v1/campaigns/ten-off").json()["thresholds"] == [{"min_amount": 0, "percent": 20}]


def test_a_simulation_page_says_how_far_it_is_and_why_it_failed() -> None:
    """The page of each state, from the job as GET /v1/simulations/{id} answers it."""
    job = {"id": 7, "status": "queued", "from": "2026-11-01", "to": "2026-11-30", "baseline_version": 3,
           "author": "key:1", "progress": {"receipts_done": 0, "receipts_total": None},
           "created_at": "2026-12-07T01:00:00+00:00", "started_at": None, "finished_at": None}
    draft = [({"id": "<x>", "name": "X & Y"}, "id: <x>\n")]
    cases = (({}, "Waiting for a worker", 'data-progress=""'),
             ({"status": "running"}, "Counting the receipts", 'data-progress=""'),
             ({"status": "running", "progress": {"receipts_done": 2, "receipts_total": 3}},
              "2 of 3 receipts replayed (66%)", 'data-progress="66"'),
             ({"status": "running", "progress": {"receipts_done": 0, "receipts_total": 0}},
              "0 of 0 receipts replayed (100%)", 'data-progress="100"'))
    for changed, said, mark in cases:
        shown = simulation_pages.simulation({**job, **changed}, draft, [], "t" * 64)
        assert said in shown and mark in shown, shown
        assert '<meta http-equiv="refresh" content="2"></head>' in shown
        assert "<x>" not in shown and "&lt;x&gt;" in shown and "X &amp; Y" in shown  # escaped
    failed = simulation_pages.simulation({**job, "status": "failed", "error": "its process exited with code 1",
                                          "finished_at": "2026-12-07T01:05:00+00:00"}, draft, ["old"], "t" * 64)
    assert "The simulation failed: its process exited with code 1" in failed and "data-failed" in failed
    assert "http-equiv" not in failed and "leaves out old" in failed
    assert "it changes no campaign" in simulation_pages.simulation({**job, "status": "failed", "error": "x"}, [], [],
                                                                   "t" * 64)


def test_a_failed_simulation_shows_its_error(history: Service) -> None:
    client = history.client(history.key("marketer"))
    failed = sql(history.database_url,
                 "INSERT INTO simulations (status, period_from, period_to, program, baseline, baseline_version, error,"
                 " finished_at) SELECT 'failed', current_date, current_date, document, document, version,"
                 " 'its instance stopped while it ran; submit it again', now() FROM programs ORDER BY version DESC"
                 " LIMIT 1 RETURNING id")[0]["id"]
    shown = client.get(f"/console/simulations/{failed}").text
    assert "data-status>failed<" in shown and "its instance stopped while it ran" in shown
    assert "http-equiv" not in shown and "it changes no campaign" in shown


def test_the_fields_form_simulates_the_campaign_with_its_fields_and_a_pos_key_is_refused(history: Service) -> None:
    client = history.client(history.key("marketer"))
    first, last = simulations_api._days()
    token = token_of(client, "/console/campaigns/ten-off")
    current = client.get("/v1/campaigns/ten-off").json()
    simulation = _simulated(client.post("/console/campaigns/ten-off/simulate", data={
        "name": "Renamed for the simulation", "priority": "10", "from": "", "to": "", "csrf_token": token,
        "period_from": first, "period_to": last, "baseline": "active"}))
    shown = wait_finished(client, simulation)
    assert "data-status>done<" in shown, shown
    assert client.get("/v1/campaigns/ten-off").json() == current  # nothing published
    # the draft is the campaign as it is, renamed: the same discount as the baseline, nothing more to pay
    assert campaign_shown(shown, "ten-off")["cost_difference"] == "0.00"
    assert "Renamed for the simulation · draft" in shown
    pos = history.client(history.key("pos"))
    for path in (f"/console/simulations/{simulation}", "/console/simulations",
                 f"/console/simulations/{simulation}/campaigns/ten-off"):
        assert_problem(pos.get(path), 403, "forbidden")
        assert_problem(history.client(None).get(path), 401, "unauthorized")
    simulated = simulation_count(history)
    assert_problem(pos.post("/console/simulate", data={"yaml": "id: x", "csrf_token": token}), 403, "forbidden")
    assert simulation_count(history) == simulated
