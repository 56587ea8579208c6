"""Holdout control groups: which members a campaign with `control_percent` keeps out of it.

A member's group is a pure function of the campaign id and the card, so it is the same on every receipt,
worker, instance and version: BLAKE2b of a fixed encoding, never Python's `hash` (salted per process). The
card, not the account id, is the member's key because it is what calculate, a confirm that auto-enrols, and
the simulator (which has no database ids) all know; an account keeps its card for life.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b

from ._conditions import Context, LineScopes, applies
from ._program import Campaign

__all__ = ["BUCKETS", "Holdout", "bucket", "hold_out", "is_held_out"]

BUCKETS = 10_000  # a member's bucket is in [0, BUCKETS); control_percent × 100 of them are held out


def bucket(campaign_id: str, card: str) -> int:
    """The member's bucket for the campaign: the first 8 bytes of BLAKE2b("<campaign id>\\n<card>") in UTF-8,
    big-endian, modulo 10,000. (About 1 µs: cheaper than any cache of it.)"""
    digest = blake2b(f"{campaign_id}\n{card}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def is_held_out(campaign_id: str, card: str, control_percent: int) -> bool:
    return bucket(campaign_id, card) < control_percent * (BUCKETS // 100)


@dataclass(frozen=True, slots=True)
class Holdout:
    """Campaigns with a control group for which the receipt was eligible, by the member's group, by id."""

    treated: tuple[str, ...] = ()
    held_out: tuple[str, ...] = ()


NO_HOLDOUT = Holdout()


def hold_out(
    candidates: dict[str, list[Campaign]], holdouts: frozenset[str], card: str, ctx: Context, scopes: LineScopes
) -> Holdout:
    """Take the campaigns that hold this member out from `candidates` (in place) and say which were eligible.

    Eligible: the campaign is active at the receipt's time, its `when` holds, and one of the receipt's lines
    is in its `items`: everything that decides whether it is evaluated on this receipt, before what it then
    gives (a threshold not reached is still a member the campaign was tried on)."""
    treated: list[str] = []
    held_out: list[str] = []
    for campaign_type, campaigns in candidates.items():
        kept: list[Campaign] = []
        for campaign in campaigns:
            if campaign.id in holdouts and _eligible(campaign, ctx, scopes):
                assert campaign.control_percent is not None  # holdouts are the campaigns that have one
                if is_held_out(campaign.id, card, campaign.control_percent):
                    held_out.append(campaign.id)
                    continue
                treated.append(campaign.id)
            kept.append(campaign)
        candidates[campaign_type] = kept
    return Holdout(tuple(sorted(treated)), tuple(sorted(held_out)))


def _eligible(campaign: Campaign, ctx: Context, scopes: LineScopes) -> bool:
    return applies(campaign, ctx) and any(scopes.of(campaign.items))

