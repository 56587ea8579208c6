"""Schemathesis against the OpenAPI schema that a real running service serves at /openapi.json.

Every documented operation gets schema-valid (positive) and schema-invalid (negative) requests, sent
with the keys its role allows (the bootstrap admin key; for pos routes also a pos key and a pos key bound
to store s17), and every answer goes through schemathesis' checks: no 5xx, a documented status code, a
documented content type and headers, a body that matches the documented schema, invalid data refused
with a 4xx, and auth enforced (a successful call is probed again without a key and with a wrong key).
Then a stateful run follows the schema's links (a registered card to its look-up, ledger,
adjustments and blocks; a confirmed receipt to its read, refunds and cancel; a saved campaign to its
read and delete).

The service is its own (it gets random programs and campaigns), with a failed look-up limit high enough
that random codes keep reaching the look-up instead of the 429 (which is documented all the same).
`BONUS_ENGINE_SCHEMATHESIS_EXAMPLES` (default 50 per operation) and
`BONUS_ENGINE_SCHEMATHESIS_STEPS` (default 60 stateful scenarios) size the run;
`BONUS_ENGINE_SCHEMATHESIS_RANDOM=1` draws new examples each run instead of the fixed ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import route_roles
from tests.schemathesis_rules import accepts_or_refuses_rightly
from tests.support import ADMIN_KEY, Service, assert_problem, card, line, metric, now_iso, receipt

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
EXAMPLES = int(os.environ.get("BONUS_ENGINE_SCHEMATHESIS_EXAMPLES", "50"))
STEPS = int(os.environ.get("BONUS_ENGINE_SCHEMATHESIS_STEPS", "60"))
RANDOM = bool(os.environ.get("BONUS_ENGINE_SCHEMATHESIS_RANDOM"))  # a new seed each run instead of a fixed one

# (method, path, role) of every documented route, from the routes' auth dependencies (app.main.route_roles).
ROUTES = sorted(((method, path, role) for (method, path), role in route_roles().items()),
                key=lambda route: (route[1], route[0]))

# Schemathesis' `positive_data_acceptance` ("schema-valid request rejected") is on for every operation: the
# schema states what JSON Schema can, and a refusal of a schema-valid request passes only when
# tests/schemathesis_rules.py finds, in the request itself, the rule beyond JSON Schema it is for.
_RECEIPT_BODIES = {("POST", "/v1/receipts/calculate"), ("POST", "/v1/receipts")}


def test_the_routes_are_those_the_service_documents(st_service: Service) -> None:
    served = httpx.get(f"{st_service.url}/openapi.json").json()
    documented = {(method.upper(), path) for path, item in served["paths"].items() for method in item}
    assert documented == {(method, path) for method, path, _ in ROUTES}
    for method, path, role in ROUTES:
        operation = served["paths"][path][method.lower()]
        assert operation.get("x-role") == role, (method, path)
        assert operation.get("security") == ([{"bearer": [role]}] if role else None), (method, path)


@pytest.fixture(scope="module")
def st_service(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(BONUS_ENGINE_FAILED_LOOKUP_LIMIT="1000000")


@pytest.fixture(scope="module")
def api_schema(st_service: Service) -> Any:
    # The keys are sent by the test (by role), so the Authorization header is not a generated parameter: a
    # negative case that "leaves it out" would get it back from the test and be no negative case at all.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    checks = config.projects.default.checks
    assert checks.positive_data_acceptance.enabled and checks.negative_data_rejection.enabled
    return schemathesis.openapi.from_url(f"{st_service.url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def keys(st_service: Service) -> dict[str, list[str]]:
    """The keys each role's routes are called with."""
    return {"admin": [ADMIN_KEY], "pos": [ADMIN_KEY, st_service.key("pos"), st_service.key("pos", "s17")],
            "marketer": [ADMIN_KEY, st_service.key("marketer")]}


def _recent(case: Any, minutes: int) -> None:
    """Random `issued_at`s are nearly always years away, so receipts would only meet receipt_too_old or
    receipt_in_future: most positive receipts get a recent time, so they reach the engine and the ledger."""
    if (case.meta is not None and case.meta.generation.mode.is_positive and isinstance(case.body, dict)
            and minutes < 50):
        case.body["issued_at"] = now_iso(timedelta(minutes=-minutes))


def _validate(case: Any, response: Any, headers: dict[str, str]) -> None:
    """Every check (`positive_data_acceptance` included: `api_schema` asserts it is on), except that one for a
    refusal for a rule beyond JSON Schema (tests/schemathesis_rules.py)."""
    excluded = [positive_data_acceptance] if accepts_or_refuses_rightly(case, response) else []
    case.validate_response(response, headers=headers, excluded_checks=excluded)


@pytest.mark.parametrize(("method", "path", "role"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_operation_conforms(api_schema: Any, keys: dict[str, list[str]], method: str, path: str,
                                  role: str | None) -> None:
    operation = api_schema[path][method]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy, key=st.sampled_from(keys[role] if role else [None]), minutes=st.integers(0, 60))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.generate], derandomize=not RANDOM)
    def run(case: Any, key: str | None, minutes: int) -> None:
        if (method, path) in _RECEIPT_BODIES:
            _recent(case, minutes)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = case.call(headers=headers)
        _validate(case, response, headers)

    run()


def test_auth_was_probed_on_the_operations_that_succeeded(st_service: Service) -> None:
    """The test itself always sends a key: the 401s the service counted come from schemathesis' auth
    check, which repeats a successful call without a key and with a wrong one. So that check ran."""
    text = httpx.get(f"{st_service.url}/metrics").text
    probed = {route for route in {path for _, path, role in ROUTES if role}
              if metric(text, "bonus_http_requests_total", route=route, status="401") > 0}
    assert len(probed) >= 10, probed


def test_stateful_links(api_schema: Any) -> None:
    """Sequences along the links schemathesis infers from the schema (a response field feeding another
    operation's parameter: `POST /v1/accounts` → `card` → look-up, ledger, adjustments, block; `POST
    /v1/receipts` → `receipt_id` → read, refunds, cancel; `PUT /v1/campaigns/{id}` → read, delete), all
    with the admin key and the same checks.

    A state machine against a live server is not replayable: when Hypothesis replays a prefix and the
    server answers differently, it raises `Flaky`. Schemathesis' own runner ends the suite there and starts
    another one; so does this test, and it keeps every check failure it saw, so a failure that would not
    replay is still reported."""
    auth_headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    machine = api_schema.as_state_machine()
    transitions = [name for name in dir(machine) if name.startswith(("GET_", "POST_", "PUT_", "DELETE_"))]
    assert len(transitions) > 20, "schemathesis inferred no links: nothing to run statefully"
    failures: list[FailureGroup] = []
    scenarios = [0]

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            if (case.method.upper(), case.path) in _RECEIPT_BODIES:
                _recent(case, 1)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth_headers}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            try:
                _validate(case, response, auth_headers)
            except FailureGroup as failure:
                failures.append(failure)
                raise

        def teardown(self) -> None:
            scenarios[0] += 1
            super().teardown()

    for suite in range(8):
        left = STEPS - scenarios[0]
        if left <= 0:
            break
        try:
            seeded = Workflow if RANDOM else hypothesis_seed(suite)(Workflow)
            seeded.run(settings=settings(max_examples=left, stateful_step_count=6, deadline=None, database=None,
                                         phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
        except Flaky:
            pass  # the server's state moved on under a replay: a new suite (failures are kept above)
        if failures:
            raise failures[0]
    assert scenarios[0] >= STEPS // 2, f"only {scenarios[0]} stateful scenarios ran"


def test_the_cli_phases_find_no_schema_valid_request_rejected(st_service: Service, tmp_path: Path) -> None:
    """`st run` as an outsider runs it, for the phases the tests above do not have: the examples, and the
    coverage phase's schema-valid cases (the edges of every keyword: `""` for a pattern, the bounds, `0`
    beside `not: {const: 0}`, whole floats for integers, real days at the calendar's ends). The checks: no
    5xx, and positive_data_acceptance with tests/schemathesis_rules.py (as a hooks module) for the rules
    beyond JSON Schema. The exit code is 0 only when none failed; a hooks module that excused nothing made it
    fail. (Its negative cases are the tests above's; `Allow` on a 405 is tests/test_errors_api.py's.)"""
    command = [str(Path(sys.executable).with_name("st")), "run", f"{st_service.url}/openapi.json",
               "-H", f"Authorization: Bearer {ADMIN_KEY}", "--phases", "examples,coverage", "--mode", "positive",
               "--workers", "1",
               "--checks", "not_a_server_error,positive_data_acceptance_beyond_json_schema",
               "--suppress-health-check", "all", "--warnings", "off"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_rules",
           "PYTHONPATH": os.pathsep.join([str(EXAMPLE.parents[2]), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    operations = sum(1 for methods in st_service.client().get("/openapi.json").json()["paths"].values()
                     for method in methods if method in ("get", "post", "put", "patch", "delete"))
    assert "Coverage" in run.stdout and f"{operations} selected" in run.stdout, run.stdout[-5000:]


# --- what schemathesis found, kept as plain regression tests ------------------------------------------


def test_lifetime_tier_window_with_a_positive_offset(st_service: Service) -> None:
    """`tiers.window_days: 0` (lifetime) counted purchases from datetime.min in the receipt's own offset,
    which is before year 1 in UTC for +03:00: every receipt with a card was a 500."""
    client = st_service.client()
    document = yaml.safe_load(EXAMPLE.read_text())
    document["tiers"]["window_days"] = 0
    saved = client.put("/v1/program", json=document)
    assert saved.status_code == 200, saved.text
    body = receipt([line("1", 100000)], card(), issued_at=now_iso(timedelta(minutes=-1), offset_hours=3))
    for route, status in (("/v1/receipts/calculate", 200), ("/v1/receipts", 201)):
        answer = client.post(route, json=body)
        assert answer.status_code == status, answer.text


@pytest.mark.parametrize("issued_at", ["0001-01-01T00:00:00+03:00", "0001-01-01T00:00:00-03:00",
                                       "9999-12-31T23:59:59-03:00", "9999-12-31T23:59:59+03:00"])
def test_receipts_at_the_ends_of_time_are_refused(st_service: Service, issued_at: str) -> None:
    client = st_service.client()
    body = receipt([line("1", 100000)], card(), issued_at=issued_at)
    for route in ("/v1/receipts/calculate", "/v1/receipts"):
        answer = client.post(route, json=body)
        assert answer.status_code == 422, answer.text


def test_text_with_nul_is_refused_with_its_path(st_service: Service) -> None:
    """PostgreSQL cannot store U+0000: a coupon code with one was a 500 (and the connection was dropped)."""
    client = st_service.client()
    cases = [
        (receipt([line("1", 100000)], card(), coupons=["WIN\u0000TER"]), "coupons[0]"),
        (receipt([line("1", 100000, sku="A\u0000B")], card()), "lines[0].sku"),
        (receipt([line("1", 100000)], card(), gift_certificates=[{"code": "GC\u0000"}]), "gift_certificates[0].code"),
    ]
    for body, path in cases:
        for route in ("/v1/receipts/calculate", "/v1/receipts"):
            problem = assert_problem(client.post(route, json=body), 422, "validation_error")
            assert [e["path"] for e in problem["errors"]] == [path]
    number = card()
    assert client.post("/v1/accounts", json={"card": number}).status_code == 201
    problem = assert_problem(client.post(f"/v1/accounts/{number}/adjustments",
                                         json={"points": 100, "reason": "a\u0000b"}), 422, "validation_error")
    assert [e["path"] for e in problem["errors"]] == ["reason"]
    document = yaml.safe_load(EXAMPLE.read_text())
    document["campaigns"][0]["name"] = "nul\u0000"
    problem = assert_problem(client.put("/v1/program", json=document), 422, "invalid_program")
    assert [e["path"] for e in problem["errors"]] == ["campaigns[0].name"]
    campaign = {**document["campaigns"][0], "name": "ok", "items": {"skus": ["A\u0000"]}}
    problem = assert_problem(client.put(f"/v1/campaigns/{campaign['id']}", json=campaign), 422, "invalid_campaign")
    assert [e["path"] for e in problem["errors"]] == ["items.skus[0]"]
    # a code with NUL is an unknown code: the same 404 as any other
    assert_problem(client.get("/v1/coupons/A%00B"), 404, "coupon_not_found")
    assert_problem(client.get("/v1/gift-certificates/A%00B"), 404, "gift_certificate_not_found")


@pytest.mark.parametrize("query", ["to=0001-01-01", "to=0001-01-29", "from=0001-01-01&to=0001-01-05",
                                   "to=9999-12-31", "from=9999-12-20&to=9999-12-31"])
def test_reports_at_the_ends_of_the_calendar(st_service: Service, query: str) -> None:
    """`format: date` on `from` and `to` made schemathesis send real days at the calendar's ends: the default
    `from` (29 days before `to`) before 0001-01-01, and the instant after 9999-12-31, were a 500."""
    client = st_service.client()
    for route in ("program", "stores", "campaigns", "customers", "abc", "campaigns/winter-check/uplift"):
        answer = client.get(f"/v1/reports/{route}?{query}")
        assert answer.status_code == 200, (route, answer.text)
        assert answer.json()["period"]["to"] == query.split("to=")[1]
    first = client.get(f"/v1/reports/program?{query}").json()
    assert first["receipts"]["total"] == 0 and first["period"]["from"] >= "0001-01-01"
    customers = client.get(f"/v1/reports/customers?{query}&inactive_days=3660")
    assert customers.status_code == 200, customers.text
