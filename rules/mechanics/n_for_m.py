"""n_for_m: in each full group of `buy` in-scope units the cheapest `buy - pay` are free.

Units are those of the whole-quantity in-scope lines (a weighed line has none). A unit's price is its
line's amount left ÷ quantity; units are ordered by unit price, highest first, and among equal unit
prices the later line is the cheaper (its units come later). Groups of `buy` consecutive units are
cut from the top; the last, partial group gets nothing. In a group the last `buy - pay` units are the
cheapest. A line's discount is amount left × its free units ÷ quantity, rounded half up, capped at its
room above the floor. Units are counted by position ranges, never expanded one by one (a line may
hold a million units).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .._program import Campaign, NForM
from .._receipt import Line
from ._units import whole_units


def _free_before(position: int, buy: int, pay: int) -> int:
    """Free units among positions [0, position) of the ordered units, full groups only."""
    groups, rest = divmod(position, buy)
    return groups * (buy - pay) + max(0, rest - pay)


def apply(
    campaign: Campaign, lines: Sequence[Line], left: Sequence[int], room: Sequence[int], scope: Sequence[bool]
) -> list[int]:
    assert isinstance(campaign, NForM)
    units = [whole_units(line) if inside else 0 for line, inside in zip(lines, scope, strict=True)]
    counted = [i for i in range(len(lines)) if units[i] > 0]
    # highest unit price first; equal prices: the later line is the cheaper, so it comes later
    counted.sort(key=lambda i: (-Fraction(left[i], units[i]), i))
    buy, pay = campaign.buy, campaign.pay
    in_groups = sum(units) // buy * buy  # units from this position on are a partial group
    parts = [0] * len(lines)
    start = 0
    for i in counted:
        end = start + units[i]
        free = _free_before(min(end, in_groups), buy, pay) - _free_before(min(start, in_groups), buy, pay)
        # amount left × free ÷ quantity, half up, in integers
        parts[i] = min((2 * left[i] * free + units[i]) // (2 * units[i]), room[i])
        start = end
    return parts
