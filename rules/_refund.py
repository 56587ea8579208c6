"""Refund shares: what a refund reverses of each line's stored figures, never re-evaluated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

__all__ = ["REVERSIBLE", "refund_share"]


def _thousandths(quantity: Decimal) -> int:
    return int(quantity * 1000)

# The stored per-line figures a refund reverses in proportion to the quantity returned.
REVERSIBLE = ("amount", "discount", "points_redeemed", "gift_certificates", "accrual_points", "bonus_points")


def refund_share(
    figures: Mapping[str, int],
    refunded: Mapping[str, int],
    bought: Decimal,
    returned_before: Decimal,
    returning: Decimal,
    names: Sequence[str] = REVERSIBLE,
) -> dict[str, int]:
    """floor(value × returning ÷ bought) of each figure; the refund of the line's last unit takes the rest."""
    if returning <= 0 or returned_before + returning > bought:
        raise ValueError("returned quantity out of range")
    last = returned_before + returning == bought
    share: dict[str, int] = {}
    for name in names:
        value = figures.get(name, 0)
        if last:
            share[name] = value - refunded.get(name, 0)
        else:
            share[name] = value * _thousandths(returning) // _thousandths(bought)
    return share
