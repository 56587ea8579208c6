"""coupon with `percent` or `amount`: a receipt discount on its items once its code is accepted.

`min_amount` is checked by the discount stage (its failure is a coupon verdict); `points` and
`accrual_multiplier` coupons change points, not money, and give nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._compiled import fraction
from .._program import Campaign, Coupon
from .._receipt import Line
from ._spread import give


def apply(
    campaign: Campaign, lines: Sequence[Line], left: Sequence[int], room: Sequence[int], scope: Sequence[bool]
) -> list[int]:
    assert isinstance(campaign, Coupon)
    if campaign.percent is None and campaign.amount is None:
        return [0] * len(lines)
    percent = fraction(campaign.percent) if campaign.percent is not None else None
    return give(percent, campaign.amount, left, room, scope)
