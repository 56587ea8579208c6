"""The ASGI application: routers, error handlers, metrics middleware and the lifespan of the pools."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

import rules
from app import ops
from app.accounts.endpoints import router as accounts_router
from app.accounts.expiry import sweep_forever
from app.accounts.fast import FastRead
from app.campaigns.endpoints import router as campaigns_router
from app.certificates.endpoints import router as certificates_router
from app.console import http as console_http
from app.console import web as console
from app.core import auth, heap, metrics, problems
from app.core.cache import Cache
from app.core.context import AppContext
from app.core.db import Database
from app.core.errors import ERROR_CODES
from app.core.http import BODY_MODELS
from app.core.logs import configure as configure_logs
from app.core.lookups import FailedLookups
from app.core.migrations import head
from app.core.settings import Settings, get_settings
from app.coupons.endpoints import router as coupons_router
from app.customers import birthdays
from app.customers.endpoints import router as customers_router
from app.customers.web import router as customer_page_router
from app.keys.ring import KeyRing
from app.program.endpoints import router as program_router
from app.program.service import ProgramHolder
from app.receipts.batch import Committer
from app.receipts.endpoints import router as receipts_router
from app.receipts.fast import FastWrite
from app.reports.endpoints import router as reports_router
from app.reports.rollup import roll_up_forever
from app.reports.web import router as reports_page_router
from app.segments.endpoints import router as segments_router
from app.segments.refresh import refresh_forever
from app.simulations import worker as simulations
from app.simulations.endpoints import router as simulations_router
from app.templates.endpoints import router as templates_router
from rules import Program

DESCRIPTION = """The loyalty processing service behind cash registers and online checkouts.

Money and points are integers in minor units. Errors are RFC 9457 problem+json with a machine-readable
`code`: """ + ", ".join(f"`{code}`" for code in ERROR_CODES)


log = logging.getLogger("bonus_engine.service")

ROUTERS: tuple[APIRouter, ...] = (receipts_router, accounts_router, customers_router, program_router,
                                  campaigns_router, coupons_router, certificates_router, reports_router,
                                  segments_router, templates_router, simulations_router, ops.router)


def route_roles() -> dict[tuple[str, str], str | None]:
    """(METHOD, path) of every documented route → the role its key needs (app.core.auth.role_of): `admin`,
    `marketer` (marketer or admin keys), `pos` (pos or admin keys), None for the open ops routes."""
    roles: dict[tuple[str, str], str | None] = {}
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            role = auth.role_of({dependency.call for dependency in route.dependant.dependencies if dependency.call})
            for method in route.methods or ():
                roles[(method, route.path)] = role
    return roles


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logs(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        await db.connect()
        metrics.POOL_SIZE.set(settings.db_pool_max)
        metrics.ENGINE_COMPILED.set(int(rules.COMPILED))
        if not rules.COMPILED:
            log.info("the rule engine runs as plain Python, about half as fast: no build of it for these sources "
                     "(python -m rules.compile), or BONUS_ENGINE_COMPILED=0")
        cache = Cache(settings)
        programs = ProgramHolder(db, settings.program_poll_ms)
        await programs.start()
        lookups = FailedLookups(cache, settings.failed_lookup_limit)
        app.state.ctx = ctx = AppContext(settings, db, cache, programs, lookups)
        ctx.confirms = Committer(ctx, max_batch=settings.confirm_batch_max,
                                 in_flight=settings.confirm_batches_in_flight, queue_max=settings.confirm_queue_max)
        cache.generation = int(await db.fetchval("SELECT generation FROM cache_state WHERE id = 1"))
        follower = asyncio.create_task(ctx.follow_cache_generation(settings.program_poll_ms / 1000))
        app.state.keys = KeyRing(settings.bootstrap_admin_key)
        app.state.db = db
        app.state.migration_head = head()
        interval_s = settings.expire_interval_s
        # expiry, then birthday bonuses, every interval_s
        background = ([asyncio.create_task(sweep_forever(db, interval_s, partial(birthdays.sweep, ctx)))]
                      if interval_s else [])
        if settings.report_interval_s:
            background.append(asyncio.create_task(
                roll_up_forever(db, settings.report_time_zone, settings.report_interval_s)))
            background.append(asyncio.create_task(
                refresh_forever(db, programs, settings)))
        simulating = asyncio.create_task(simulations.run_forever(db, settings)) if settings.simulation_poll_s else None
        heap.settle()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            follower.cancel()
            if simulating is not None:  # its child stopped and its job failed while the pool is open
                simulating.cancel()
                await asyncio.gather(simulating, return_exceptions=True)
            await ctx.confirms.drain()
            await programs.stop()
            await cache.close()
            await db.close()

    app = FastAPI(title="Bonus engine", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(FastWrite)  # inside the metrics middleware: added before it
    app.add_middleware(FastRead)
    app.add_middleware(metrics.MetricsMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(reports_page_router)  # GET /reports: HTML for browsers (Basic auth), not in the schema
    app.include_router(customer_page_router)  # GET /reports/customers/{card}: a customer card as HTML, likewise
    app.include_router(console.router)  # /console: the marketer's console, HTML with forms, not in the schema
    app.add_exception_handler(console_http.CsrfRefusedError, console_http.csrf_refused)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the bodies that handlers read themselves (parsed once from raw bytes)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    models: list[type[BaseModel]] = [Program, *BODY_MODELS.values()]
    for model in models:
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    components["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "code": {"type": "string", "enum": sorted(ERROR_CODES)},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "path": {"type": "string"}, "message": {"type": "string"}}}},
        },
    }
    _document_auth(schema)
    _document_readiness(schema)
    app.openapi_schema = schema
    return schema


def _document_auth(schema: dict[str, Any]) -> None:
    """`Authorization: Bearer <key>` on every route that needs a key, with the role it needs (OpenAPI 3.1 lets a
    non-OAuth requirement name roles; `x-role` says the same for tools that ignore them)."""
    schema["components"]["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": ("an API key (`bonus-engine keys create`); role `pos` (registers), `marketer` (campaigns, "
                        "program, templates, segments, reports) or `admin` (everything); a route's role says "
                        "which it needs, and an admin key may call every route"),
    }}
    for (method, path), role in route_roles().items():
        if role is not None:
            operation = schema["paths"][path][method.lower()]
            operation["security"] = [{"bearer": [role]}]
            operation["x-role"] = role


def _document_readiness(schema: dict[str, Any]) -> None:
    readiness = {"type": "object", "required": ["status", "checks"], "properties": {
        "status": {"type": "string", "enum": ["ready", "unready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    }}
    responses = schema["paths"]["/readyz"]["get"]["responses"]
    responses["200"]["content"] = {"application/json": {"schema": readiness}}
    responses["503"] = {"description": "not ready: PostgreSQL unreachable or migrations not at head",
                        "content": {"application/json": {"schema": readiness}}}


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker (`bonus-engine serve`)."""
    return create_app()
