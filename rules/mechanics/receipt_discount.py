"""receipt_discount: the highest threshold reached by the in-scope amount, spread over in-scope lines."""

from __future__ import annotations

from collections.abc import Sequence

from .._compiled import fraction
from .._program import Campaign, ReceiptDiscount
from .._receipt import Line
from ._spread import give, in_scope_amount


def apply(
    campaign: Campaign, lines: Sequence[Line], left: Sequence[int], room: Sequence[int], scope: Sequence[bool]
) -> list[int]:
    assert isinstance(campaign, ReceiptDiscount)
    measured = in_scope_amount(left, scope)
    reached = [t for t in campaign.thresholds if measured >= t.min_amount]
    if not reached:
        return [0] * len(lines)
    threshold = reached[-1]
    percent = fraction(threshold.percent) if threshold.percent is not None else None
    return give(percent, threshold.amount, left, room, scope)
