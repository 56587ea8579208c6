"""Validated scalar types shared by the receipt and the program document."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)

from ._json_schema import INT64, decimal

__all__ = ["Identifier", "Money", "Multiplier", "Percent", "PositivePercent", "Quantity", "decimal_text"]

MAX_MONEY = 10**13  # 100 billion in major units: far above any receipt, far below int64

# Money and points: JSON integers only; `799000.0` or `"799000"` is refused.
Money = Annotated[int, Field(strict=True, ge=0, le=MAX_MONEY, json_schema_extra=INT64)]

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


@lru_cache(maxsize=4096)
def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: `7.50` → `7.5`, `2.000` → `2`.

    Cached (every stored line's quantity goes through it, and a chain's quantities repeat): equal decimals
    share an entry, which is right since the text depends only on the value."""
    return format(value.normalize(), "f")


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number or a decimal string")
    if isinstance(value, float):
        # YAML and JSON loaders in this project parse numbers as Decimal; a float here came from a
        # Python caller. Its shortest repr is what was written.
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("must be a decimal number") from None
    return value


def _percent_out(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else decimal_text(value)


# Percents: exact decimals with up to two fraction digits (`7.5`, `"0.25"`), never floats.
Percent = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(_percent_out, return_type=Any),
    WithJsonSchema(decimal("percent", maximum=100, places=2, positive=False,
                           description="a percent from 0 to 100, at most 2 decimals: 7.5 or \"7.5\"")),
]

# The same above 0 (the percent of a discount: 0 would be no campaign at all).
PositivePercent = Annotated[
    Percent,
    Field(gt=0),
    WithJsonSchema(decimal("positive_percent", maximum=100, places=2, positive=True,
                           description="a percent above 0 up to 100, at most 2 decimals: 7.5 or \"7.5\"")),
]

# Multipliers of accrual rates (`2`, `1.5`).
Multiplier = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(gt=0, le=100, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(_percent_out, return_type=Any),
    WithJsonSchema(decimal("positive_percent", maximum=100, places=2, positive=True,
                           description="a multiplier above 0 up to 100, at most 2 decimals: 2 or \"1.5\"")),
]

# Quantities: decimal strings or numbers with at most 3 fraction digits.
_KNOWN_QUANTITIES: dict[str, Decimal] = {}  # quantity texts found valid, and what they are
_MAX_KNOWN_QUANTITIES = 4096


def _known_quantity(value: Any, validate: ValidatorFunctionWrapHandler) -> Any:
    """A quantity text validated before is that value again: the checks below run in Python, four calls a
    line (half of a receipt's validation), and a chain's quantities are a few texts ("1", "2", "0.5"). Only
    texts are remembered: `True == 1` would find a number's entry."""
    if type(value) is not str:
        return validate(value)
    known = _KNOWN_QUANTITIES.get(value)
    if known is None:
        known = validate(value)
        if len(_KNOWN_QUANTITIES) < _MAX_KNOWN_QUANTITIES:
            _KNOWN_QUANTITIES[value] = known
    return known


Quantity = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    Field(gt=0, le=1_000_000, decimal_places=3, allow_inf_nan=False),
    WrapValidator(_known_quantity),
    PlainSerializer(decimal_text, return_type=str),
    WithJsonSchema(decimal("quantity", maximum=1_000_000, places=3, positive=True,
                           description="a quantity above 0 up to 1000000, at most 3 decimals: \"2\", \"0.75\" or 1.5")),
]
