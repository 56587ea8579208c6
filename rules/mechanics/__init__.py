"""One module per campaign type that changes money on lines; the engine looks them up here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._native import attach
from .._program import Campaign
from .._receipt import Line

attach(__path__, "mechanics")  # compiled, as the rest of the engine (rules/_native.py)

from . import coupon, n_for_m, quantity_discount, receipt_discount  # noqa: E402

__all__ = ["COUPON", "DISCOUNTS", "DiscountMechanic"]

# (campaign, lines, amounts left, room above floors, in-scope flags) -> discount per line (≤ room)
DiscountMechanic = Callable[[Campaign, Sequence[Line], Sequence[int], Sequence[int], Sequence[bool]], list[int]]

# Campaign types that discount whenever their conditions hold, in the priority order of the program.
DISCOUNTS: dict[str, DiscountMechanic] = {
    "receipt_discount": receipt_discount.apply,
    "quantity_discount": quantity_discount.apply,
    "n_for_m": n_for_m.apply,
}

# Coupons discount only when their code is on the receipt and accepted.
COUPON: DiscountMechanic = coupon.apply
