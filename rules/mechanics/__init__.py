"""One module per campaign type that changes money on lines; the engine looks them up here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._program import Campaign
from .._receipt import Line
from . import receipt_discount

__all__ = ["DISCOUNTS", "DiscountMechanic"]

# (campaign, lines, amounts left, room above floors, in-scope flags) -> discount per line (≤ room)
DiscountMechanic = Callable[[Campaign, Sequence[Line], Sequence[int], Sequence[int], Sequence[bool]], list[int]]

DISCOUNTS: dict[str, DiscountMechanic] = {
    "receipt_discount": receipt_discount.apply,
}
