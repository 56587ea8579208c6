"""The one place that turns errors into RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match

from . import metrics
from .errors import AppError
from .http import PROBLEM_JSON, error_path

log = logging.getLogger("bonus_engine.errors")

_HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def problem(status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail, "code": code, **extra}
    metrics.ERRORS.labels(code).inc()
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def allowed_methods(request: Request) -> str:
    """`Allow` for a 405: the methods of the routes of this path. Starlette answers with the methods of the
    first route whose path matched, and GET and PUT of one path are two routes here (`/v1/program`). Of the
    templates that match, the one with the fewest parameters is the path's own (`/v1/receipts/calculate`,
    not `/v1/receipts/{receipt_id}`), as the OpenAPI schema documents it."""
    by_template: dict[str, set[str]] = {}
    for route in iter_route_contexts(request.app.router.routes):  # the routes of the included routers too
        if route.methods and route.path and route.matches(request.scope)[0] != Match.NONE:
            by_template.setdefault(route.path, set()).update(route.methods)
    own = min(by_template, key=lambda template: template.count("{"), default=None)
    return ", ".join(sorted(by_template[own])) if own is not None else ""


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, error: AppError) -> Response:
        return problem(error.status, error.code, error.title, error.detail, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        errors = [{"path": error_path(tuple(e["loc"])), "message": e["msg"]} for e in error.errors()]
        return problem(422, "validation_error", "Validation error", "the request is invalid", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> Response:
        code = _HTTP_CODES.get(error.status_code, "http_error")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem(error.status_code, code, code.replace("_", " ").capitalize(), str(error.detail), headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception) -> Response:
        from .db import is_connection_error

        if is_connection_error(error):
            log.warning("database unavailable: %s", error)
            return problem(503, "database_unavailable", "Database unavailable", "PostgreSQL is unreachable",
                           {"Retry-After": "1"})
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal_error", "Internal error", "an unexpected error; it has been logged")
