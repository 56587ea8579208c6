"""docs/contract.md keeps up with the code: every route the app registers is in it, with its method and role in
"Every route", and every error code of app/core/errors.py's ERROR_CODES is in it. Building the app opens no
database (that happens in its lifespan, which never runs here)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from app import main
from app.console import http as console
from app.core import auth
from app.core.errors import ERROR_CODES
from app.core.settings import Settings
from app.reports import web

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
# a row of the "Every route" table: | METHOD | `path` | role | …
ROW = re.compile(r"^\|\s*([A-Z]+)\s*\|\s*`([^`]+)`\s*\|\s*(\w+)\s*\|", re.MULTILINE)


def _api_routes(routes: Iterable[object]) -> Iterator[APIRoute]:
    """The app's routes, into included routers (newer FastAPI keeps them as `_IncludedRouter`s that hold the
    `original_router`); FastAPI's own /openapi.json and /docs are plain routes and stay out."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _role(route: APIRoute) -> str:
    calls = {dependency.call for dependency in route.dependant.dependencies}
    if web.admin in calls:
        return "admin"
    if calls & {web.marketer, console.marketer, console.posted}:  # a console POST's `posted` checks the key first
        return "marketer"
    return auth.role_of(calls) or "none"


@pytest.fixture(scope="module")
def registered() -> dict[tuple[str, str], str]:
    """(METHOD, path) → role of every route of the app, hidden ones (GET /reports) included."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main, "configure_logs", lambda level: None)  # keep pytest's log handlers
        app = main.create_app(Settings())
    return {(method, route.path): _role(route)
            for route in _api_routes(app.routes) for method in route.methods or () if method != "HEAD"}


@pytest.fixture(scope="module")
def contract() -> str:
    assert CONTRACT.is_file(), "docs/contract.md is missing"
    return CONTRACT.read_text(encoding="utf-8")


def test_the_app_registers_the_routes_this_test_expects(registered: dict[tuple[str, str], str]) -> None:
    assert ("POST", "/v1/receipts") in registered and ("GET", "/v1/reports/segments/{segment}/members") in registered
    assert registered[("GET", "/reports")] == "marketer" and registered[("GET", "/healthz")] == "none"


def test_every_route_path_is_in_the_contract(registered: dict[tuple[str, str], str], contract: str) -> None:
    missing = sorted({path for _, path in registered
                      if not re.search(rf"(?<![\w/{{}}-]){re.escape(path)}(?![\w/{{}}-])", contract)})
    assert not missing, f"docs/contract.md does not mention these routes: {missing}"


def test_every_route_has_its_row_with_method_and_role(registered: dict[tuple[str, str], str], contract: str) -> None:
    rows = {(method, path): role for method, path, role in ROW.findall(contract)}
    assert {route: rows.get(route) for route in registered} == registered, (
        "the table in docs/contract.md, \"Every route\", must list each route with its method and role")
    assert not set(rows) - set(registered), f"rows for routes the app does not have: {set(rows) - set(registered)}"


def test_every_error_code_is_in_the_contract(contract: str) -> None:
    missing = [code for code in ERROR_CODES if f"`{code}`" not in contract]
    assert not missing, f"docs/contract.md does not mention these error codes: {missing}"
