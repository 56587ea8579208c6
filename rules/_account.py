"""What the engine knows of an account at a receipt's time: tier, segment, points available."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ._program import Segments, TierLevel, Tiers

__all__ = ["AccountState", "CardStatus", "next_tier", "segment_of", "tier_for"]

CardStatus = Literal["ok", "none", "unknown", "blocked"]


@dataclass(frozen=True, slots=True)
class AccountState:
    """The account facts one evaluation needs, read under the account's lock by the service.

    `status` is `ok` for a registered card (or one that confirm will auto-enrol), `none` without a
    card, `unknown` for an unregistered card when auto-enrolment is off, `blocked` for a blocked one.
    """

    status: CardStatus
    tier_purchases: int = 0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    available_points: int = 0
    segments: frozenset[str] = frozenset()  # the custom segments the account is in, as of their last refresh


NO_ACCOUNT = AccountState(status="none")


def tier_for(tiers: Tiers, purchases: int) -> TierLevel:
    """The highest level whose `min_purchases` the purchases reach (the first level has 0)."""
    held = tiers.levels[0]
    for level in tiers.levels:
        if purchases >= level.min_purchases:
            held = level
    return held


def next_tier(tiers: Tiers, current: TierLevel) -> TierLevel | None:
    index = tiers.levels.index(current)
    return tiers.levels[index + 1] if index + 1 < len(tiers.levels) else None


def segment_of(
    first: datetime | None, last: datetime | None, at: datetime, settings: Segments
) -> Literal["newcomer", "loyal", "pre_churn", "churn", "none"]:
    if first is None or last is None:
        return "none"
    since_last = at - last
    if since_last >= timedelta(days=settings.churn_days):
        return "churn"
    if since_last >= timedelta(days=settings.pre_churn_days):
        return "pre_churn"
    if at - first < timedelta(days=settings.newcomer_days):
        return "newcomer"
    return "loyal"
