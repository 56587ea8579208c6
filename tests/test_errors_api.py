"""Bad input gets a clear 4xx problem+json and changes nothing; never a 500.

Each refused receipt carries a registered card and asks to spend points, so "changes nothing" is
checked twice: the receipt is not stored (GET is 404 `receipt_not_found`) and the account's balance
and ledger are as they were.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support import Service, assert_problem, card, line, metric, now_iso, receipt, unique

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
WELCOME = 20000


def paths(problem: dict[str, Any]) -> list[str]:
    errors = problem.get("errors")
    assert isinstance(errors, list) and errors, problem
    for error in errors:
        assert isinstance(error.get("path"), str) and isinstance(error.get("message"), str), error
    return [error["path"] for error in errors]


@pytest.fixture(scope="module")
def witness(service: Service) -> str:
    """A registered card with the welcome bonus available: refused receipts must not touch it."""
    number = card()
    answer = service.client().post("/v1/accounts", json={"card": number})
    assert answer.status_code == 201, answer.text
    return number


def snapshot(client: httpx.Client, number: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    view = client.get(f"/v1/accounts/{number}")
    assert view.status_code == 200, view.text
    entries = client.get(f"/v1/accounts/{number}/ledger", params={"limit": 500})
    assert entries.status_code == 200, entries.text
    return view.json()["points"], entries.json()["entries"]


def assert_nothing_changed(service: Service, witness: str, receipt_id: str | None) -> None:
    client = service.client()
    if receipt_id is not None and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", receipt_id):
        assert_problem(client.get(f"/v1/receipts/{receipt_id}"), 404, "receipt_not_found")
    points, entries = snapshot(client, witness)
    assert points["available"] == WELCOME
    assert points["pending"] == 0
    assert [(e["kind"], e["points"]) for e in entries] == [("bonus", WELCOME)]


def bad_receipt(witness: str, **fields: Any) -> dict[str, Any]:
    lines = fields.pop("lines", [line("1", 100000)])
    return receipt(lines, witness, redeem_points=fields.pop("redeem_points", 5000), **fields)


def refuse(service: Service, witness: str, body: dict[str, Any] | bytes, status: int, code: str,
           client: httpx.Client | None = None) -> dict[str, Any]:
    """Send the body to calculate and confirm: both refuse it the same way; nothing is stored."""
    client = client or service.client()
    problem: dict[str, Any] = {}
    for route in ("/v1/receipts/calculate", "/v1/receipts"):
        if isinstance(body, bytes):
            answer = client.post(route, content=body, headers={"Content-Type": "application/json"})
        else:
            answer = client.post(route, json=body)
        problem = assert_problem(answer, status, code)
    receipt_id = body.get("receipt_id") if isinstance(body, dict) else None
    assert_nothing_changed(service, witness, receipt_id if isinstance(receipt_id, str) else None)
    return problem


# --- auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "wrong-key"},
])
def test_no_or_wrong_key_is_401(service: Service, witness: str, headers: dict[str, str]) -> None:
    client = service.client(None)
    body = bad_receipt(witness)
    for method, path, payload in [
        ("POST", "/v1/receipts", body),
        ("POST", "/v1/receipts/calculate", body),
        ("GET", f"/v1/receipts/{body['receipt_id']}", None),
        ("GET", f"/v1/accounts/{witness}", None),
        ("GET", f"/v1/accounts/{witness}/ledger", None),
        ("POST", f"/v1/accounts/{witness}/adjustments", {"points": 100, "reason": "x"}),
        ("POST", f"/v1/accounts/{witness}/block", None),
        ("POST", "/v1/accounts", {"card": card()}),
        ("GET", "/v1/program", None),
        ("PUT", "/v1/program", {"tiers": {"levels": [{"id": "a", "min_purchases": 0, "accrual_percent": 1}]}}),
    ]:
        answer = client.request(method, path, json=payload, headers=headers)
        assert_problem(answer, 401, "unauthorized")
    assert_nothing_changed(service, witness, body["receipt_id"])


def test_auth_is_checked_before_validation_and_before_a_replay(service: Service) -> None:
    admin = service.client()
    body = receipt([line("1", 100000)])
    assert admin.post("/v1/receipts", json=body).status_code == 201
    anonymous = service.client(None)
    assert_problem(anonymous.post("/v1/receipts", json=body), 401, "unauthorized")
    assert_problem(anonymous.post("/v1/receipts", json={"nonsense": True}), 401, "unauthorized")
    assert_problem(anonymous.post("/v1/receipts", content=b"{not json"), 401, "unauthorized")
    # a key bound to another store cannot replay this store's receipt either
    other_store = service.client(service.key("pos", store="s18"))
    assert_problem(other_store.post("/v1/receipts", json=body), 403, "forbidden")
    replay = admin.post("/v1/receipts", json=body)
    assert replay.status_code == 200 and replay.headers.get("idempotent-replayed") == "true"


def test_pos_key_cannot_read_or_put_the_program(service: Service) -> None:
    admin = service.client()
    before = admin.get("/v1/program")
    assert before.status_code == 200, before.text
    pos = service.client(service.key("pos"))
    answer = pos.put("/v1/program", content=EXAMPLE.read_text(), headers={"Content-Type": "application/yaml"})
    assert_problem(answer, 403, "forbidden")
    assert_problem(pos.get("/v1/program"), 403, "forbidden")
    after = admin.get("/v1/program")
    assert after.headers["program-version"] == before.headers["program-version"]
    assert after.json() == before.json()


def test_store_bound_pos_key_writes_only_its_store(service: Service, witness: str) -> None:
    pos = service.client(service.key("pos", store="s17"))
    foreign = bad_receipt(witness, store_id="s18")
    refuse(service, witness, foreign, 403, "forbidden", client=pos)
    own = receipt([line("1", 100000)], card(), store_id="s17")
    answer = pos.post("/v1/receipts", json=own)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "confirmed"
    stored = pos.get(f"/v1/receipts/{own['receipt_id']}")
    assert stored.status_code == 200 and stored.json()["receipt_id"] == own["receipt_id"]
    # an unbound pos key and an admin key write any store
    unbound = service.client(service.key("pos"))
    other = receipt([line("1", 100000)], store_id="s18")
    assert unbound.post("/v1/receipts", json=other).status_code == 201


# --- receipt validation -----------------------------------------------------------------------------


def test_unknown_field_is_422_with_its_path(service: Service, witness: str) -> None:
    body = bad_receipt(witness, colour="red")
    problem = refuse(service, witness, body, 422, "validation_error")
    assert "colour" in paths(problem)
    body = bad_receipt(witness, lines=[{**line("1", 100000), "discount": 5}])
    problem = refuse(service, witness, body, 422, "validation_error")
    assert "lines[0].discount" in paths(problem)
    body = bad_receipt(witness, gift_certificates=[{"code": "GC1", "amount": 100, "pin": "1234"}])
    problem = refuse(service, witness, body, 422, "validation_error")
    assert "gift_certificates[0].pin" in paths(problem)


@pytest.mark.parametrize(("field", "value"), [
    ("amount", 799000.0),
    ("amount", 100000.5),
    ("amount", "100000"),
    ("amount", 1e5),
    ("price", 100000.0),
    ("min_price", 0.0),
    ("amount", -100000),
    ("price", -1),
    ("amount", None),
    ("amount", True),
    ("amount", 10**14),
])
def test_money_must_be_a_non_negative_integer(service: Service, witness: str, field: str, value: Any) -> None:
    body = bad_receipt(witness, lines=[{**line("1", 100000), field: value}])
    problem = refuse(service, witness, body, 422, "validation_error")
    assert f"lines[0].{field}" in paths(problem)


@pytest.mark.parametrize("value", [5000.0, -5000, "5000"])
def test_redeem_points_must_be_a_non_negative_integer(service: Service, witness: str, value: Any) -> None:
    problem = refuse(service, witness, bad_receipt(witness, redeem_points=value), 422, "validation_error")
    assert "redeem_points" in paths(problem)


@pytest.mark.parametrize("quantity", ["0.3501", 0.3501, "0", 0, "-1", "abc", "NaN", "Infinity", "", True])
def test_bad_quantity_is_422(service: Service, witness: str, quantity: Any) -> None:
    body = bad_receipt(witness, lines=[{**line("1", 100000), "quantity": quantity}])
    problem = refuse(service, witness, body, 422, "validation_error")
    assert "lines[0].quantity" in paths(problem)


def test_three_fraction_digits_of_quantity_are_fine(service: Service) -> None:
    answer = service.client().post("/v1/receipts/calculate", json=receipt([line("1", 35000, quantity="0.350")]))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("issued_at", [
    "2026-11-24T10:15:00",
    "2026-11-24 10:15",
    "yesterday",
    "2026-13-01T10:00:00+03:00",
    "2026-11-24T10:15:00+03",
    "unix seconds",  # a number a minute ago: not RFC 3339
    "unix seconds as text",
])
def test_issued_at_needs_an_rfc3339_time_with_an_offset(service: Service, witness: str, issued_at: Any) -> None:
    if issued_at.startswith("unix"):
        seconds = int(time.time()) - 60
        issued_at = seconds if issued_at == "unix seconds" else str(seconds)
    problem = refuse(service, witness, bad_receipt(witness, issued_at=issued_at), 422, "validation_error")
    assert "issued_at" in paths(problem)


@pytest.mark.parametrize("receipt_id", ["has space", "x" * 65, "", "slash/id", "ünïcode"])
def test_bad_receipt_id_is_422(service: Service, witness: str, receipt_id: str) -> None:
    problem = refuse(service, witness, bad_receipt(witness, receipt_id=receipt_id), 422, "validation_error")
    assert "receipt_id" in paths(problem)


def test_receipt_id_of_64_characters_is_fine(service: Service) -> None:
    body = receipt([line("1", 100000)], receipt_id=unique("r-").ljust(64, "x"))
    assert len(body["receipt_id"]) == 64
    answer = service.client().post("/v1/receipts", json=body)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("count", [0, 501])
def test_line_count_outside_1_to_500_is_422(service: Service, witness: str, count: int) -> None:
    lines = [line(str(i), 1000) for i in range(1, count + 1)]
    problem = refuse(service, witness, bad_receipt(witness, lines=lines), 422, "validation_error")
    assert "lines" in paths(problem)


def test_500_lines_are_fine(service: Service) -> None:
    lines = [line(str(i), 1000) for i in range(1, 501)]
    answer = service.client().post("/v1/receipts/calculate", json=receipt(lines))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["lines"]) == 500
    assert answer.json()["totals"]["amount"] == 500000


def test_duplicate_line_ids_are_422(service: Service, witness: str) -> None:
    refuse(service, witness, bad_receipt(witness, lines=[line("1", 1000), line("1", 2000)]), 422, "validation_error")


@pytest.mark.parametrize("coupons", [["WINTER10", "WINTER10"], ["winter10", " WINTER10 "], ["A"] * 2,
                                     [f"C{i}" for i in range(11)], [""]])
def test_duplicate_or_too_many_coupons_are_422(service: Service, witness: str, coupons: list[str]) -> None:
    problem = refuse(service, witness, bad_receipt(witness, coupons=coupons), 422, "validation_error")
    assert any(path.startswith("coupons") or path == "(body)" for path in paths(problem)), problem


@pytest.mark.parametrize("channel", ["web", "", None])
def test_unknown_channel_is_422(service: Service, witness: str, channel: Any) -> None:
    problem = refuse(service, witness, bad_receipt(witness, channel=channel), 422, "validation_error")
    assert "channel" in paths(problem)


def test_too_many_certificates_are_422(service: Service, witness: str) -> None:
    payments = [{"code": f"GC{i}"} for i in range(6)]
    problem = refuse(service, witness, bad_receipt(witness, gift_certificates=payments), 422, "validation_error")
    assert any(path.startswith("gift_certificates") for path in paths(problem))


# --- body and JSON ----------------------------------------------------------------------------------


def test_body_over_one_mebibyte_is_413(service: Service, witness: str) -> None:
    body = bad_receipt(witness, lines=[line("1", 100000, sku="S" * 100)])
    text = json.dumps(body)
    padded = text[:-1] + ', "pad": "' + "x" * (1024 * 1024) + '"}'
    problem = refuse(service, witness, padded.encode(), 413, "body_too_large")
    assert problem["status"] == 413
    assert_problem(service.client().get(f"/v1/receipts/{body['receipt_id']}"), 404, "receipt_not_found")


def test_chunked_body_over_one_mebibyte_is_413(service: Service, witness: str) -> None:
    body = bad_receipt(witness)
    text = json.dumps(body)
    padded = (text[:-1] + ', "pad": "' + "x" * (1024 * 1024 + 10) + '"}').encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(padded), 64 * 1024):
            yield padded[start:start + 64 * 1024]

    answer = service.client().post("/v1/receipts", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413, "body_too_large")
    assert_nothing_changed(service, witness, body["receipt_id"])


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"receipt_id": "r1",', b"\xff\xfe", b"[1, 2", b"nul"])
def test_invalid_json_is_422_invalid_json(service: Service, witness: str, raw: bytes) -> None:
    refuse(service, witness, raw, 422, "invalid_json")


def test_deeply_nested_json_is_a_422_not_a_crash(service: Service, witness: str) -> None:
    for raw in (b"[" * 100_000, b'{"lines": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        answer = service.client().post("/v1/receipts", content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] in ("invalid_json", "validation_error")
    assert_nothing_changed(service, witness, None)


@pytest.mark.parametrize(("field", "value"), [
    ("amount", 10**30), ("quantity", "1e-7"), ("quantity", "1e400"), ("quantity", 1e400),
])
def test_out_of_range_numbers_are_422(service: Service, witness: str, field: str, value: Any) -> None:
    raw = json.dumps(bad_receipt(witness, lines=[{**line("1", 100000), field: "PLACEHOLDER"}]))
    raw = raw.replace('"PLACEHOLDER"', json.dumps(value) if not isinstance(value, float) else "1e400")
    problem = refuse(service, witness, raw.encode(), 422, "validation_error")
    assert f"lines[0].{field}" in paths(problem)


@pytest.mark.parametrize("raw", [b"[]", b"null", b"42", b'"receipt"'])
def test_json_that_is_not_an_object_is_422(service: Service, witness: str, raw: bytes) -> None:
    refuse(service, witness, raw, 422, "validation_error")


# --- time -------------------------------------------------------------------------------------------


def test_receipt_older_than_30_days_is_422_receipt_too_old(service: Service, witness: str) -> None:
    body = bad_receipt(witness, issued_at=now_iso(timedelta(days=-31)))
    refuse(service, witness, body, 422, "receipt_too_old")
    # 29 days is still fine
    fine = receipt([line("1", 100000)], issued_at=now_iso(timedelta(days=-29)))
    assert service.client().post("/v1/receipts", json=fine).status_code == 201


def test_receipt_more_than_5_minutes_in_the_future_is_422(service: Service, witness: str) -> None:
    for offset_hours in (3, 0, -5):
        body = bad_receipt(witness, issued_at=now_iso(timedelta(minutes=7), offset_hours=offset_hours))
        refuse(service, witness, body, 422, "receipt_in_future")
    # within the 5 minutes' tolerance is fine
    fine = receipt([line("1", 100000)], issued_at=now_iso(timedelta(minutes=3)))
    assert service.client().post("/v1/receipts", json=fine).status_code == 201


# --- idempotency ------------------------------------------------------------------------------------


def _same_instant_other_offset(moment: str) -> str:
    from datetime import datetime
    from datetime import timezone as tz

    parsed = datetime.fromisoformat(moment)
    return parsed.astimezone(tz(timedelta(hours=5))).isoformat()


def test_same_receipt_id_with_another_body_is_409_and_the_stored_result_stays(service: Service) -> None:
    client, number = service.client(), card()
    body = receipt([line("1", 100000)], number)
    first = client.post("/v1/receipts", json=body)
    assert first.status_code == 201, first.text
    stored = client.get(f"/v1/receipts/{body['receipt_id']}").json()
    account_before = client.get(f"/v1/accounts/{number}").json()
    for other in (
        {**body, "lines": [line("1", 200000)]},
        {**body, "issued_at": now_iso(timedelta(minutes=-2))},
        # the same instant in another offset is another body
        {**body, "issued_at": _same_instant_other_offset(body["issued_at"])},
        {**body, "card": card()},
        {**body, "redeem_points": 100},
        {k: v for k, v in body.items() if k != "card"},
    ):
        assert_problem(client.post("/v1/receipts", json=other), 409, "idempotency_conflict")
    assert client.get(f"/v1/receipts/{body['receipt_id']}").json() == stored
    assert client.get(f"/v1/accounts/{number}").json()["points"] == account_before["points"]
    entries = client.get(f"/v1/accounts/{number}/ledger").json()["entries"]
    assert sorted(e["kind"] for e in entries) == ["accrual", "bonus"]


def test_refund_errors(service: Service) -> None:
    client, number = service.client(), card()
    body = receipt([line("1", 200000, quantity="2"), line("2", 50000)], number)
    assert client.post("/v1/receipts", json=body).status_code == 201
    receipt_id = body["receipt_id"]
    url = f"/v1/receipts/{receipt_id}/refunds"
    stored = client.get(f"/v1/receipts/{receipt_id}").json()
    points = client.get(f"/v1/accounts/{number}").json()["points"]

    def unchanged() -> None:
        assert client.get(f"/v1/receipts/{receipt_id}").json() == stored
        assert client.get(f"/v1/accounts/{number}").json()["points"] == points

    assert_problem(client.post(url, json={"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "3"}]}),
                   409, "refund_exceeds_receipt")
    unchanged()
    problem = assert_problem(client.post(url, json={"refund_id": "f1", "lines": [{"line_id": "9", "quantity": "1"}]}),
                             422, "line_not_found")
    assert "lines[0].line_id" in paths(problem)
    unchanged()
    for bad in (
        {"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "0.3501"}]},
        {"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "0"}]},
        {"refund_id": "f1", "lines": []},
        {"refund_id": "f 1"},
        {"lines": [{"line_id": "1", "quantity": "1"}]},
        {"refund_id": "f1", "reason": "torn"},
        {"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "1"}, {"line_id": "1", "quantity": "1"}]},
    ):
        assert_problem(client.post(url, json=bad), 422, "validation_error")
    unchanged()

    partial = {"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "1"}]}
    first = client.post(url, json=partial)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "partially_refunded"
    after = client.get(f"/v1/receipts/{receipt_id}").json()
    # refund_id reuse with another body
    for other in ({"refund_id": "f1", "lines": [{"line_id": "2", "quantity": "1"}]}, {"refund_id": "f1"}):
        assert_problem(client.post(url, json=other), 409, "idempotency_conflict")
    assert client.get(f"/v1/receipts/{receipt_id}").json() == after
    assert len(after["refunds"]) == 1
    # more than is left
    assert_problem(client.post(url, json={"refund_id": "f2", "lines": [{"line_id": "1", "quantity": "2"}]}),
                   409, "refund_exceeds_receipt")
    assert client.get(f"/v1/receipts/{receipt_id}").json() == after
    # the same refund again is a replay
    replay = client.post(url, json=partial)
    assert replay.status_code == 200 and replay.headers.get("idempotent-replayed") == "true"
    # the rest, then nothing is left
    rest = client.post(url, json={"refund_id": "f3"})
    assert rest.status_code == 201 and rest.json()["status"] == "refunded"
    assert_problem(client.post(url, json={"refund_id": "f4"}), 409, "refund_exceeds_receipt")
    audit = service.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_cancel_from_another_store_is_403_and_changes_nothing(service: Service) -> None:
    admin, number = service.client(), card()
    body = receipt([line("1", 100000)], number, store_id="s17")
    assert admin.post("/v1/receipts", json=body).status_code == 201
    stored = admin.get(f"/v1/receipts/{body['receipt_id']}").json()
    other_store = service.client(service.key("pos", store="s18"))
    assert_problem(other_store.post(f"/v1/receipts/{body['receipt_id']}/cancel"), 403, "forbidden")
    assert admin.get(f"/v1/receipts/{body['receipt_id']}").json() == stored
    assert admin.get(f"/v1/accounts/{number}").json()["points"]["pending"] == 3000


def test_refund_or_cancel_of_an_unknown_receipt_is_404(service: Service) -> None:
    client = service.client()
    missing = unique("missing-")
    assert_problem(client.post(f"/v1/receipts/{missing}/refunds", json={"refund_id": "f1"}), 404, "receipt_not_found")
    assert_problem(client.post(f"/v1/receipts/{missing}/cancel"), 404, "receipt_not_found")
    assert_problem(client.get(f"/v1/receipts/{missing}"), 404, "receipt_not_found")
    # a receipt that was only calculated is not confirmed
    body = receipt([line("1", 100000)])
    assert client.post("/v1/receipts/calculate", json=body).status_code == 200
    assert_problem(client.post(f"/v1/receipts/{body['receipt_id']}/refunds", json={"refund_id": "f1"}),
                   404, "receipt_not_found")
    assert_problem(client.get(f"/v1/receipts/{body['receipt_id']}"), 404, "receipt_not_found")


# --- routes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nothing", "/v2/receipts", "/", "/v1/receipts/r1/refunds/f1/x"])
def test_unknown_route_is_a_404_problem(service: Service, path: str) -> None:
    assert_problem(service.client().get(path), 404, "not_found")


def test_wrong_method_is_a_405_problem(service: Service) -> None:
    client = service.client()
    assert_problem(client.delete("/v1/receipts/calculate"), 405, "method_not_allowed")
    assert_problem(client.put(f"/v1/accounts/{card()}/block"), 405, "method_not_allowed")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", "/v1/program", "GET, PUT"),  # two routes on one path: Starlette's own Allow named only GET
    ("OPTIONS", "/v1/campaigns/c1", "DELETE, GET, PUT"),
    ("PATCH", "/v1/campaigns", "GET"),
    ("DELETE", "/v1/receipts/calculate", "POST"),  # not the GET of /v1/receipts/{receipt_id}, which also matches
    ("OPTIONS", "/v1/coupons/batches", "POST"),
    ("GET", "/v1/accounts/c1/block", "POST"),
])
def test_a_405_allows_every_method_of_the_path(service: Service, method: str, path: str, allow: str) -> None:
    answer = service.client().request(method, path)
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == allow


# --- the program ------------------------------------------------------------------------------------


NEW = len(yaml.safe_load(EXAMPLE.read_text())["campaigns"])  # the index of a campaign appended to the example


def _with_campaign(campaign: dict[str, Any]) -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["campaigns"].append(campaign)
    return dict(document)


def _example() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE.read_text()))


def _bad_tiers() -> dict[str, Any]:
    document = _example()
    document["tiers"]["levels"][0]["min_purchases"] = 100
    return document


def _shrinking_tiers() -> dict[str, Any]:
    document = _example()
    document["tiers"]["levels"][2]["min_purchases"] = 1000
    return document


def _float_redeem_percent() -> dict[str, Any]:
    document = _example()
    document["points"]["max_redeem_percent"] = "33.333"
    return document


COUPON = {"id": "bad-coupon", "name": "Coupon", "type": "coupon", "priority": 5, "code": "SAVE", "percent": 10}
# (document as YAML text, the path its error must name)
BAD_PROGRAMS: list[tuple[str, str]] = [
    (
        EXAMPLE.read_text() + "  - {id: bad-coupon, name: Coupon, type: coupon, priority: 5, code: SAVE,"
        " percent: 10, min_amount: 1000.5}\n",
        f"campaigns[{NEW}].min_amount",
    ),
    (
        EXAMPLE.read_text() + "  - {id: bad-coupon, name: Coupon, type: coupon, priority: 5, code: SAVE,"
        " percent: 10, min_amount: 100000.0}\n",
        f"campaigns[{NEW}].min_amount",
    ),
    (
        yaml.safe_dump(_with_campaign({"id": "bad-check", "name": "Check", "type": "receipt_discount",
                                       "priority": 5, "thresholds": [{"min_amount": 100000, "percent": 5},
                                                                     {"min_amount": 2000.5, "percent": 10}]})),
        f"campaigns[{NEW}].thresholds[1].min_amount",
    ),
    (yaml.safe_dump(_bad_tiers()), "tiers.levels"),
    (yaml.safe_dump(_shrinking_tiers()), "tiers.levels"),
    (yaml.safe_dump(_float_redeem_percent()), "points.max_redeem_percent"),
    (yaml.safe_dump(_with_campaign({**COUPON, "colour": "red"})), f"campaigns[{NEW}].colour"),
    (yaml.safe_dump(_with_campaign({**COUPON, "id": "Bad Id"})), f"campaigns[{NEW}].id"),
]


@pytest.fixture(scope="module")
def program_service(make_module_service: Callable[..., Service]) -> Service:
    """Its own service: a PUT that wrongly succeeded must not change the program other tests use."""
    return make_module_service()


@pytest.mark.parametrize(("document", "path"), BAD_PROGRAMS)
def test_invalid_program_is_422_with_a_precise_path_and_the_old_one_stays(
    program_service: Service, document: str, path: str,
) -> None:
    client = program_service.client()
    before = client.get("/v1/program")
    assert before.status_code == 200, before.text
    version = before.headers["program-version"]
    for body, content_type in ((document, "application/yaml"),
                               (json.dumps(yaml.safe_load(document), default=str), "application/json")):
        answer = client.put("/v1/program", content=body, headers={"Content-Type": content_type})
        problem = assert_problem(answer, 422, "invalid_program")
        assert path in paths(problem), problem["errors"]
    after = client.get("/v1/program")
    assert after.headers["program-version"] == version
    assert after.json() == before.json()


def test_float_min_amount_in_json_is_refused(program_service: Service) -> None:
    client = program_service.client()
    version = client.get("/v1/program").headers["program-version"]
    text = json.dumps(_with_campaign({**COUPON, "min_amount": 0})).replace('"min_amount": 0', '"min_amount": 100.0')
    assert '"min_amount": 100.0' in text
    problem = assert_problem(client.put("/v1/program", content=text, headers={"Content-Type": "application/json"}),
                             422, "invalid_program")
    assert f"campaigns[{NEW}].min_amount" in paths(problem)
    assert client.get("/v1/program").headers["program-version"] == version


@pytest.mark.parametrize(("body", "content_type"), [
    ("currency: [unclosed", "application/yaml"),
    ("{not json", "application/json"),
    ("- just\n- a list\n", "application/yaml"),
    ("", "application/yaml"),
])
def test_unparsable_program_is_422_invalid_program(program_service: Service, body: str, content_type: str) -> None:
    client = program_service.client()
    version = client.get("/v1/program").headers["program-version"]
    answer = client.put("/v1/program", content=body, headers={"Content-Type": content_type})
    problem = assert_problem(answer, 422, "invalid_program")
    assert paths(problem)
    assert client.get("/v1/program").headers["program-version"] == version


def test_program_in_another_media_type_is_415(program_service: Service) -> None:
    client = program_service.client()
    version = client.get("/v1/program").headers["program-version"]
    answer = client.put("/v1/program", content=EXAMPLE.read_text(), headers={"Content-Type": "text/plain"})
    assert_problem(answer, 415, "unsupported_media_type")
    assert client.get("/v1/program").headers["program-version"] == version


def test_program_with_an_invalid_campaign_does_not_reach_receipts(program_service: Service) -> None:
    """After refused PUTs, receipts still run on the previous version."""
    client = program_service.client()
    version = int(client.get("/v1/program").headers["program-version"])
    bad = EXAMPLE.read_text().replace("accrual_percent: 3}", "accrual_percent: 3.333}")
    assert bad != EXAMPLE.read_text()
    problem = assert_problem(client.put("/v1/program", content=bad, headers={"Content-Type": "application/yaml"}),
                             422, "invalid_program")
    assert "tiers.levels[0].accrual_percent" in paths(problem)
    result = client.post("/v1/receipts/calculate", json=receipt([line("1", 100000)], card()))
    assert result.status_code == 200, result.text
    assert result.json()["program_version"] == version
    # base 3 % of 1,000.00
    assert result.json()["totals"]["points_accrued"] == 3000


# --- never a 500 ------------------------------------------------------------------------------------


def answered_5xx(svc: Service) -> float:
    """How many answers with a 5xx status the service has counted in /metrics."""
    text = httpx.get(f"{svc.url}/metrics", timeout=10).text
    served = [row for row in text.splitlines() if row.startswith("bonus_http_requests_total{")]
    assert served, "no request counts in /metrics"
    return metric(text, "bonus_http_requests_total", status=re.compile(r"5\d\d"))


@pytest.fixture(scope="module", autouse=True)
def server_errors_before(service: Service) -> dict[str, float]:
    """5xx answers of the shared service before this module's tests (other modules share it)."""
    return {"shared": answered_5xx(service)}


def test_no_500_was_answered(service: Service, program_service: Service,
                             server_errors_before: dict[str, float]) -> None:
    """None of the requests of this module got a 5xx (the metrics count answers by status)."""
    assert answered_5xx(service) == server_errors_before["shared"]
    assert answered_5xx(program_service) == 0
