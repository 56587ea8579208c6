"""The read endpoint's answer: balances from the lots, tier and segment from purchases, at `now`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from rules import CompiledProgram, Lot, balances, next_tier, segment_of, tier_for

from . import repository

EXPIRING_WINDOW = timedelta(days=30)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def expiring(lots: Sequence[Lot], now: datetime) -> list[dict[str, Any]]:
    """Available points that expire within 30 days, summed per expiry moment."""
    horizon = now + EXPIRING_WINDOW
    by_moment: dict[datetime, int] = {}
    for lot in lots:
        if lot.expires_at is not None and lot.is_available(now) and lot.expires_at <= horizon:
            by_moment[lot.expires_at] = by_moment.get(lot.expires_at, 0) + lot.remaining
    return [{"amount": amount, "at": iso(moment)} for moment, amount in sorted(by_moment.items())]


def next_change(lots: Sequence[Lot], facts: asyncpg.Record, program: CompiledProgram, now: datetime) -> datetime | None:
    """The next moment the view changes without a write: a lot ripens, nears expiry or expires, a purchase
    leaves the tier window, or the segment moves on. Cached snapshots live until then."""
    settings = program.program
    moments: list[datetime] = []
    for lot in lots:
        moments.append(lot.available_at)
        if lot.expires_at is not None:
            moments += [lot.expires_at, lot.expires_at - EXPIRING_WINDOW]
    if facts["oldest_in_window"] is not None and settings.tiers.window_days:
        moments.append(facts["oldest_in_window"] + timedelta(days=settings.tiers.window_days))
    if facts["last_purchase"] is not None:
        moments.append(facts["first_purchase"] + timedelta(days=settings.segments.newcomer_days))
        moments.append(facts["last_purchase"] + timedelta(days=settings.segments.pre_churn_days))
        moments.append(facts["last_purchase"] + timedelta(days=settings.segments.churn_days))
    future = [m for m in moments if m > now]
    return min(future) if future else None


async def account_view(
    conn: asyncpg.Connection, account: Mapping[str, Any], program: CompiledProgram, now: datetime,
    lots: Sequence[Lot] | None = None,
) -> tuple[dict[str, Any], datetime | None]:
    """(the account as GET /v1/accounts/{card} answers it, when it next changes by itself).

    A writer passes the lots its ledger book holds, saving a round trip: under the account's lock the
    book has every lot with points left."""
    settings = program.program
    if lots is None:
        rows = await repository.live_lots(conn, account["id"])
        lots = [Lot(r["id"], r["remaining"], r["available_at"], r["expires_at"]) for r in rows]
    facts = await repository.purchase_facts(conn, account["id"], now, settings.tiers.window_days)
    available, pending = balances(lots, account["debt"], now)
    purchases = int(facts["purchases"])
    tier = tier_for(settings.tiers, purchases)
    upcoming = next_tier(settings.tiers, tier)
    view = {
        "card": account["card"],
        "status": account["status"],
        "segment": segment_of(facts["first_purchase"], facts["last_purchase"], now, settings.segments),
        "points": {"available": available, "pending": pending, "expiring": expiring(lots, now)},
        "tier": {
            "id": tier.id,
            "accrual_percent": tier.model_dump(mode="json")["accrual_percent"],
            "purchases": purchases,
            "next": None if upcoming is None else {
                "id": upcoming.id,
                "min_purchases": upcoming.min_purchases,
                "remaining": upcoming.min_purchases - purchases,
            },
        },
    }
    return view, next_change(lots, facts, program, now)
