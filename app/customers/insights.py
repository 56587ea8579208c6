"""The customer card use case: `GET /v1/accounts/{card}/insights` (admin).

Every figure is read from the account's own rows through its indexes (its receipts, its ledger entries),
live, not from the report summaries: the cost is that of one customer's history, whatever the size of
the chain. Segment and tier are the read endpoint's (the cached snapshot when there is one). The RFM
scores need the quintile boundaries over every buyer: those are remembered (report_rfm) and refreshed by
the roll-up and by the segments report; the card computes them itself only when none are younger than
RFM_MAX_AGE.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from app.accounts import repository as accounts
from app.accounts import service as account_service
from app.core import metrics
from app.core.context import AppContext, utcnow
from app.core.errors import not_found
from app.reports import repository as reports
from app.reports.rollup import REQUEST_SPAN_XIDS, roll_up
from app.segments import service as segments

from . import card, repository
from .profile import profile_json

log = logging.getLogger("bonus_engine.customers")

RFM_MAX_AGE = timedelta(hours=1)


async def rfm_bounds(ctx: AppContext, conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The stored boundaries, or, when they are missing or older than RFM_MAX_AGE, new ones over the buyers
    as a report would count them now (the newest receipts folded in first, as a report request does)."""
    bounds = await reports.rfm_bounds(conn)
    if bounds is None or utcnow() - bounds["computed_at"] > RFM_MAX_AGE:
        started = time.perf_counter()
        await roll_up(ctx.db, ctx.settings.report_time_zone, max_span=REQUEST_SPAN_XIDS)
        bounds = await reports.refresh_rfm_bounds(conn) or bounds
        metrics.RFM_REFRESHES.labels("card").inc()
        # at scale this is the card's one slow step (about 1 s at 1 M buyers): say so where ops look
        log.info("a customer card computed the RFM boundaries in %.3f s (none younger than %s)",
                 time.perf_counter() - started, RFM_MAX_AGE)
    return bounds


async def insights(ctx: AppContext, number: str) -> dict[str, Any]:
    view = await account_service.look_up(ctx, number)  # 404 account_not_found for an unknown card
    zone_name = ctx.settings.report_time_zone
    zone = ZoneInfo(zone_name)
    now = utcnow()
    async with ctx.db.connection() as conn:
        account = await accounts.get(conn, number)
        if account is None:
            raise not_found("account_not_found", "no account with this card")
        account_id = account.id
        figures = await repository.purchases(conn, account_id)
        times = await repository.receipt_times(conn, account_id, zone_name)
        lines = await repository.categories(conn, account_id)
        by_kind = await repository.points(conn, account_id)
        profile = await accounts.profile(conn, account_id)
        bounds = await rfm_bounds(ctx, conn) if figures["receipts"] else None
        custom = await segments.names(conn, sorted(account.segments))
    weekdays, hours = card.clock(times)
    top, promo_share = card.categories(lines)
    return {
        "card": number, "as_of": now.isoformat(), "time_zone": zone_name,
        **card.purchases(figures, sum(int(row["lines"]) for row in lines), now.astimezone(zone).date(), zone),
        "promo_share": promo_share, "top_categories": top, "weekdays": weekdays, "hours": hours,
        "points": card.points(by_kind, view["points"]["available"]),
        "rfm": card.rfm(figures, bounds),
        "segment": view["segment"], "tier": view["tier"]["id"],
        "segments": custom,
        "profile": profile_json(number, profile),
    }
