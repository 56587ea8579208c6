"""What receipt-level discounts share: one amount, spread over the in-scope lines above their floors."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .._money import percent_half_up, spread


def in_scope_amount(left: Sequence[int], scope: Sequence[bool]) -> int:
    return sum(amount for amount, inside in zip(left, scope, strict=True) if inside)


def give(percent: Fraction | None, amount: int | None, left: Sequence[int], room: Sequence[int],
         scope: Sequence[bool]) -> list[int]:
    """A percent of the in-scope amount left (half up, once) or a fixed amount, capped at the room above
    the floors, spread over the in-scope lines by their amounts left."""
    weights = [amount if inside else 0 for amount, inside in zip(left, scope, strict=True)]
    base = sum(weights)
    if base == 0:
        return [0] * len(left)
    wanted = percent_half_up(base, percent) if percent is not None else amount or 0
    caps = [free if inside else 0 for free, inside in zip(room, scope, strict=True)]
    return spread(min(wanted, sum(caps)), weights, caps)
