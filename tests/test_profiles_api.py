"""Profiles over HTTP (issue 14, part 1): set by any key at registration or later, read by admin keys only,
erased on request with the ledger and receipts kept; every bad input a clear 4xx that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.programs import program
from tests.support import Service, assert_problem, card, confirm, ledger, line, metric, receipt, register

EMPTY = {"birth_date": None, "gender": None, "attributes": {}, "updated_at": None}


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(levels=[{"id": "base", "min_purchases": 0, "accrual_percent": 3}]),
                               BONUS_ENGINE_REPORT_INTERVAL_S="0")


@pytest.fixture(scope="module")
def pos(svc: Service) -> httpx.Client:
    return svc.client(svc.key("pos"))


def profile(client: httpx.Client, number: str) -> dict[str, Any]:
    answer = client.get(f"/v1/accounts/{number}/profile")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def patch(client: httpx.Client, number: str, body: dict[str, Any]) -> None:
    answer = client.patch(f"/v1/accounts/{number}", json={"profile": body})
    assert answer.status_code == 204, answer.text
    assert answer.content == b""


def test_a_till_sets_the_profile_and_only_an_admin_reads_it(svc: Service, pos: httpx.Client) -> None:
    admin, number = svc.client(), card()
    register(pos, number)
    assert profile(admin, number) == {"card": number, **EMPTY}
    patch(pos, number, {"birth_date": "1990-05-17", "gender": "female",
                        "attributes": {"children": 2, "pets": "cat", "newsletter": True}})
    got = profile(admin, number)
    assert got["updated_at"] is not None
    assert {**got, "updated_at": None} == {"card": number, "birth_date": "1990-05-17", "gender": "female",
                                           "attributes": {"children": 2, "newsletter": True, "pets": "cat"},
                                           "updated_at": None}
    assert_problem(pos.get(f"/v1/accounts/{number}/profile"), 403, "forbidden")
    assert_problem(svc.client(None).get(f"/v1/accounts/{number}/profile"), 401, "unauthorized")
    assert_problem(svc.client(None).patch(f"/v1/accounts/{number}", json={"profile": {"gender": "male"}}),
                   401, "unauthorized")
    assert profile(admin, number)["gender"] == "female"


def test_a_patch_changes_what_it_names_and_null_removes(svc: Service, pos: httpx.Client) -> None:
    admin, number = svc.client(), card()
    register(pos, number, birth_date="1980-01-31")
    patch(pos, number, {"gender": "male", "attributes": {"children": 1, "pets": "dog", "store": "s17"}})
    # gender left out stays; pets removed; children replaced; a new key added; birth date cleared
    patch(pos, number, {"birth_date": None, "attributes": {"pets": None, "children": 3, "vip": False}})
    got = profile(admin, number)
    assert (got["birth_date"], got["gender"]) == (None, "male")
    assert got["attributes"] == {"children": 3, "store": "s17", "vip": False}
    patch(pos, number, {"gender": None, "birth_date": "1980-02-29"})
    got = profile(admin, number)
    assert (got["birth_date"], got["gender"], got["attributes"]["children"]) == ("1980-02-29", None, 3)


def test_registration_may_carry_the_profile(svc: Service, pos: httpx.Client) -> None:
    number = card()
    body = {"card": number, "phone": "+79001112233",
            "profile": {"birth_date": "1975-12-01", "gender": "unspecified", "attributes": {"family": "married"}}}
    created = pos.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    again = pos.post("/v1/accounts", json=body)  # the same body is a replay
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    other = pos.post("/v1/accounts", json={**body, "profile": {"gender": "male"}})
    assert_problem(other, 409, "account_exists")
    got = profile(svc.client(), number)
    assert (got["birth_date"], got["gender"], got["attributes"]) == ("1975-12-01", "unspecified",
                                                                     {"family": "married"})


def test_registration_without_a_profile_keeps_its_old_fingerprint(svc: Service, pos: httpx.Client) -> None:
    """A body sent before profiles existed still replays: `profile` left out is not part of the fingerprint."""
    number = card()
    register(pos, number, phone="+79001234567", birth_date="1990-05-17")
    again = pos.post("/v1/accounts", json={"card": number, "birth_date": "1990-05-17", "phone": "+79001234567"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert profile(svc.client(), number)["birth_date"] == "1990-05-17"  # one place: accounts.birth_date


def test_erasure_forgets_the_person_and_keeps_the_books(svc: Service, pos: httpx.Client) -> None:
    admin, number = svc.client(), card()
    register(pos, number, phone="+79005554433", birth_date="1990-05-17")
    patch(pos, number, {"gender": "female", "attributes": {"children": 2}})
    confirm(pos, receipt([line("1", 100000)], number))  # 3,000 points
    before = ledger(admin, number)
    assert_problem(pos.delete(f"/v1/accounts/{number}/profile"), 403, "forbidden")
    assert profile(admin, number)["gender"] == "female"
    erasures = metric(admin.get("/metrics").text, "bonus_profile_changes_total", operation="erase")
    erased = admin.delete(f"/v1/accounts/{number}/profile")
    assert erased.status_code == 204, erased.text
    assert metric(admin.get("/metrics").text, "bonus_profile_changes_total", operation="erase") == erasures + 1
    assert profile(admin, number) == {"card": number, **EMPTY}
    assert ledger(admin, number) == before and before[0]["points"] == 3000
    account = admin.get(f"/v1/accounts/{number}").json()
    assert account["points"]["available"] == 3000
    segment_csv = admin.get("/v1/reports/segments/newcomer/members").text
    assert number in segment_csv and "+79005554433" not in segment_csv  # the phone went too
    assert admin.delete(f"/v1/accounts/{number}/profile").status_code == 204  # erasing twice is no error
    # the customer may register again: the details are filled in, no second registration bonus
    again = pos.post("/v1/accounts", json={"card": number, "birth_date": "1991-01-01"})
    assert again.status_code == 200, again.text
    assert profile(admin, number)["birth_date"] == "1991-01-01"


def _too_many(count: int) -> dict[str, Any]:
    return {f"k{index}": index for index in range(count)}


BAD_PROFILES = [
    ({"gender": "other"}, "profile.gender"),
    ({"gender": "FEMALE"}, "profile.gender"),
    ({"birth_date": "17.05.1990"}, "profile.birth_date"),
    ({"birth_date": "1990-02-30"}, "profile.birth_date"),
    ({"birth_date": "1990-05-17T00:00:00Z"}, "profile.birth_date"),
    ({"birth_date": 19900517}, "profile.birth_date"),
    ({"birth_date": "1899-12-31"}, "profile.birth_date"),
    ({"birth_date": (date.today() + timedelta(days=2)).isoformat()}, "profile.birth_date"),
    ({"attributes": _too_many(33)}, "profile.attributes"),
    ({"attributes": {"pets": {"cat": 1}}}, "profile.attributes.pets"),
    ({"attributes": {"pets": ["cat"]}}, "profile.attributes.pets"),
    ({"attributes": {"weight": 72.5}}, "profile.attributes.weight"),
    ({"attributes": {"big": 10**15 + 1}}, "profile.attributes.big"),
    ({"attributes": {"note": "x" * 201}}, "profile.attributes.note"),
    ({"attributes": {"Pets": "cat"}}, "profile.attributes.Pets"),
    ({"attributes": {"k" * 41: 1}}, "profile.attributes"),
    ({"attributes": {"": 1}}, "profile.attributes"),
    ({"attributes": ["pets"]}, "profile.attributes"),
    ({"attributes": {"pets": "c\u0000t"}}, "profile.attributes.pets"),
    ({"phone": "+79001234567"}, "profile.phone"),
]


@pytest.mark.parametrize(("body", "path"), BAD_PROFILES)
def test_bad_profiles_are_refused_and_change_nothing(svc: Service, pos: httpx.Client, body: dict[str, Any],
                                                     path: str) -> None:
    admin, number = svc.client(), card()
    register(pos, number)
    patch(pos, number, {"birth_date": "1990-05-17", "gender": "male", "attributes": {"pets": "dog"}})
    before = profile(admin, number)
    problem = assert_problem(pos.patch(f"/v1/accounts/{number}", json={"profile": body}), 422, "validation_error")
    assert any(error["path"].startswith(path) for error in problem["errors"]), problem
    assert "cat" not in str(problem) and "72.5" not in str(problem)  # values are never echoed
    assert profile(admin, number) == before


def test_attributes_stop_at_32_after_the_merge(svc: Service, pos: httpx.Client) -> None:
    admin, number = svc.client(), card()
    register(pos, number)
    patch(pos, number, {"attributes": _too_many(32)})  # exactly the limit
    before = profile(admin, number)
    assert len(before["attributes"]) == 32
    problem = assert_problem(pos.patch(f"/v1/accounts/{number}", json={"profile": {"attributes": {"one_more": 1}}}),
                             422, "validation_error")
    assert problem["errors"] == [{"path": "profile.attributes",
                                  "message": "a profile holds at most 32 attributes; this would make 33"}]
    assert profile(admin, number) == before
    patch(pos, number, {"attributes": {"k0": None, "one_more": True}})  # one out, one in: still 32
    assert len(profile(admin, number)["attributes"]) == 32


BAD_BODIES = [
    ({}, 422, "validation_error"),
    ({"gender": "male"}, 422, "validation_error"),  # not inside "profile"
    ({"profile": {"gender": "male"}, "status": "blocked"}, 422, "validation_error"),
    ({"profile": None}, 422, "validation_error"),
    ({"profile": "male"}, 422, "validation_error"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_BODIES)
def test_bad_bodies_are_refused(svc: Service, pos: httpx.Client, body: dict[str, Any], status: int,
                                code: str) -> None:
    number = card()
    register(pos, number)
    assert_problem(pos.patch(f"/v1/accounts/{number}", json=body), status, code)
    assert profile(svc.client(), number) == {"card": number, **EMPTY}


def test_unknown_cards_bad_json_and_bad_registrations(svc: Service, pos: httpx.Client) -> None:
    admin, unknown = svc.client(), card()
    assert_problem(pos.patch(f"/v1/accounts/{unknown}", json={"profile": {"gender": "male"}}), 404,
                   "account_not_found")
    assert_problem(admin.get(f"/v1/accounts/{unknown}/profile"), 404, "account_not_found")
    assert_problem(admin.delete(f"/v1/accounts/{unknown}/profile"), 404, "account_not_found")
    assert admin.get(f"/v1/accounts/{unknown}").status_code == 404  # none of them opened an account
    assert_problem(pos.patch("/v1/accounts/bad*card", json={"profile": {}}), 422, "validation_error")
    number = card()
    register(pos, number)
    assert_problem(pos.patch(f"/v1/accounts/{number}", content=b'{"profile": {', headers={
        "content-type": "application/json"}), 422, "invalid_json")
    both = pos.post("/v1/accounts", json={"card": card(), "birth_date": "1990-01-01",
                                         "profile": {"birth_date": "1990-01-02"}})
    assert_problem(both, 422, "validation_error")
    future = pos.post("/v1/accounts", json={"card": card(), "profile": {"gender": "robot"}})
    assert_problem(future, 422, "validation_error")


def test_refused_profiles_are_counted_by_code_only(svc: Service, pos: httpx.Client) -> None:
    """The errors metric counts a refused profile by its code; no label holds a field or a value (the log
    side is in tests/test_security.py)."""
    number = card()
    register(pos, number)
    before = metric(svc.client(None).get("/metrics").text, "bonus_http_errors_total", code="validation_error")
    pos.patch(f"/v1/accounts/{number}", json={"profile": {"attributes": {"allergy": "peanuts", "x": 1.5}}})
    text = svc.client(None).get("/metrics").text
    assert metric(text, "bonus_http_errors_total", code="validation_error") == before + 1
    assert "allergy" not in text and "peanuts" not in text
