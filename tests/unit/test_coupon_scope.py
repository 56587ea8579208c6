"""Points coupons change points, not money: their scope is the lines that earn points."""

from __future__ import annotations

from tests.unit._helpers import column, line, program, receipt, run

POINTS = {"id": "bonus-code", "name": "b", "type": "coupon", "priority": 5, "code": "PTS", "points": 1000}
DOUBLE = {"id": "double", "name": "d", "type": "coupon", "priority": 6, "code": "X2", "accrual_multiplier": 2}


def test_points_coupon_applies_on_no_discount_lines() -> None:
    # the only line may not be discounted, but it earns points: the coupon applies and its 10.00 points land there
    outcome = run(receipt(line("1", 10000, no_discount=True), coupons=["PTS"]), program([POINTS]))
    assert outcome.coupons[0].status == "applied"
    # 100.00 × 3 % = 3.00, plus the coupon's 10.00
    assert column(outcome, "points_accrued") == [300 + 1000]


def test_points_coupon_with_only_non_earning_lines_is_conditions_not_met() -> None:
    outcome = run(receipt(line("1", 10000, no_accrual=True), coupons=["PTS", "X2"]), program([POINTS, DOUBLE]))
    assert [(c.code, c.status, c.reason) for c in outcome.coupons] == [
        ("PTS", "rejected", "conditions_not_met"), ("X2", "rejected", "conditions_not_met")]
    assert column(outcome, "points_accrued") == [0]


def test_multiplier_coupon_min_amount_counts_no_discount_lines() -> None:
    double = {**DOUBLE, "min_amount": 5000}
    outcome = run(receipt(line("1", 6000, no_discount=True), coupons=["X2"]), program([double]))
    assert outcome.coupons[0].status == "applied"
    # 60.00 × 3 % × 2 = 3.60
    assert column(outcome, "points_accrued") == [360]
