"""Who may call each route (issue 18 part 4): every route of the app, hidden ones included, with each role's
key (pos, marketer, admin) and with none. The decision for each route is written here, by hand: a route
added to the app without a row below fails the first test, so no route gets a role by accident.

An allowed call must get past auth (no 401 or 403: the harmless request then answers 2xx, 404 or 422); a
refused one is 403 `forbidden` for a key of another role, 401 `unauthorized` without a key. The requests
carry a body every route refuses and ids that do not exist, so nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest
from starlette.routing import Route

from app import main
from app.core.settings import Settings
from tests.support import ADMIN_KEY, Service, assert_problem, line, receipt

OPEN = frozenset({"none", "pos", "marketer", "admin"})
TILL = frozenset({"pos", "admin"})
MARKETING = frozenset({"marketer", "admin"})
ADMIN = frozenset({"admin"})

# (METHOD, path) → the roles whose keys may call it ("none": without a key).
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    # the till's work
    ("POST", "/v1/receipts/calculate"): TILL,
    ("POST", "/v1/receipts"): TILL,
    ("GET", "/v1/receipts/{receipt_id}"): TILL,
    ("POST", "/v1/receipts/{receipt_id}/refunds"): TILL,
    ("POST", "/v1/receipts/{receipt_id}/cancel"): TILL,
    ("POST", "/v1/accounts"): TILL,
    ("GET", "/v1/accounts/{card}"): TILL,
    ("PATCH", "/v1/accounts/{card}"): TILL,
    ("GET", "/v1/accounts/{card}/ledger"): TILL,
    ("GET", "/v1/gift-certificates/{code}"): TILL,
    ("GET", "/v1/gift-certificates/"): TILL,
    # balances, personal data, money-like codes: admin only
    ("POST", "/v1/accounts/{card}/adjustments"): ADMIN,
    ("POST", "/v1/accounts/{card}/block"): ADMIN,
    ("POST", "/v1/accounts/{card}/unblock"): ADMIN,
    ("GET", "/v1/accounts/{card}/profile"): ADMIN,
    ("DELETE", "/v1/accounts/{card}/profile"): ADMIN,
    ("GET", "/v1/accounts/{card}/insights"): ADMIN,
    ("POST", "/v1/coupons/batches"): ADMIN,
    ("GET", "/v1/coupons/{code}"): ADMIN,
    ("POST", "/v1/gift-certificates"): ADMIN,
    # the marketer's: program, history, campaigns, templates, segments, reports
    ("GET", "/v1/program"): MARKETING,
    ("PUT", "/v1/program"): MARKETING,
    ("GET", "/v1/program/versions"): MARKETING,
    ("GET", "/v1/program/versions/{version}"): MARKETING,
    ("GET", "/v1/program/versions/{version}/diff"): MARKETING,
    ("POST", "/v1/program/rollback"): MARKETING,
    ("GET", "/v1/campaigns"): MARKETING,
    ("GET", "/v1/campaigns/{campaign_id}"): MARKETING,
    ("PUT", "/v1/campaigns/{campaign_id}"): MARKETING,
    ("DELETE", "/v1/campaigns/{campaign_id}"): MARKETING,
    ("GET", "/v1/templates"): MARKETING,
    ("POST", "/v1/templates/{template_id}/campaign"): MARKETING,
    ("GET", "/v1/segments"): MARKETING,
    ("PUT", "/v1/segments/{segment_id}"): MARKETING,
    ("GET", "/v1/segments/{segment_id}"): MARKETING,
    ("DELETE", "/v1/segments/{segment_id}"): MARKETING,
    ("GET", "/v1/segments/{segment_id}/members"): MARKETING,
    ("GET", "/v1/reports/program"): MARKETING,
    ("GET", "/v1/reports/campaigns"): MARKETING,
    ("GET", "/v1/reports/campaigns/{campaign_id}/uplift"): MARKETING,
    ("GET", "/v1/reports/stores"): MARKETING,
    ("GET", "/v1/reports/customers"): MARKETING,
    ("GET", "/v1/reports/abc"): MARKETING,
    ("GET", "/v1/reports/segments"): MARKETING,
    ("GET", "/v1/reports/segments/{segment}/members"): MARKETING,
    ("POST", "/v1/simulations"): MARKETING,
    ("GET", "/v1/simulations"): MARKETING,
    ("GET", "/v1/simulations/{simulation_id}"): MARKETING,
    ("GET", "/reports"): MARKETING,
    ("GET", "/reports/segments/{segment}"): MARKETING,
    ("GET", "/reports/customers/{card}"): ADMIN,  # the customer card: balance and profile
    # the marketer's console (HTML); its POSTs refuse an allowed key without a CSRF token (CONSOLE_POSTS)
    ("GET", "/console"): MARKETING,
    ("GET", "/console/templates"): MARKETING,
    ("GET", "/console/templates/{template_id}"): MARKETING,
    ("POST", "/console/templates/{template_id}"): MARKETING,
    ("GET", "/console/campaigns/{campaign_id}"): MARKETING,
    ("POST", "/console/campaigns/{campaign_id}"): MARKETING,
    ("POST", "/console/publish"): MARKETING,
    ("GET", "/console/history"): MARKETING,
    ("GET", "/console/history/{version}"): MARKETING,
    ("GET", "/console/diff"): MARKETING,
    ("POST", "/console/rollback"): MARKETING,
    ("POST", "/console/simulate"): MARKETING,
    ("POST", "/console/campaigns/{campaign_id}/simulate"): MARKETING,
    ("GET", "/console/simulations"): MARKETING,
    ("GET", "/console/simulations/{simulation_id}"): MARKETING,
    ("GET", "/console/simulations/{simulation_id}/campaigns/{campaign_id}"): MARKETING,
    # operations and the schema
    ("GET", "/metrics"): OPEN,
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
}
ROLES = ("none", "pos", "marketer", "admin")
# an allowed key past auth meets the CSRF check here: the 403 page says so (`data-refused="csrf"`), not `forbidden`
CONSOLE_POSTS = frozenset(route for route in ALLOWED if route[0] == "POST" and route[1].startswith("/console/"))
_VALUES = {"{card}": "2900000000001", "{receipt_id}": "no-such-receipt", "{campaign_id}": "no-such-campaign",
           "{code}": "NOSUCHCODE", "{segment_id}": "no-such-segment", "{segment}": "loyal",
           "{template_id}": "welcome-bonus", "{simulation_id}": "999999", "{version}": "999999"}


def _routes(routes: Iterable[object]) -> Iterator[Route]:
    """Every route of the app, into included routers (newer FastAPI keeps them as `_IncludedRouter`s)."""
    for route in routes:
        if isinstance(route, Route):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def registered() -> set[tuple[str, str]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main, "configure_logs", lambda level: None)  # keep pytest's log handlers
        app = main.create_app(Settings())
    return {(method, route.path) for route in _routes(app.routes) for method in route.methods or ()
            if method != "HEAD"}


def test_every_route_has_a_decision_here() -> None:
    routes = registered()
    assert routes - set(ALLOWED) == set(), "a route without a decision: add it to ALLOWED with its roles"
    assert set(ALLOWED) - routes == set(), "a decision for a route the app does not have"


def test_the_schema_says_the_same() -> None:
    """The role in the OpenAPI schema (app.main.route_roles) is the least one ALLOWED admits."""
    least = {OPEN: None, TILL: "pos", MARKETING: "marketer", ADMIN: "admin"}
    for route, role in main.route_roles().items():
        assert least[ALLOWED[route]] == role, route


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service()


@pytest.fixture(scope="module")
def clients(svc: Service) -> dict[str, httpx.Client]:
    keys = {"none": None, "pos": svc.key("pos"), "marketer": svc.key("marketer"), "admin": ADMIN_KEY}
    return {role: svc.client(key) for role, key in keys.items()}


def _concrete(path: str) -> str:
    for name, value in _VALUES.items():
        path = path.replace(name, value)
    return path


@pytest.mark.parametrize(("method", "path"), sorted(ALLOWED, key=lambda r: (r[1], r[0])),
                         ids=[f"{m} {p}" for m, p in sorted(ALLOWED, key=lambda r: (r[1], r[0]))])
def test_each_role_on_each_route(svc: Service, clients: dict[str, httpx.Client], method: str, path: str) -> None:
    version = clients["admin"].get("/v1/program").headers["Program-Version"]
    for role in ROLES:
        answer = clients[role].request(method, _concrete(path), json={"not_a_field": 1})
        if role in ALLOWED[(method, path)] and (method, path) in CONSOLE_POSTS:
            assert answer.status_code == 403 and 'data-refused="csrf"' in answer.text, (role, answer.text)
        elif role in ALLOWED[(method, path)]:
            assert answer.status_code not in (401, 403), (role, answer.text)
        elif role == "none":
            assert_problem(answer, 401, "unauthorized")
        else:
            problem = assert_problem(answer, 403, "forbidden")
            assert "key" in problem["detail"], problem
    assert clients["admin"].get("/v1/program").headers["Program-Version"] == version


def test_a_marketer_key_is_refused_by_the_tills_fast_paths(svc: Service, clients: dict[str, httpx.Client]) -> None:
    """Confirm and the account read answer from middleware before the endpoint; their checks refuse a marketer
    key as the endpoint does (a 403, not a receipt or a balance)."""
    number = "2900000000777"
    assert clients["pos"].post("/v1/accounts", json={"card": number}).status_code == 201
    assert clients["pos"].get(f"/v1/accounts/{number}").status_code == 200  # now in the fast read's cache
    assert_problem(clients["marketer"].get(f"/v1/accounts/{number}"), 403, "forbidden")
    body = receipt([line("1", 100000)], number)
    assert clients["pos"].post("/v1/receipts/calculate", json=body).status_code == 200  # a receipt the fast path takes
    for route in ("/v1/receipts/calculate", "/v1/receipts"):
        assert_problem(clients["marketer"].post(route, json=body), 403, "forbidden")
    assert_problem(clients["admin"].get(f"/v1/receipts/{body['receipt_id']}"), 404, "receipt_not_found")


def test_the_cli_creates_marketer_keys_and_refuses_unknown_roles(svc: Service) -> None:
    key = svc.key("marketer")
    assert key.startswith("be_marketer_")
    refused = svc.cli("keys", "create", "--role", "owner")
    assert refused.returncode == 2 and "marketer" in refused.stderr
    bound = svc.cli("keys", "create", "--role", "marketer", "--store", "s1")
    assert bound.returncode == 2 and "pos keys only" in bound.stderr


def test_a_marketer_signs_in_to_the_report_pages_with_basic_auth(svc: Service) -> None:
    """A browser sends the key as the Basic password: the report pages take a marketer's, the customer's card
    (balance and profile) does not."""
    key = svc.key("marketer")
    assert httpx.get(f"{svc.url}/reports", auth=("marketing", key)).status_code == 200
    refused = httpx.get(f"{svc.url}/reports/customers/2900000000001", auth=("marketing", key))
    assert_problem(refused, 403, "forbidden")
    assert "admin" in refused.json()["detail"]
