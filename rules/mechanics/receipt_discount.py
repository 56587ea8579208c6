"""receipt_discount: the highest threshold reached by the in-scope amount, spread over in-scope lines."""

from __future__ import annotations

from collections.abc import Sequence

from .._compiled import fraction
from .._money import percent_half_up, spread
from .._program import Campaign, ReceiptDiscount
from .._receipt import Line


def apply(
    campaign: Campaign, lines: Sequence[Line], left: Sequence[int], room: Sequence[int], scope: Sequence[bool]
) -> list[int]:
    assert isinstance(campaign, ReceiptDiscount)
    weights = [left[i] if scope[i] else 0 for i in range(len(lines))]
    scope_amount = sum(weights)
    reached = [t for t in campaign.thresholds if scope_amount >= t.min_amount]
    if not reached or scope_amount == 0:
        return [0] * len(lines)
    threshold = reached[-1]
    if threshold.percent is not None:
        wanted = percent_half_up(scope_amount, fraction(threshold.percent))
    else:
        wanted = threshold.amount or 0
    caps = [room[i] if scope[i] else 0 for i in range(len(lines))]
    return spread(min(wanted, sum(caps)), weights, caps)
