"""Units for the item-count mechanics: only whole quantities count (`"2.000"` too)."""

from __future__ import annotations

from decimal import Decimal

from .._receipt import Line


def whole_units(line: Line) -> int:
    """The line's units if its quantity is whole, else 0: a weighed line counts no units."""
    quantity: Decimal = line.quantity
    return int(quantity) if quantity == quantity.to_integral_value() else 0
