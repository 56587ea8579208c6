"""The read endpoint's answer: balances from the lots, tier and segment from purchases, at `now`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import asyncpg

from rules import CompiledProgram, Lot, TierLevel, balances, next_tier, segment_of, tier_for

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


def next_change(lots: Sequence[Lot], facts: Mapping[str, Any], program: CompiledProgram,
                now: datetime) -> datetime | None:
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


@dataclass(frozen=True)
class Purchase:
    """A confirmed receipt of the account that its transaction writes only after the view is read."""

    issued_at: datetime
    amount: int


def with_purchase(facts: Mapping[str, Any], purchase: Purchase, at: datetime, window_days: int) -> dict[str, Any]:
    """The purchase facts as `repository.purchase_facts` reads them once `purchase` is written: the same
    filters (up to `at`; the window for the tier purchases), for a confirmed receipt nothing refunded."""
    counted = dict(facts)
    issued_at = purchase.issued_at.astimezone(UTC)  # as PostgreSQL returns it
    if issued_at > at:
        return counted
    counted["first_purchase"] = _earliest(counted["first_purchase"], issued_at)
    counted["last_purchase"] = issued_at if counted["last_purchase"] is None else max(counted["last_purchase"],
                                                                                       issued_at)
    if issued_at >= repository.window_start(at, window_days):
        counted["purchases"] = counted["purchases"] + purchase.amount
        counted["oldest_in_window"] = _earliest(counted["oldest_in_window"], issued_at)
    return counted


def _earliest(known: datetime | None, moment: datetime) -> datetime:
    return moment if known is None else min(known, moment)


async def account_view(
    conn: asyncpg.Connection, account: repository.AccountRow, program: CompiledProgram, now: datetime,
    lots: Sequence[Lot] | None = None, purchase: Purchase | None = None,
) -> tuple[dict[str, Any], datetime | None]:
    """(the account as GET /v1/accounts/{card} answers it, when it next changes by itself).

    A writer passes the lots its ledger book holds, saving a round trip: under the account's lock the
    book has every lot with points left. Confirm passes the receipt it is about to write as `purchase`,
    so the tier counts it although its row is written after the view (with the view in its result)."""
    settings = program.program
    if lots is None:
        rows = await repository.live_lots(conn, account.id)
        lots = [Lot(r["id"], r["remaining"], r["available_at"], r["expires_at"]) for r in rows]
    facts: Mapping[str, Any] = await repository.purchase_facts(conn, account.id, now, settings.tiers.window_days)
    if purchase is not None:
        facts = with_purchase(facts, purchase, now, settings.tiers.window_days)
    return view_of(account, program, now, lots, facts)


@lru_cache(maxsize=256)
def _accrual_percent(tier: TierLevel) -> Any:
    """A tier's percent as the program document writes it (`3`, `"7.5"`): every view shows it, and a
    program has a few tiers (frozen, so one tier is one entry)."""
    return tier.model_dump(mode="json")["accrual_percent"]


def view_of(account: repository.AccountRow, program: CompiledProgram, now: datetime, lots: Sequence[Lot],
            facts: Mapping[str, Any]) -> tuple[dict[str, Any], datetime | None]:
    """The view from the account row, its live lots and its purchase facts as of `now`."""
    settings = program.program
    available, pending = balances(lots, account.debt, now)
    purchases = int(facts["purchases"])
    tier = tier_for(settings.tiers, purchases)
    upcoming = next_tier(settings.tiers, tier)
    view = {
        "card": account.card,
        "status": account.status,
        "segment": segment_of(facts["first_purchase"], facts["last_purchase"], now, settings.segments),
        "points": {"available": available, "pending": pending, "expiring": expiring(lots, now)},
        "tier": {
            "id": tier.id,
            "accrual_percent": _accrual_percent(tier),
            "purchases": purchases,
            "next": None if upcoming is None else {
                "id": upcoming.id,
                "min_purchases": upcoming.min_purchases,
                "remaining": upcoming.min_purchases - purchases,
            },
        },
    }
    return view, next_change(lots, facts, program, now)
