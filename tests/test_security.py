"""Security: who may call what, keys at rest and their revocation, limits on hostile input, what logs and
metrics may show, and the audit trail of manual adjustments.

Routes are enumerated from the code (every router of app.main and the auth dependency of each route),
so a new route is covered without editing this file, and the served OpenAPI schema must say the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.core import auth
from app.core.errors import AppError
from app.core.logs import JsonFormatter, mask_cards
from app.keys.ring import KeyRing
from app.main import ROUTERS
from tests.load import sql
from tests.support import (
    ADMIN_KEY,
    Service,
    assert_problem,
    card,
    free_port,
    line,
    metric,
    receipt,
    start_service,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
MIB = 1024 * 1024


def _routes() -> list[tuple[str, str, str | None]]:
    """(method, path, role) of every route: `admin` if it depends on auth.admin, `marketer` on auth.marketer,
    `pos` on auth.pos (app.core.auth.role_of; tests/test_roles.py tries every role on every route)."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                role = auth.role_of({dependency.call for dependency in route.dependant.dependencies})
                found += [(method, route.path, role) for method in sorted(route.methods)]
    return sorted(found, key=lambda r: (r[1], r[0]))


ROUTES = _routes()
ADMIN_ROUTES = [(method, path) for method, path, role in ROUTES if role in ("admin", "marketer")]
KEYED_ROUTES = [(method, path) for method, path, role in ROUTES if role is not None]
# Routes that take a body (they are read with a limit): those the OpenAPI schema gives a requestBody.
BODY_ROUTES = [("POST", "/v1/receipts/calculate"), ("POST", "/v1/receipts"),
               ("POST", "/v1/receipts/{receipt_id}/refunds"), ("POST", "/v1/accounts"),
               ("POST", "/v1/accounts/{card}/adjustments"), ("PUT", "/v1/program"),
               ("PUT", "/v1/campaigns/{campaign_id}"), ("POST", "/v1/coupons/batches"),
               ("POST", "/v1/gift-certificates")]


def _ids(routes: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in routes]


def concrete(path: str) -> str:
    """A path template with harmless values: nothing with these ids exists."""
    return (path.replace("{card}", "2900000000001").replace("{receipt_id}", "no-such-receipt")
            .replace("{campaign_id}", "no-such-campaign").replace("{code}", "NOSUCHCODE"))


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    """Its own service: these tests try every admin route and count failed look-ups per key."""
    return make_module_service(BONUS_ENGINE_FAILED_LOOKUP_LIMIT="5")


@pytest.fixture(scope="module")
def pos_keys(svc: Service) -> dict[str, str]:
    return {"pos": svc.key("pos"), "pos bound to s17": svc.key("pos", "s17")}


# --- who may call what ------------------------------------------------------------------------------


def test_the_routes_and_their_roles_are_what_the_schema_documents(svc: Service) -> None:
    schema = httpx.get(f"{svc.url}/openapi.json").json()
    for method, path, role in ROUTES:
        if path == "/v1/gift-certificates/":  # the blank code: undocumented, answered like an unknown one
            continue
        operation = schema["paths"][path][method.lower()]
        assert operation.get("x-role") == role, (method, path)
    # what the contract says is admin-only (or for marketers too), and nothing of the register's work
    assert {("POST", "/v1/accounts/{card}/adjustments"), ("POST", "/v1/accounts/{card}/block"),
            ("POST", "/v1/coupons/batches"), ("POST", "/v1/gift-certificates")} <= {
        (method, path) for method, path, role in ROUTES if role == "admin"}
    assert {("PUT", "/v1/program"), ("GET", "/v1/program"), ("DELETE", "/v1/campaigns/{campaign_id}"),
            ("POST", "/v1/program/rollback")} <= {(method, path) for method, path, role in ROUTES if role == "marketer"}
    assert not {("POST", "/v1/receipts"), ("GET", "/v1/accounts/{card}"),
                ("GET", "/v1/gift-certificates/{code}")} & set(ADMIN_ROUTES)
    assert {path for _, path, role in ROUTES if role is None} == {"/metrics", "/healthz", "/readyz"}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=_ids(ADMIN_ROUTES))
def test_pos_keys_get_403_on_every_admin_and_marketer_route(svc: Service, pos_keys: dict[str, str], method: str,
                                               path: str) -> None:
    version = svc.client().get("/v1/program").headers["program-version"]
    body = {"not_a_field": 1}  # refused by every body: if the key got through, nothing could change
    for name, key in pos_keys.items():
        answer = svc.client(key).request(method, concrete(path), json=body)
        problem = assert_problem(answer, 403, "forbidden")
        assert "admin" in problem["detail"], (name, problem)
    # the admin key gets past auth on the same request (so the 403 was the role, not the route)
    answer = svc.client().request(method, concrete(path), json=body)
    assert answer.status_code not in (401, 403), answer.text
    assert svc.client().get("/v1/program").headers["program-version"] == version


@pytest.mark.parametrize(("method", "path"), KEYED_ROUTES, ids=_ids(KEYED_ROUTES))
def test_every_v1_route_needs_a_key(svc: Service, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer be_pos_" + "x" * 43}, {"Authorization": f"Bearer {ADMIN_KEY}x"},
                    {"Authorization": f"Basic {ADMIN_KEY}"}, {"Authorization": ADMIN_KEY},
                    {"Authorization": "Bearer"}, {"Authorization": f"bearer  {ADMIN_KEY[:-1]}"}):
        answer = httpx.request(method, f"{svc.url}{concrete(path)}", json={"not_a_field": 1}, headers=headers)
        assert_problem(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"] == "Bearer"


def test_the_ops_routes_need_no_key(svc: Service) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{svc.url}{path}").status_code == 200


def test_a_store_bound_key_prices_and_confirms_only_its_store_but_refunds_and_looks_up_any(svc: Service) -> None:
    admin = svc.client()
    bound = svc.client(svc.key("pos", "s17"))
    number = card()
    assert admin.post("/v1/accounts", json={"card": number}).status_code == 201
    foreign = receipt([line("1", 100000, quantity="2"), line("2", 50000)], number, store_id="s18")
    for route in ("/v1/receipts/calculate", "/v1/receipts"):
        problem = assert_problem(bound.post(route, json=foreign), 403, "forbidden")
        assert "s18" in problem["detail"]
    assert_problem(admin.get(f"/v1/receipts/{foreign['receipt_id']}"), 404, "receipt_not_found")
    # sold in s18 with another key: the s17 register may read it, take a return and look the customer up
    assert admin.post("/v1/receipts", json=foreign).status_code == 201
    assert bound.get(f"/v1/receipts/{foreign['receipt_id']}").status_code == 200
    returned = bound.post(f"/v1/receipts/{foreign['receipt_id']}/refunds",
                          json={"refund_id": "ret-1", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert returned.status_code == 201, returned.text
    assert returned.json()["status"] == "partially_refunded"
    assert bound.get(f"/v1/accounts/{number}").status_code == 200
    assert bound.get(f"/v1/accounts/{number}/ledger").status_code == 200
    # but voiding the whole receipt is for its own store (or an admin)
    assert_problem(bound.post(f"/v1/receipts/{foreign['receipt_id']}/cancel"), 403, "forbidden")
    assert admin.get(f"/v1/receipts/{foreign['receipt_id']}").json()["status"] == "partially_refunded"
    # its own store's receipts go through
    own = receipt([line("1", 100000)], number, store_id="s17")
    assert bound.post("/v1/receipts/calculate", json=own).status_code == 200
    assert bound.post("/v1/receipts", json=own).status_code == 201


def test_failed_code_look_ups_are_limited_per_key_with_one_answer_for_unknown_and_blank(svc: Service) -> None:
    """Coupons (admin) and certificates (pos): unknown and blank codes give the same 404 and count alike;
    the sixth failure in a minute is 429 with Retry-After, for that key only."""
    for role, route, code in (("admin", "/v1/coupons", "coupon_not_found"),
                              ("pos", "/v1/gift-certificates", "gift_certificate_not_found")):
        client = svc.client(svc.key(role))
        answers = [client.get(f"{route}/NOPE{i}") for i in range(3)] + [client.get(f"{route}/%20"),
                                                                      client.get(f"{route}/%20%20")]
        bodies = {json.dumps(assert_problem(a, 404, code), sort_keys=True) for a in answers}
        assert len(bodies) == 1, bodies  # nothing tells an unknown code from a blank one
        limited = client.get(f"{route}/NOPE9")
        assert_problem(limited, 429, "too_many_failed_lookups")
        assert 0 < int(limited.headers["retry-after"]) <= 61
        assert_problem(svc.client(svc.key(role)).get(f"{route}/NOPE9"), 404, code)


# --- keys at rest, comparison and revocation --------------------------------------------------------


def test_keys_are_stored_only_as_sha256(svc: Service) -> None:
    keys = [svc.key("pos"), svc.key("pos", "s17"), svc.key("admin")]
    rows = sql(svc.database_url, "SELECT k.key_hash, row_to_json(k)::text AS text FROM api_keys k")
    everything = "\n".join(row["text"] for row in rows)
    stored = {bytes(row["key_hash"]) for row in rows}
    for key in [*keys, ADMIN_KEY]:
        assert key not in everything
        assert key.split("_", 2)[-1] not in everything  # not even the random part
    for key in keys:
        assert hashlib.sha256(key.encode()).digest() in stored
    # the bootstrap key lives in the environment only, not in the table
    assert hashlib.sha256(ADMIN_KEY.encode()).digest() not in stored
    # and the keys carry 256 random bits (43 characters of URL-safe base64)
    assert all(re.fullmatch(r"be_(pos|admin)_[A-Za-z0-9_-]{43}", key) for key in keys)


def test_the_bootstrap_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one secret compared in Python goes through hmac.compare_digest, on every request; database keys
    are found by their SHA-256 (an index look-up of a hash reveals nothing about the key)."""
    compared: list[tuple[bytes, bytes]] = []
    compare_digest = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    looked_up: list[bytes] = []

    class Conn:
        async def fetchrow(self, query: str, digest: bytes) -> None:
            looked_up.append(digest)

    class Db:
        def connection(self) -> Any:
            class Acquired:
                async def __aenter__(self) -> Conn:
                    return Conn()

                async def __aexit__(self, *_: object) -> None:
                    return None

            return Acquired()

    ring = KeyRing("bootstrap-secret")

    def request(key: str) -> Any:
        return SimpleNamespace(headers={"authorization": f"Bearer {key}"},
                               app=SimpleNamespace(state=SimpleNamespace(db=Db())))

    principal = asyncio.run(ring.principal(request("bootstrap-secret")))
    assert principal.role == "admin" and principal.key_id == "bootstrap"
    with pytest.raises(AppError) as refused:
        asyncio.run(ring.principal(request("bootstrap-secreT")))
    assert refused.value.status == 401
    secret = hashlib.sha256(b"bootstrap-secret").digest()
    assert compared == [(secret, secret), (hashlib.sha256(b"bootstrap-secreT").digest(), secret)]
    assert looked_up == [hashlib.sha256(b"bootstrap-secreT").digest()]


def _listed(svc: Service) -> list[dict[str, Any]]:
    done = svc.cli("keys", "list", "--format", "json", check=True)
    return [json.loads(row) for row in done.stdout.splitlines()]


def test_keys_list_shows_no_secret(svc: Service) -> None:
    key = svc.key("pos", "s42")
    table = svc.cli("keys", "list", check=True).stdout
    listed = _listed(svc)
    newest = listed[-1]
    assert set(newest) == {"id", "role", "store_id", "created_at", "revoked_at"}
    assert newest["role"] == "pos" and newest["store_id"] == "s42" and newest["revoked_at"] is None
    assert table.splitlines()[0].split() == ["id", "role", "store", "created_at", "revoked_at"]
    assert re.search(rf"^{newest['id']}\s+pos\s+s42\s+\S+\s+-$", table, re.MULTILINE), table
    digest = hashlib.sha256(key.encode()).hexdigest()
    for output in (table, json.dumps(listed)):
        assert key not in output and key.split("_", 2)[-1] not in output and digest not in output


def test_a_revoked_key_is_refused_within_the_cache_ttl(svc: Service) -> None:
    key = svc.key("pos")
    key_id = _listed(svc)[-1]["id"]
    client = svc.client(key)
    assert_problem(client.get(f"/v1/accounts/{card()}"), 404, "account_not_found")  # works, and is cached
    done = svc.cli("keys", "revoke", str(key_id), check=True)
    assert f"key {key_id} (pos) revoked" in done.stdout
    revoked = time.monotonic()
    while True:
        answer = client.get(f"/v1/accounts/{card()}")
        if answer.status_code == 401:
            break
        assert answer.status_code == 404, answer.text
        assert time.monotonic() - revoked < 7, "still accepted 7 s after revocation (cache TTL is 5 s)"
        time.sleep(0.25)
    assert_problem(answer, 401, "unauthorized")
    assert time.monotonic() - revoked <= 6.5
    entry = next(k for k in _listed(svc) if k["id"] == key_id)
    assert entry["revoked_at"] is not None
    # revoking again changes nothing; an unknown id is an error
    again = svc.cli("keys", "revoke", str(key_id), check=True)
    assert "already revoked" in again.stdout
    assert next(k for k in _listed(svc) if k["id"] == key_id)["revoked_at"] == entry["revoked_at"]
    missing = svc.cli("keys", "revoke", "999999")
    assert missing.returncode == 1 and "no key with id 999999" in missing.stderr


def test_a_key_revoked_before_its_first_use_is_refused_at_once(svc: Service) -> None:
    key = svc.key("admin")
    svc.cli("keys", "revoke", str(_listed(svc)[-1]["id"]), check=True)
    assert_problem(svc.client(key).get("/v1/program"), 401, "unauthorized")


# --- hostile input: size and shape -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=_ids(BODY_ROUTES))
def test_bodies_over_one_mebibyte_are_413_with_and_without_content_length(svc: Service, method: str,
                                                                          path: str) -> None:
    schema = httpx.get(f"{svc.url}/openapi.json").json()
    assert "requestBody" in schema["paths"][path][method.lower()]
    version = svc.client().get("/v1/program").headers["program-version"]
    big = b'{"pad": "' + b"x" * MIB + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    client = svc.client()
    declared = client.request(method, concrete(path), content=big, headers={"Content-Type": "application/json"})
    assert declared.request.headers["content-length"] == str(len(big))
    assert_problem(declared, 413, "body_too_large")
    streamed = client.request(method, concrete(path), content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "body_too_large")
    assert svc.client().get("/v1/program").headers["program-version"] == version


def test_a_receipt_of_501_lines_is_422_and_of_500_is_fine(svc: Service) -> None:
    client = svc.client()
    lines = [line(str(i), 100) for i in range(1, 502)]
    too_many = receipt(lines, card())
    for route in ("/v1/receipts/calculate", "/v1/receipts"):
        problem = assert_problem(client.post(route, json=too_many), 422, "validation_error")
        assert [e["path"] for e in problem["errors"]] == ["lines"]
    assert_problem(client.get(f"/v1/receipts/{too_many['receipt_id']}"), 404, "receipt_not_found")
    fine = receipt(lines[:500], card())
    assert client.post("/v1/receipts", json=fine).status_code == 201
    refund = {"refund_id": "r501", "lines": [{"line_id": str(i), "quantity": "1"} for i in range(1, 502)]}
    problem = assert_problem(client.post(f"/v1/receipts/{fine['receipt_id']}/refunds", json=refund),
                             422, "validation_error")
    assert [e["path"] for e in problem["errors"]] == ["lines"]


# --- the audit trail of manual adjustments ------------------------------------------------------------


def test_every_adjustment_has_an_author_and_a_reason(svc: Service) -> None:
    number = card()
    admin = svc.client()
    assert admin.post("/v1/accounts", json={"card": number}).status_code == 201
    other_admin_key = svc.key("admin")
    other_id = _listed(svc)[-1]["id"]
    credit = admin.post(f"/v1/accounts/{number}/adjustments", json={"points": 5000, "reason": "complaint #1"})
    debit = svc.client(other_admin_key).post(f"/v1/accounts/{number}/adjustments",
                                             json={"points": -700, "reason": "fraud: double credit"})
    assert credit.status_code == 201 and debit.status_code == 201, (credit.text, debit.text)
    assert credit.json()["entry"]["author"] == "key:bootstrap"
    assert debit.json()["entry"]["author"] == f"key:{other_id}"
    entries = admin.get(f"/v1/accounts/{number}/ledger").json()["entries"]
    adjustments = [(e["points"], e["author"], e["reason"]) for e in entries if e["kind"] == "adjustment"]
    assert adjustments == [(-700, f"key:{other_id}", "fraud: double credit"), (5000, "key:bootstrap", "complaint #1")]
    # no reason, a blank one, or a pos key: refused, and nothing is written
    for body in ({"points": 100}, {"points": 100, "reason": ""}, {"points": 100, "reason": "   "}):
        assert_problem(admin.post(f"/v1/accounts/{number}/adjustments", json=body), 422, "validation_error")
    pos = svc.client(svc.key("pos"))
    assert_problem(pos.post(f"/v1/accounts/{number}/adjustments", json={"points": 100, "reason": "x"}),
                   403, "forbidden")
    assert len(admin.get(f"/v1/accounts/{number}/ledger").json()["entries"]) == len(entries)
    # and in the whole ledger of this service, every adjustment names its author and its reason
    rows = sql(svc.database_url, "SELECT author, reason FROM ledger WHERE kind = 'adjustment'")
    assert rows and all(re.fullmatch(r"key:\w+", r["author"] or "") and (r["reason"] or "").strip() for r in rows)


# --- what logs and metrics may show --------------------------------------------------------------------


def test_the_log_formatter_masks_card_numbers() -> None:
    number = "2900000012345"
    assert mask_cards(f"card {number} and {number}9") == "card 2900*****2345 and 2900******3459"
    assert mask_cards("receipt s17-p3-000123, 12345678") == "receipt s17-p3-000123, 12345678"
    try:
        raise ValueError(f"no account {number}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "look-up of %s failed", (number,),
                                   sys.exc_info())
    line_ = JsonFormatter().format(record)
    assert number not in line_
    entry = json.loads(line_)
    assert entry["msg"] == "look-up of 2900*****2345 failed" and "no account 2900*****2345" in entry["exc"]


@pytest.fixture(scope="module")
def logged_service(servers: Any) -> Iterator[tuple[Service, Path]]:
    """A service at DEBUG whose Redis is a closed port (so the cache fails and says so in the log), with its
    stderr in a file."""
    stderr_path = Path(tempfile.mkdtemp(prefix="bonus-engine-log-")) / "stderr.log"
    env = {"BONUS_ENGINE_LOG_LEVEL": "DEBUG", "BONUS_ENGINE_REDIS_RETRY_AFTER_MS": "0"}
    with stderr_path.open("wb") as stderr:
        service = start_service(servers.new_database(), f"redis://127.0.0.1:{free_port()}/0", "",
                                EXAMPLE.read_text(), env, stderr=stderr)
    yield service, stderr_path
    service.stop()


def test_profiles_never_reach_the_log_nor_the_metrics(logged_service: tuple[Service, Path]) -> None:
    """Set, refuse, read, card and erase a profile at DEBUG: neither the log nor /metrics holds a value of it
    (issue 14; docs/security.md, threat model)."""
    service, stderr_path = logged_service
    admin, pos = service.client(), service.client(service.key("pos"))
    number = card()
    secrets_ = {"birth": "1966-06-13", "pet": "iguana-rex-8812", "note": "allergic-to-sesame-4471"}
    assert pos.post("/v1/accounts", json={"card": number, "profile": {"birth_date": secrets_["birth"]}}
                    ).status_code == 201
    assert pos.patch(f"/v1/accounts/{number}", json={"profile": {
        "gender": "female", "attributes": {"pet": secrets_["pet"], "note": secrets_["note"]}}}).status_code == 204
    assert pos.patch(f"/v1/accounts/{number}", json={"profile": {
        "attributes": {"pet": {"name": secrets_["pet"]}}}}).status_code == 422
    assert admin.get(f"/v1/accounts/{number}/profile").json()["attributes"]["pet"] == secrets_["pet"]
    assert admin.get(f"/v1/accounts/{number}/insights").json()["profile"]["birth_date"] == secrets_["birth"]
    assert admin.delete(f"/v1/accounts/{number}/profile").status_code == 204
    text = httpx.get(f"{service.url}/metrics").text
    log = stderr_path.read_text(encoding="utf-8", errors="replace")
    for value in secrets_.values():
        assert value not in log and value not in text, value


def test_card_numbers_never_reach_the_log_nor_metric_labels(logged_service: tuple[Service, Path]) -> None:
    service, stderr_path = logged_service
    admin = service.client()
    pos = service.client(service.key("pos", "s17"))
    cards = [card() for _ in range(3)]
    for number in cards:
        assert admin.post("/v1/accounts", json={"card": number}).status_code == 201
        assert pos.get(f"/v1/accounts/{number}").status_code == 200
        sale = receipt([line("1", 100000)], number, store_id="s17")
        assert pos.post("/v1/receipts", json=sale).status_code == 201
        assert pos.post(f"/v1/receipts/{sale['receipt_id']}/cancel").status_code == 200
        assert admin.post(f"/v1/accounts/{number}/adjustments",
                          json={"points": 100, "reason": f"card {number}"}).status_code == 201
        assert admin.post(f"/v1/accounts/{number}/block").status_code == 200
        assert pos.post("/v1/receipts", json=receipt([line("1", 1000)], number, store_id="s18")).status_code == 403
    unknown = card()
    cards.append(unknown)
    assert pos.get(f"/v1/accounts/{unknown}").status_code == 404
    assert pos.get(f"/v1/accounts/{unknown}/ledger?cursor=bad{unknown}").status_code == 422
    assert pos.post("/v1/receipts", json=receipt([line("1", 1000)], unknown, store_id="s17",
                                                 issued_at="2000-01-01T00:00:00+03:00")).status_code == 422
    text = httpx.get(f"{service.url}/metrics").text
    service.stop()
    log = stderr_path.read_text(encoding="utf-8", errors="replace")
    # the log was written (the cache failures say so) and holds no card number
    assert "redis unavailable" in log, log[-2000:]
    for number in cards:
        assert number not in log
        assert number not in text
    # no metric label carries a card, a receipt id or any long number; routes are templates
    labels = re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', text)
    assert labels
    assert not [value for _, value in labels if re.search(r"\d{8,}", value)]
    routes = {value for name, value in labels if name == "route"}
    assert "/v1/accounts/{card}" in routes and routes <= {path for _, path, _ in ROUTES} | {"unmatched"}, routes
    assert metric(text, "bonus_http_requests_total", route="/v1/accounts/{card}", status="200") >= 3
