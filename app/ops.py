"""Endpoints for ops: /metrics, /healthz (the process is alive), /readyz (Postgres and migrations)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.core import metrics
from app.core.http import json_response

router = APIRouter(tags=["ops"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request) -> Response:
    db = request.app.state.ctx.db
    metrics.POOL_IN_USE.set(db.in_use())
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


@router.get("/healthz", summary="Liveness: checks nothing external")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Readiness: Postgres reachable and migrations current; Redis down is degraded")
async def readyz(request: Request) -> Response:
    ctx = request.app.state.ctx
    checks: dict[str, str] = {}
    ready = True
    try:
        current = await ctx.db.fetchval("SELECT version_num FROM alembic_version")
        checks["postgres"] = "ok"
        checks["migrations"] = "ok" if current == request.app.state.migration_head else f"at {current}"
        ready = current == request.app.state.migration_head
    except Exception as error:
        checks["postgres"] = f"unavailable: {type(error).__name__}"
        ready = False
    checks["redis"] = "ok" if await ctx.cache.ping() else "degraded"
    checks["program"] = f"version {ctx.programs.loaded.version}" if ctx.programs.loaded else "none loaded"
    return json_response({"status": "ready" if ready else "unready", "checks": checks}, 200 if ready else 503)
