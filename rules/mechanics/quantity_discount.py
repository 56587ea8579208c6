"""quantity_discount: by the number of whole in-scope units, the highest threshold reached applies.

The contract: "by the number of whole in-scope units; applies to all of them", and "only whole
quantities count for item-count and N-for-M mechanics". *Them* are the whole units, so the percent
applies to the whole-quantity in-scope lines (all their units, not only those past the threshold); a
fractional (weighed) line in scope neither counts nor is discounted. The percent is computed once on
the amount left of those lines, half up, and spread over them like receipt_discount (floors clip and
re-spread).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._compiled import fraction
from .._program import Campaign, QuantityDiscount
from .._receipt import Line
from ._spread import give
from ._units import whole_units


def apply(
    campaign: Campaign, lines: Sequence[Line], left: Sequence[int], room: Sequence[int], scope: Sequence[bool]
) -> list[int]:
    assert isinstance(campaign, QuantityDiscount)
    units = [whole_units(line) if inside else 0 for line, inside in zip(lines, scope, strict=True)]
    counted = sum(units)
    reached = [t for t in campaign.thresholds if counted >= t.min_quantity]
    if not reached:
        return [0] * len(lines)
    return give(fraction(reached[-1].percent), None, left, room, [count > 0 for count in units])
