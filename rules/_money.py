"""Integer arithmetic on minor units: spreads, percents, floors. No floats, ever."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

__all__ = ["ceil_div", "floor_points", "floor_rate_points", "percent_half_up", "quantity_floor", "spread"]

QUANTITY_SCALE = 1000  # quantities carry at most 3 fraction digits


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def quantity_floor(min_price: int, quantity: Decimal) -> int:
    """`min_price × quantity`, rounded up to the minor unit: the lowest a line may go."""
    if not min_price:  # most lines: no Decimal arithmetic
        return 0
    thousandths = int(quantity * QUANTITY_SCALE)
    return ceil_div(min_price * thousandths, QUANTITY_SCALE)


def percent_half_up(amount: int, percent: Fraction) -> int:
    """`amount × percent / 100`, rounded half up to the minor unit (amount ≥ 0)."""
    # floor(amount × n/d / 100 + 1/2) in integers: Fraction arithmetic costs more than the rest of a mechanic
    return (2 * amount * percent.numerator + 100 * percent.denominator) // (200 * percent.denominator)


def floor_points(base: int, percent: Fraction, whole: bool) -> int:
    """Points for `base` at `percent`, rounded down; `whole` floors to a multiple of 100 minor units."""
    return floor_rate_points(base, percent.numerator, percent.denominator * 100, whole)


def floor_rate_points(base: int, numerator: int, denominator: int, whole: bool) -> int:
    """`floor_points` at the rate `numerator / denominator` (a percent's denominator × 100, positive): for the
    engine's per-line loop, where a Fraction's properties cost a call each."""
    if base <= 0 or numerator <= 0:
        return 0
    points = base * numerator // denominator
    return points - points % 100 if whole else points


def spread(total: int, weights: Sequence[int], caps: Sequence[int] | None = None) -> list[int]:
    """Split `total` over lines in proportion to `weights` by the largest remainder method.

    Ties in the remainder go to the larger weight, then to the earlier line. A line never gets more
    than its cap: clipped lines keep their cap and the excess is spread again over the others, until
    no line has room. The parts always add up to `total`; asking for more than the caps hold is a bug
    in the caller, so it raises.
    """
    count = len(weights)
    limits = list(caps) if caps is not None else [total] * count
    parts = [0] * count
    open_lines = [i for i in range(count) if weights[i] > 0 and limits[i] > 0]
    left = total
    while left > 0:
        if not open_lines:
            raise ValueError(f"cannot spread {total}: lines hold only {total - left}")
        shares = _largest_remainder(left, [weights[i] for i in open_lines])
        clipped = [i for i, share in zip(open_lines, shares, strict=True) if share > limits[i]]
        if not clipped:
            for i, share in zip(open_lines, shares, strict=True):
                parts[i] = share
            return parts
        for i in clipped:
            parts[i] = limits[i]
            left -= limits[i]
        open_lines = [i for i in open_lines if i not in clipped]
    return parts


def _largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    weight_sum = sum(weights)
    shares = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    short = total - sum(shares)
    if short:  # largest remainder first, then the larger weight, then the earlier line (tuples compare in C)
        order = sorted(zip([-r for r in remainders], [-w for w in weights], range(len(weights)), strict=True))
        for _, _, i in order[:short]:
            shares[i] += 1
    return shares
