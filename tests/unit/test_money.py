"""Integer money arithmetic: largest-remainder spreads, half-up percents, point floors, min-price floors."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from rules import floor_points, percent_half_up, quantity_floor, spread


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        # 1000 / 3 = 333.33 each: one unit left over; equal remainders and amounts → the earliest line.
        (1000, [100, 100, 100], [334, 333, 333]),
        (1001, [100, 100, 100], [334, 334, 333]),
        (999, [100, 100, 100], [333, 333, 333]),
        # exact proportions: no remainder to hand out
        (300, [1, 2, 3], [50, 100, 150]),
        # 100 × 1/3 = 33.33, 100 × 2/3 = 66.67: the larger remainder (.67) gets the unit
        (100, [1, 2], [33, 67]),
        # 10 over [1, 1, 2]: 2.5, 2.5, 5 → 2, 2, 5 and one unit left; remainders .5, .5, 0 →
        # tie between the two equal lines → the earlier one
        (10, [1, 1, 2], [3, 2, 5]),
        # 3 over [2, 1, 1, 2] (sum 6): 1, .5, .5, 1 → shares 1, 0, 0, 1; remainders 0, .5, .5, 0 →
        # the one unit goes to the earlier of the two tied lines
        (3, [2, 1, 1, 2], [1, 1, 0, 1]),
        # tie in the remainder goes to the LARGER amount before the earlier line:
        # 1 over [1, 2, 3, 6] (sum 12): remainders 1/12, 2/12, 3/12, 6/12 → the 6 gets it
        (1, [1, 2, 3, 6], [0, 0, 0, 1]),
        # 2 over [3, 1, 2, 2] (sum 8): exact 0.75, 0.25, 0.5, 0.5 → shares all 0; remainders
        # 6/8, 2/8, 4/8, 4/8 → units to line 0 (.75), then line 2 (.5, tied with line 3, earlier)
        (2, [3, 1, 2, 2], [1, 0, 1, 0]),
        # equal remainders, different amounts: 5 over [7, 14, 14] (sum 35): 1, 2, 2 exactly
        (5, [7, 14, 14], [1, 2, 2]),
        # 2 over [1, 3, 1, 3] (sum 8): 0.25, 0.75, 0.25, 0.75 → both .75 lines get one unit
        (2, [1, 3, 1, 3], [0, 1, 0, 1]),
        # 1 over [1, 3, 1, 3]: tie on .375 between the two 3s → earlier of them
        (1, [1, 3, 1, 3], [0, 1, 0, 0]),
        # zero weights take nothing
        (10, [0, 5, 0, 5], [0, 5, 0, 5]),
        (7, [0, 1, 0], [0, 7, 0]),
        # nothing to spread
        (0, [3, 4], [0, 0]),
        (0, [0, 0], [0, 0]),
        (0, [], []),
    ],
)
def test_spread_largest_remainder(total: int, weights: list[int], expected: list[int]) -> None:
    parts = spread(total, weights)
    assert parts == expected
    assert sum(parts) == total


def test_tie_in_remainder_prefers_larger_amount_over_earlier_line() -> None:
    # 2 over [2, 7, 1] (sum 10): exact 0.4, 1.4, 0.2 → shares 0, 1, 0, one unit left;
    # remainders 4/10, 4/10, 2/10 tie between lines 0 and 1 → the larger amount (line 1), though later
    assert spread(2, [2, 7, 1]) == [0, 2, 0]
    # same amounts tied → the earlier line: 1 over [5, 5] → 0.5, 0.5
    assert spread(1, [5, 5]) == [1, 0]
    # 4 over [1, 6, 6, 7] (sum 20): 0.2, 1.2, 1.2, 1.4 → 0, 1, 1, 1; remainders 4, 4, 4, 8 (/20) →
    # the unit goes to the largest remainder (line 3) first: no tie involved
    assert spread(4, [1, 6, 6, 7]) == [0, 1, 1, 2]
    # 5 over [1, 6, 6, 7]: 0.25, 1.5, 1.5, 1.75 → 0, 1, 1, 1 and two units; remainders 5, 10, 10, 15 →
    # line 3 (.75), then the tie .5/.5 between equal amounts → earlier line 1
    assert spread(5, [1, 6, 6, 7]) == [0, 2, 1, 2]


@pytest.mark.parametrize(
    ("total", "weights", "caps", "expected"),
    [
        # 1000 over [1000, 1000]: 500 each, but line 0 may take only 100 → the 400 excess re-spreads
        (1000, [1000, 1000], [100, 2000], [100, 900]),
        # 900 over three equal lines: 300 each; line 1 capped at 50 → 850 over the other two = 425, 425
        (900, [100, 100, 100], [1000, 50, 1000], [425, 50, 425]),
        # re-spread clips again: 900 over [1, 1, 1]; caps 50, 200, 1000:
        # round 1: 300 each → line 0 clipped at 50; 850 left over lines 1, 2 → 425 each → line 1 clipped
        # at 200; 650 left → line 2
        (900, [1, 1, 1], [50, 200, 1000], [50, 200, 650]),
        # a line with zero cap takes nothing, its share goes to the others
        (100, [1, 1], [0, 100], [0, 100]),
        # caps exactly filled
        (30, [1, 1, 1], [10, 10, 10], [10, 10, 10]),
        # remainder after a clip: 10 over [1, 1, 1] caps [2, 9, 9]: 4,3,3 → clip line 0 at 2;
        # 8 over [1, 1] → 4, 4
        (10, [1, 1, 1], [2, 9, 9], [2, 4, 4]),
        # 11 → 4,4,3 (round 1: 11/3 = 3.67 → 4,4,3 earliest first) → clip 0 at 2; 9 over two → 5, 4
        (11, [1, 1, 1], [2, 9, 9], [2, 5, 4]),
    ],
)
def test_spread_with_caps(total: int, weights: list[int], caps: list[int], expected: list[int]) -> None:
    parts = spread(total, weights, caps)
    assert parts == expected
    assert sum(parts) == total
    assert all(part <= cap for part, cap in zip(parts, caps, strict=True))


def test_spread_more_than_caps_hold_raises() -> None:
    with pytest.raises(ValueError, match="cannot spread"):
        spread(31, [1, 1, 1], [10, 10, 10])


def test_spread_over_zero_weights_raises() -> None:
    with pytest.raises(ValueError, match="cannot spread"):
        spread(5, [0, 0])


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (100_000, Fraction(10), 10_000),
        (12_345, Fraction(10), 1_235),  # 1234.5 → half up → 1235
        (12_344, Fraction(10), 1_234),  # 1234.4 → 1234
        (12_346, Fraction(10), 1_235),  # 1234.6 → 1235
        (999_999, Fraction(5), 50_000),  # 49999.95 → 50000
        (12_345, Fraction(15, 2), 926),  # 7.5 % → 925.875 → 926
        (200, Fraction(1, 4), 1),  # 0.25 % of 200 = 0.5 → 1 (half up)
        (199, Fraction(1, 4), 0),  # 0.4975 → 0
        (1, Fraction(50), 1),  # 0.5 → 1
        (3, Fraction(50), 2),  # 1.5 → 2
        (0, Fraction(50), 0),
        (123_456, Fraction(0), 0),
        (123_456, Fraction(100), 123_456),
    ],
)
def test_percent_half_up(amount: int, percent: Fraction, expected: int) -> None:
    assert percent_half_up(amount, percent) == expected


@pytest.mark.parametrize(
    ("base", "percent", "whole", "expected"),
    [
        (12_345, Fraction(3), False, 370),  # 370.35 → 370 minor units
        (12_345, Fraction(3), True, 300),  # → whole points: 3.70 → 3.00
        (99_999, Fraction(5), False, 4_999),  # 4999.95 → 4999
        (99_999, Fraction(5), True, 4_900),
        (100_000, Fraction(5), True, 5_000),  # already whole
        (709_050, Fraction(5), True, 35_400),  # the contract's example: 35452.5 → 35400
        (709_050, Fraction(5), False, 35_452),
        (1_999, Fraction(5), True, 0),  # 99.95 minor units < 1 point
        (1_000, Fraction(15, 2), False, 75),  # 7.5 %
        (0, Fraction(5), False, 0),
        (-100, Fraction(5), False, 0),  # nothing on a negative base
        (100_000, Fraction(0), True, 0),
    ],
)
def test_floor_points(base: int, percent: Fraction, whole: bool, expected: int) -> None:
    assert floor_points(base, percent, whole) == expected


@pytest.mark.parametrize(
    ("min_price", "quantity", "expected"),
    [
        (12_345, "0.350", 4_321),  # 4320.75 → rounded up to 4321
        (12_345, "0.35", 4_321),
        (10_000, "0.350", 3_500),  # exact
        (399_500, "2", 799_000),
        (399_500, "2.000", 799_000),
        (1, "0.001", 1),  # 0.001 → 1
        (999, "0.001", 1),  # 0.999 → 1
        (1_000, "0.001", 1),
        (1_001, "0.001", 2),  # 1.001 → 2
        (0, "5", 0),
        (333, "1.5", 500),  # 499.5 → 500
    ],
)
def test_quantity_floor_rounds_up(min_price: int, quantity: str, expected: int) -> None:
    assert quantity_floor(min_price, Decimal(quantity)) == expected
