"""Coupon use cases: unique code batches and look-ups."""

from __future__ import annotations

from typing import Any

from app.accounts.view import iso
from app.core.codes import new_code
from app.core.context import AppContext, utcnow
from app.core.errors import AppError, not_found
from rules import Coupon, normalize_code, not_active_reason

from . import repository
from .schemas import BatchRequest


async def create_batch(ctx: AppContext, request: BatchRequest) -> list[str]:
    """`count` new unique codes of a coupon campaign, returned once (in the order created)."""
    campaign = ctx.programs.current.by_id.get(request.campaign_id)
    if not isinstance(campaign, Coupon) or campaign.code is not None:
        raise AppError(422, "campaign_not_coupon",
                       f"{request.campaign_id!r} is not a coupon campaign without a shared code in the program",
                       errors=[{"path": "campaign_id", "message": "not a batch coupon campaign"}])
    async with ctx.db.transaction() as conn:
        batch_id = await repository.insert_batch(conn, request.campaign_id, request.count, request.prefix)
        created = 0
        while created < request.count:  # a clash with an existing code (2^-65 each) is simply redrawn
            codes = [new_code(request.prefix) for _ in range(request.count - created)]
            created += await repository.insert_codes(conn, codes, request.campaign_id, batch_id)
        return await repository.batch_codes(conn, batch_id)


async def look_up(ctx: AppContext, raw_code: str) -> dict[str, Any]:
    code = normalize_code(raw_code)
    program = ctx.programs.current
    now = utcnow()
    async with ctx.db.connection() as conn:
        row = await repository.find_code(conn, code) if code else None
        campaign = program.coupon(code, row["campaign_id"] if row else None) if code else None
        if campaign is None:
            raise not_found("coupon_not_found", "no coupon with this code")
        history = await repository.uses_of(conn, code)
    live = sum(1 for use in history if use["released_at"] is None)
    status = not_active_reason(campaign, now) or "available"
    if status == "available":
        if row is not None and live:
            status = "used"
        elif campaign.max_uses is not None and live >= campaign.max_uses:
            status = "usage_limit_reached"
    return {
        "code": code,
        "campaign_id": campaign.id,
        "kind": "unique" if row is not None else "shared",
        "status": status,
        "uses": live,
        "max_uses": campaign.max_uses if row is None else 1,
        "max_uses_per_account": campaign.max_uses_per_account,
        "history": [{"receipt_id": u["receipt_id"], "created_at": iso(u["created_at"]),
                     "released_at": iso(u["released_at"])} for u in history],
    }
