"""The marketer's console over HTTP (issue 18 part 5): every page and POST with each kind of key, CSRF refused
with nothing changed, bad YAML and bad template parameters answered with their paths and nothing published,
and publish, diff and rollback through the forms. tests/test_console_browser.py drives the same in Chromium."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.console import csrf
from tests.conftest import EXAMPLE, Servers
from tests.load import worker_pids
from tests.support import Service, assert_problem, start_service

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
TEXTAREA = re.compile(r'<textarea id="yaml" name="yaml"[^>]*>(.*?)</textarea>', re.S)
PAGES = ("/console", "/console/templates", "/console/templates/welcome-bonus", "/console/campaigns/{campaign}",
         "/console/history", "/console/history/1", "/console/diff?version=1&against=1")
POSTS = ("/console/templates/welcome-bonus", "/console/publish", "/console/rollback", "/console/campaigns/{campaign}")


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
    version = newest(marketer)["version"]
    for path in (p.replace("{campaign}", campaign) for p in POSTS):
        assert_problem(pos.post(path, data={"csrf_token": token_of(marketer)}), 403, "forbidden")
        assert_problem(anonymous.post(path, data={}), 401, "unauthorized")
    assert newest(marketer)["version"] == version
    # Basic auth, as a browser sends it
    assert httpx.get(f"{svc.url}/console", auth=("me", svc.key("marketer"))).status_code == 200


def test_a_post_without_the_keys_csrf_token_is_refused_and_changes_nothing(svc: Service,
                                                                           marketer: httpx.Client) -> None:
    campaign = first_campaign(marketer)
    text = html.unescape(TEXTAREA.search(marketer.get(f"/console/campaigns/{campaign}").text).group(1))  # type: ignore[union-attr]
    before = newest(marketer)["version"]
    other_keys = csrf.token(csrf.secret_of(None), "bootstrap")  # this process's secret, not the service's
    stale = token_of(svc.client(svc.key("marketer")))  # another marketer key's token
    for token in (None, "", "0" * 64, other_keys, stale):
        fields = {"yaml": text.replace("name:", "name: Changed", 1), "note": "should not land"}
        for path, data in (("/console/publish", fields), ("/console/rollback", {"version": "1"}),
                           ("/console/templates/welcome-bonus", {})):
            answer = marketer.post(path, data={**data, **({"csrf_token": token} if token is not None else {})})
            assert answer.status_code == 403, (path, token, answer.text)
            assert 'data-refused="csrf"' in answer.text and "Nothing was changed" in answer.text
            assert "form-action 'self'" in answer.headers["content-security-policy"]
    assert newest(marketer)["version"] == before


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
