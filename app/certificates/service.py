"""Gift certificate use cases: issue a batch, look one up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from app.accounts.view import iso
from app.core.codes import new_code
from app.core.context import AppContext, utcnow
from app.core.errors import AppError, not_found
from rules import CertificateFact, normalize_code

from . import repository
from .schemas import IssueRequest

PREFIX = "GC"


def status_at(row: asyncpg.Record, now: datetime) -> str:
    """Stored status, except that a certificate past its expiry is `expired` (void stays void)."""
    if row["status"] in ("issued", "active", "used") and row["expires_at"] is not None and row["expires_at"] <= now:
        return "expired"
    return str(row["status"])


def fact(row: asyncpg.Record, now: datetime) -> CertificateFact:
    return CertificateFact(status_at(row, now), row["balance"], row["expires_at"], row["single_use"])  # type: ignore[arg-type]


def as_json(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    return {"code": row["code"], "status": status_at(row, now), "balance": row["balance"],
            "nominal": row["nominal"], "expires_at": iso(row["expires_at"]), "single_use": row["single_use"]}


async def issue(ctx: AppContext, request: IssueRequest) -> list[str]:
    if request.expires_at is not None and request.expires_at <= utcnow():
        raise AppError(422, "validation_error", "expires_at is in the past",
                       errors=[{"path": "expires_at", "message": "must be in the future"}])
    codes: list[str] = []
    async with ctx.db.transaction() as conn:
        while len(codes) < request.count:  # a clash with an existing code (2^-65 each) is simply redrawn
            fresh = [new_code(PREFIX) for _ in range(request.count - len(codes))]
            codes += await repository.insert(conn, fresh, request.nominal, request.expires_at,
                                             request.single_use, request.active)
    return codes


async def look_up(ctx: AppContext, raw_code: str) -> dict[str, Any]:
    code = normalize_code(raw_code)
    async with ctx.db.connection() as conn:
        row = await repository.get(conn, code) if code else None
    if row is None:
        raise not_found("gift_certificate_not_found", "no gift certificate with this code")
    return as_json(row, utcnow())
