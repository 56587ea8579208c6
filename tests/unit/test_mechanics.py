"""Mechanics and the discount stage: quantity_discount, n_for_m, groups, exclusive, coupons, certificates.

Each table writes its arithmetic out. The program is the one of `_helpers.program` (tiers base 3 %,
silver 5 %, gold 7 %; accrual_base paid, rounding minor, max_redeem_percent 50); the account is `ok`
at tier base with plenty of points. Money and points are in minor units. `line(id, amount)` is one
unit unless a quantity is given.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from rules import (
    NO_ACCOUNT,
    REVERSIBLE,
    AccountState,
    CertificateCharge,
    CertificateFact,
    CouponFact,
    CouponVerdict,
    Outcome,
    Receipt,
    ReceiptFacts,
    evaluate,
    refund_share,
)
from rules.mechanics import DISCOUNTS, n_for_m, quantity_discount

from ._helpers import ISSUED, NOW, account, campaign, column, discount_campaign, line, program, receipt, run


def quantity_campaign(
    thresholds: list[tuple[int, Any]], campaign_id: str = "qty", priority: int = 10, **fields: Any
) -> dict[str, Any]:
    rows = [{"min_quantity": q, "percent": p} for q, p in thresholds]
    return campaign("quantity_discount", campaign_id, priority, thresholds=rows, **fields)


def n_for_m_campaign(buy: int, pay: int, campaign_id: str = "nfm", priority: int = 10, **fields: Any) -> dict[str, Any]:
    return campaign("n_for_m", campaign_id, priority, buy=buy, pay=pay, **fields)


def fixed_campaign(campaign_id: str, amount: int, priority: int = 10, **fields: Any) -> dict[str, Any]:
    return {
        "id": campaign_id,
        "name": campaign_id,
        "type": "receipt_discount",
        "priority": priority,
        "thresholds": [{"min_amount": 0, "amount": amount}],
        **fields,
    }


def coupon_campaign(campaign_id: str, code: str | None = None, priority: int = 5, **fields: Any) -> dict[str, Any]:
    campaign: dict[str, Any] = {"id": campaign_id, "name": campaign_id, "type": "coupon", "priority": priority}
    if code is not None:
        campaign["code"] = code
    if not {"percent", "amount", "points", "accrual_multiplier"} & set(fields):
        campaign["percent"] = 10
    return {**campaign, **fields}


def units(line_id: str, quantity: str, unit_price: int, **fields: Any) -> dict[str, Any]:
    """A line of `quantity` units at `unit_price` (amount = price × quantity, exactly)."""
    amount = Decimal(quantity) * unit_price
    assert amount == amount.to_integral_value()
    return line(line_id, int(amount), quantity=quantity, price=unit_price, **fields)


def campaigns_of(outcome: Outcome) -> list[list[str]]:
    return [r.campaigns for r in outcome.lines]


def effects(outcome: Outcome) -> list[tuple[str, int]]:
    return [(c.id, c.discount) for c in outcome.campaigns]


def test_registry_has_one_entry_per_money_mechanic() -> None:
    assert DISCOUNTS["quantity_discount"] is quantity_discount.apply
    assert DISCOUNTS["n_for_m"] is n_for_m.apply


# ----------------------------------------------------------------------------------- quantity_discount

THRESHOLDS = [(3, 5), (5, 10)]  # 3 units and more: 5 %; 5 units and more: 10 %


@pytest.mark.parametrize(
    ("lines", "discounts"),
    [
        # 2 units < 3: nothing
        ([units("1", "2", 1_000)], [0]),
        # 2 + 1 = 3 units → 5 % of 3,000 = 150, spread 2:1 → 100 / 50
        ([units("1", "2", 1_000), units("2", "1", 1_000)], [100, 50]),
        # 3 + 1 = 4 units: still 5 % (of 4,000 = 200 → 150 / 50)
        ([units("1", "3", 1_000), units("2", "1", 1_000)], [150, 50]),
        # 3 + 2 = 5 units → 10 % of 5,000 = 500 → 300 / 200 (the highest threshold reached, on all units)
        ([units("1", "3", 1_000), units("2", "2", 1_000)], [300, 200]),
        # "2.000" is whole: 2 + 3 = 5 units → 10 % of 5,000 → 200 / 300
        ([units("1", "2.000", 1_000), units("2", "3", 1_000)], [200, 300]),
        # 3 units of 12,350: 5 % = 617.5 → half up → 618, computed once
        ([line("1", 12_350, quantity="3", price=4_117)], [618]),
        # 5 units; 10 % of 3,333 + 3,333 + 3,334 = 1,000 → 333.3 / 333.3 / 333.4 → 333, 333, 334
        (
            [
                line("1", 3_333, quantity="2", price=1_667),
                line("2", 3_333, quantity="2", price=1_667),
                line("3", 3_334),
            ],
            [333, 333, 334],
        ),
    ],
)
def test_quantity_thresholds(lines: list[dict[str, Any]], discounts: list[int]) -> None:
    outcome = run(receipt(*lines), program([quantity_campaign(THRESHOLDS)]))
    assert column(outcome, "discount") == discounts
    assert effects(outcome) == ([("qty", sum(discounts))] if sum(discounts) else [])


@pytest.mark.parametrize(
    ("lines", "discounts"),
    [
        # 2 whole units + 1.500 kg: the weighed line counts no units → 2 < 3 → nothing
        ([units("1", "2", 1_000), line("2", 1_500, quantity="1.500", price=1_000)], [0, 0]),
        # "2.500" is not whole: it counts none, though it is more than 2
        ([units("1", "1", 1_000), line("2", 2_500, quantity="2.500", price=1_000)], [0, 0]),
        # 3 whole units reach 5 %; the weighed line in scope is not one of "them": 5 % of 3,000 = 150, all
        # on line 1 (not 5 % of 3,700)
        ([units("1", "3", 1_000), line("2", 700, quantity="0.350", price=2_000)], [150, 0]),
        # a no_discount line's units are outside the count: 2 + (1 not counted) = 2 → nothing
        ([units("1", "2", 1_000), units("2", "1", 1_000, no_discount=True)], [0, 0]),
        # out-of-scope units do not count either (items exclude bags): 2 shoes + 5 bags → 2 → nothing
        (
            [units("1", "2", 1_000, category="shoes"), units("2", "5", 1_000, category="bags")],
            [0, 0],
        ),
    ],
)
def test_quantity_counts_whole_in_scope_units_only(lines: list[dict[str, Any]], discounts: list[int]) -> None:
    campaign = quantity_campaign(THRESHOLDS, items={"exclude_categories": ["bags"]})
    outcome = run(receipt(*lines), program([campaign]))
    assert column(outcome, "discount") == discounts


def test_quantity_threshold_is_measured_after_an_exclusive_campaign() -> None:
    # excl (priority 1, exclusive, 10 % on line 1 only): 100; line 1 is blocked, so the quantity
    # campaign counts 2 units of line 2 only → 2 < 3 → nothing
    excl = discount_campaign("excl", 10, priority=1, stacking="exclusive", items={"skus": ["SKU-1"]})
    rcpt = receipt(units("1", "2", 500), units("2", "2", 1_000))
    outcome = run(rcpt, program([excl, quantity_campaign(THRESHOLDS, priority=2)]))
    assert column(outcome, "discount") == [100, 0]
    # stacking instead: 4 units → 5 % of (900 + 2,000) = 145 → spread 900:2,000 → 45 / 100
    stack = discount_campaign("excl", 10, priority=1, items={"skus": ["SKU-1"]})
    outcome = run(rcpt, program([stack, quantity_campaign(THRESHOLDS, priority=2)]))
    assert column(outcome, "discount") == [100 + 45, 100]


# --------------------------------------------------------------------------------------------- n_for_m


@pytest.mark.parametrize(
    ("buy", "pay", "lines", "discounts"),
    [
        # 2-for-1, one line of 2 equal units: 1 free → 2,000 × 1 / 2 = 1,000
        (2, 1, [units("1", "2", 1_000)], [1_000]),
        # equal unit prices on two lines: the later line is the cheaper → line 2's unit is free
        (2, 1, [units("1", "1", 1_000), units("2", "1", 1_000)], [0, 1_000]),
        # unequal: units 1,000 (line 2) then 500 (line 1): the 500 is free
        (2, 1, [units("1", "1", 500), units("2", "1", 1_000)], [500, 0]),
        # unit price 1,001 / 2 = 500.5: the free unit is 1,001 × 1 / 2 = 500.5 → half up → 501
        (2, 1, [line("1", 1_001, quantity="2", price=501)], [501]),
        # 1,000 / 3 per unit; buy 3 pay 2: 1 free → 1,000 × 1 / 3 = 333.33 → 333
        (3, 2, [line("1", 1_000, quantity="3", price=333)], [333]),
        # 2,000 / 3 per unit: 666.67 → 667 (half up of the free unit, not the floor)
        (3, 2, [line("1", 2_000, quantity="3", price=667)], [667]),
        # "2.000" counts 2 units
        (2, 1, [units("1", "2.000", 700)], [700]),
        # four lines, buy 4 pay 3: units by price 3,000 3,000 | 2,000 | 1,000 1,000 1,000 | 500 500
        #   group 1: A A C B → B's unit free (1,000); group 2: B B D D → the later D free (500)
        #   B: 3,000 × 1 / 3 = 1,000; D: 1,000 × 1 / 2 = 500
        (
            4,
            3,
            [units("A", "2", 3_000), units("B", "3", 1_000), units("C", "1", 2_000), units("D", "2", 500)],
            [0, 1_000, 0, 500],
        ),
        # buy 3 pay 1: the 2 cheapest of each group are free; 6 units 600 500 400 | 300 200 100
        #   free 500, 400 (lines 2, 3) and 200, 100 (lines 5, 6)
        (
            3,
            1,
            [units(str(i), "1", price) for i, price in enumerate([100, 200, 300, 400, 500, 600], start=1)],
            [100, 200, 0, 400, 500, 0],
        ),
        # ties across lines and groups, buy 2 pay 1, three lines of 1,000: l1 l2 | l3 → l2 free, l3 alone
        (2, 1, [units("1", "1", 1_000), units("2", "1", 1_000), units("3", "1", 1_000)], [0, 1_000, 0]),
    ],
)
def test_n_for_m(buy: int, pay: int, lines: list[dict[str, Any]], discounts: list[int]) -> None:
    outcome = run(receipt(*lines), program([n_for_m_campaign(buy, pay)]))
    assert column(outcome, "discount") == discounts
    assert campaigns_of(outcome) == [["nfm"] if d else [] for d in discounts]
    assert effects(outcome) == [("nfm", sum(discounts))]


@pytest.mark.parametrize(
    ("buy", "pay", "lines", "discounts"),
    [
        # 5 units, buy 3 pay 2: one full group (1,000 1,000 1,000 → 1 free), 2 units left over get nothing
        (3, 2, [units("1", "5", 1_000)], [1_000]),
        # 2 units of buy 3: a partial group only → nothing
        (3, 2, [units("1", "2", 1_000)], [0]),
        # the cheapest unit is in the partial group: 900 800 700 | 100 → the 700 is free, the 100 is not
        (3, 2, [units(str(p), "1", p) for p in (100, 700, 800, 900)], [0, 700, 0, 0]),
        # 1 whole unit + a weighed line (no units) → a partial group → nothing
        (2, 1, [units("1", "1", 1_000), line("2", 1_500, quantity="1.500", price=1_000)], [0, 0]),
        # a no_discount unit does not fill the group
        (2, 1, [units("1", "1", 1_000), units("2", "1", 1_000, no_discount=True)], [0, 0]),
    ],
)
def test_n_for_m_partial_groups_get_nothing(
    buy: int, pay: int, lines: list[dict[str, Any]], discounts: list[int]
) -> None:
    outcome = run(receipt(*lines), program([n_for_m_campaign(buy, pay)]))
    assert column(outcome, "discount") == discounts


def test_n_for_m_counts_units_without_expanding_them() -> None:
    # 1,000,000 units of 1,000; buy 3 pay 2: 333,333 full groups → 333,333 free units, 1 unit left over
    # discount = 1,000,000,000 × 333,333 / 1,000,000 = 333,333,000
    rcpt = receipt(line("1", 10**9, quantity="1000000", price=1_000))
    assert column(run(rcpt, program([n_for_m_campaign(3, 2)])), "discount") == [333_333_000]


def test_n_for_m_free_unit_is_capped_at_the_floor() -> None:
    # 2 × 1,000 with min_price 800: floor 1,600, room 400; the free unit (1,000) is capped at 400
    rcpt = receipt(units("1", "2", 1_000, min_price=800))
    outcome = run(rcpt, program([n_for_m_campaign(2, 1)]))
    assert column(outcome, "discount") == [400]
    assert column(outcome, "final_amount") == [1_600]


@pytest.mark.parametrize(
    ("nfm_priority", "threshold", "discounts"),
    [
        # n_for_m first: units 3,000 (line 2) | 1,000 1,000 (line 1) → group [3,000, 1,000]: line 1's unit
        #   free → 2,000 × 1 / 2 = 1,000; left 1,000 / 3,000. Then 10 % of 4,000 = 400 → 100 / 300
        (1, 0, [1_000 + 100, 300]),
        # the receipt discount's threshold is measured on what n_for_m left: 4,000 < 4,500 → nothing
        (1, 4_500, [1_000, 0]),
        # receipt discount first: 10 % of 5,000 = 500 → 200 / 300; left 1,800 / 2,700: unit prices 900 and
        #   2,700 → group [2,700, 900] → one unit of line 1 free: 1,800 × 1 / 2 = 900
        (3, 0, [200 + 900, 300]),
    ],
)
def test_n_for_m_inside_a_receipt_discount(nfm_priority: int, threshold: int, discounts: list[int]) -> None:
    prog = program([n_for_m_campaign(2, 1, priority=nfm_priority), discount_campaign("ten", 10, threshold, priority=2)])
    outcome = run(receipt(units("1", "2", 1_000), units("2", "1", 3_000)), prog)
    assert column(outcome, "discount") == discounts
    assert outcome.total("discount") == sum(c.discount for c in outcome.campaigns)


# -------------------------------------------------------------------------------------- min_price floor


def test_floor_takes_part_of_a_quantity_discount_and_the_excess_is_re_spread() -> None:
    # 3 units → 10 % of 3,000 = 300 → 200 / 100 by amounts; line 1 (2 × 1,000, min_price 950) has a floor
    # of 1,900 and room 100 → clipped at 100, the other 100 go to line 2 → 100 / 200
    rcpt = receipt(units("1", "2", 1_000, min_price=950), units("2", "1", 1_000))
    outcome = run(rcpt, program([quantity_campaign([(3, 10)])]))
    assert column(outcome, "discount") == [100, 200]
    assert column(outcome, "final_amount") == [1_900, 800]


def test_floor_is_rounded_up_and_the_excess_re_spread() -> None:
    # floor = 667 × 1.5 = 1,000.5 → rounded up to 1,001 → room 1,500 − 1,001 = 499
    # 50 % of 2,500 = 1,250 → 750 / 500 by amounts; line 1 clipped at 499, the excess 251 goes to line 2
    rcpt = receipt(line("1", 1_500, quantity="1.5", price=1_000, min_price=667), line("2", 1_000))
    outcome = run(rcpt, program([discount_campaign(percent=50)]))
    assert column(outcome, "discount") == [499, 751]
    assert column(outcome, "final_amount") == [1_001, 249]


# ------------------------------------------------------------------------------------------------ groups


@pytest.mark.parametrize(
    ("amount", "ten_priority", "fixed_priority", "winner", "discount"),
    [
        (100_000, 10, 10, "a-ten", 10_000),  # 10 % = 10,000 > 8,000
        (70_000, 10, 10, "b-fixed", 8_000),  # 10 % = 7,000 < 8,000
        (80_000, 10, 10, "a-ten", 8_000),  # tie 8,000 = 8,000, same priority → by id: a-ten
        (80_000, 10, 5, "b-fixed", 8_000),  # tie → the lower priority: b-fixed
        (80_000, 5, 10, "a-ten", 8_000),
    ],
)
def test_group_the_larger_discount_wins(
    amount: int, ten_priority: int, fixed_priority: int, winner: str, discount: int
) -> None:
    ten = discount_campaign("a-ten", 10, priority=ten_priority, group="best")
    fixed = fixed_campaign("b-fixed", 8_000, priority=fixed_priority, group="best")
    outcome = run(receipt(line("1", amount)), program([ten, fixed]))
    assert column(outcome, "discount") == [discount]
    # the loser leaves no trace
    assert effects(outcome) == [(winner, discount)]
    assert campaigns_of(outcome) == [[winner]]


def test_group_is_evaluated_at_its_first_position() -> None:
    # g-fixed (priority 1) and g-twenty (priority 5) compete on 100,000 at priority 1: 10,000 vs 20,000
    # → g-twenty wins and applies there; then half (priority 3): 50 % of 80,000 = 40,000
    campaigns = [
        fixed_campaign("g-fixed", 10_000, priority=1, group="g"),
        discount_campaign("g-twenty", 20, priority=5, group="g"),
        discount_campaign("half", 50, priority=3),
    ]
    outcome = run(receipt(line("1", 100_000)), program(campaigns))
    assert column(outcome, "discount") == [60_000]
    assert effects(outcome) == [("g-twenty", 20_000), ("half", 40_000)]


def test_group_of_quantity_and_n_for_m() -> None:
    # 4 units of 1,000: 2-for-1 gives 2 free = 2,000; 10 % from 4 units gives 400 → n_for_m wins
    campaigns = [n_for_m_campaign(2, 1, group="g"), quantity_campaign([(4, 10)], group="g")]
    outcome = run(receipt(units("1", "4", 1_000)), program(campaigns))
    assert effects(outcome) == [("nfm", 2_000)]
    # 3 units: 2-for-1 gives 1 free (1,000, the third unit has no pair); 40 % from 3 units gives 1,200
    campaigns = [n_for_m_campaign(2, 1, group="g"), quantity_campaign([(3, 40)], group="g")]
    outcome = run(receipt(units("1", "3", 1_000)), program(campaigns))
    assert effects(outcome) == [("qty", 1_200)]


# ----------------------------------------------------------------------------------------------- coupons

SHOES_EXCLUSIVE = discount_campaign("shoes-20", 20, priority=1, stacking="exclusive", items={"categories": ["shoes"]})


def evaluate_with(
    rcpt: Receipt,
    campaigns: list[dict[str, Any]],
    facts: ReceiptFacts | None = None,
    acct: AccountState | None = None,
) -> Outcome:
    acct = acct if acct is not None else account()
    if facts is None:
        return evaluate(rcpt, acct, program(campaigns), NOW)
    return evaluate(rcpt, acct, program(campaigns), NOW, facts)


def test_coupon_after_an_exclusive_campaign() -> None:
    # shoes-20 (priority 1, exclusive): 20 % of 100,000 = 20,000 on the shoes line, which is then blocked
    # coupon SAVE10 (priority 5): only the bag is in scope → 10 % of 50,000 = 5,000
    coupon = coupon_campaign("c10", "SAVE10")
    rcpt = receipt(line("1", 100_000, category="shoes"), line("2", 50_000, category="bags"), coupons=["save10 "])
    outcome = evaluate_with(rcpt, [SHOES_EXCLUSIVE, coupon])
    assert column(outcome, "discount") == [20_000, 5_000]
    assert campaigns_of(outcome) == [["shoes-20"], ["c10"]]
    assert effects(outcome) == [("shoes-20", 20_000), ("c10", 5_000)]
    assert outcome.coupons == [CouponVerdict("SAVE10", "applied", None, "c10")]


def test_coupon_with_every_line_taken_by_an_exclusive_campaign_is_conditions_not_met() -> None:
    coupon = coupon_campaign("c10", "SAVE10")
    rcpt = receipt(line("1", 100_000, category="shoes"), coupons=["SAVE10"])
    outcome = evaluate_with(rcpt, [SHOES_EXCLUSIVE, coupon])
    assert column(outcome, "discount") == [20_000]
    assert effects(outcome) == [("shoes-20", 20_000)]
    assert outcome.coupons == [CouponVerdict("SAVE10", "rejected", "conditions_not_met", "c10")]


def test_coupon_min_amount_is_measured_without_the_exclusive_lines() -> None:
    # the receipt has 80,000 + 50,000 left, but only the bag (50,000) is in the coupon's scope < 60,000
    coupon = coupon_campaign("c10", "SAVE10", min_amount=60_000)
    rcpt = receipt(line("1", 100_000, category="shoes"), line("2", 50_000, category="bags"), coupons=["SAVE10"])
    outcome = evaluate_with(rcpt, [SHOES_EXCLUSIVE, coupon])
    assert column(outcome, "discount") == [20_000, 0]
    assert outcome.coupons == [CouponVerdict("SAVE10", "rejected", "min_amount_not_met", "c10")]


def test_coupon_after_an_exclusive_n_for_m_that_reduced_one_line() -> None:
    # 2-for-1 exclusive on two lines of 1,000: line 2 free (1,000) and blocked; line 1 was not reduced
    # and keeps its place in the coupon's scope: 10 % of 1,000 = 100
    nfm = n_for_m_campaign(2, 1, priority=1, stacking="exclusive")
    rcpt = receipt(line("1", 1_000), line("2", 1_000), coupons=["SAVE10"])
    outcome = evaluate_with(rcpt, [nfm, coupon_campaign("c10", "SAVE10")])
    assert column(outcome, "discount") == [100, 1_000]
    assert campaigns_of(outcome) == [["c10"], ["nfm"]]


def test_coupons_apply_in_campaign_priority_order_not_receipt_order() -> None:
    # TEN (priority 1): 10 % of 100,000 = 10,000; FIXED (priority 2): 10,000 → 20,000
    # (in receipt order it would be 10,000 + 10 % of 90,000 = 19,000)
    campaigns = [
        coupon_campaign("ten", "TEN", priority=1),
        coupon_campaign("fixed", "FIXED", priority=2, amount=10_000),
    ]
    outcome = evaluate_with(receipt(line("1", 100_000), coupons=["FIXED", "TEN"]), campaigns)
    assert column(outcome, "discount") == [20_000]
    assert [(v.code, v.status) for v in outcome.coupons] == [("FIXED", "applied"), ("TEN", "applied")]


LIMIT_REACHED = CouponFact(campaign_id="c", uses=5, account_uses=1)
FUTURE = {"from": "2026-12-01T00:00:00+03:00"}
PAST = {"to": "2026-11-01T00:00:00+03:00"}
ONLINE = {"channels": ["online"]}
CARDLESS = NO_ACCOUNT


@pytest.mark.parametrize(
    ("fields", "code", "fact", "acct", "reason"),
    [
        # unknown: no such code in the program, no stored code
        ({}, "OTHER", None, None, "unknown"),
        # not_started / expired come before a reached limit, a missing card and failing conditions
        ({"active": FUTURE, "max_uses": 5, "when": ONLINE}, "SAVE", LIMIT_REACHED, CARDLESS, "not_started"),
        ({"active": PAST, "max_uses": 5, "when": ONLINE}, "SAVE", LIMIT_REACHED, CARDLESS, "expired"),
        # a used batch code, cardless, failing conditions: used
        ({"code": None, "points": 500, "when": ONLINE}, "B-1", CouponFact("c", used=True), CARDLESS, "used"),
        # max_uses reached (5 of 5), cardless although max_uses_per_account needs a card
        ({"max_uses": 5, "max_uses_per_account": 2}, "SAVE", LIMIT_REACHED, CARDLESS, "usage_limit_reached"),
        # this account's uses reached (1 of 1)
        ({"max_uses_per_account": 1}, "SAVE", LIMIT_REACHED, None, "usage_limit_reached"),
        # per-account limits and points need a card; before conditions and min_amount
        ({"max_uses_per_account": 1, "when": ONLINE}, "SAVE", None, CARDLESS, "card_required"),
        ({"points": 500, "min_amount": 10**9}, "SAVE", None, CARDLESS, "card_required"),
        # conditions (when) fail before min_amount
        ({"when": ONLINE, "min_amount": 10**9}, "SAVE", None, None, "conditions_not_met"),
        # an empty scope is conditions_not_met too, before min_amount
        ({"items": {"categories": ["bags"]}, "min_amount": 10**9}, "SAVE", None, None, "conditions_not_met"),
        # 100,000 < 100,001
        ({"min_amount": 100_001}, "SAVE", None, None, "min_amount_not_met"),
        # 100,000 = 100,000: reached; a percent coupon needs no card
        ({"min_amount": 100_000}, "SAVE", None, CARDLESS, None),
    ],
)
def test_coupon_rejection_reasons_in_order(
    fields: dict[str, Any], code: str, fact: CouponFact | None, acct: AccountState | None, reason: str | None
) -> None:
    fields = dict(fields)
    campaign = coupon_campaign("c", fields.pop("code", "SAVE"), **fields)  # code None: a batch campaign
    facts = ReceiptFacts(coupons={code: fact}) if fact is not None else None
    outcome = evaluate_with(receipt(line("1", 100_000), coupons=[code]), [campaign], facts, acct)
    campaign_id = None if reason == "unknown" else "c"
    expected = CouponVerdict(code, "rejected" if reason else "applied", reason, campaign_id)
    assert outcome.coupons == [expected]
    assert column(outcome, "discount") == [0 if reason else 10_000]
    assert effects(outcome) == ([] if reason else [("c", 10_000)])


def test_second_code_of_one_campaign_is_not_combinable() -> None:
    # two stored codes of the batch campaign: the first on the receipt applies (10 % of 100,000), the
    # other is not_combinable and discounts nothing
    facts = ReceiptFacts(coupons={"B-1": CouponFact("batch"), "B-2": CouponFact("batch")})
    rcpt = receipt(line("1", 100_000), coupons=["B-2", "B-1"])
    outcome = evaluate_with(rcpt, [coupon_campaign("batch")], facts)
    assert outcome.coupons == [
        CouponVerdict("B-2", "applied", None, "batch"),
        CouponVerdict("B-1", "rejected", "not_combinable", "batch"),
    ]
    assert column(outcome, "discount") == [10_000]


def test_batch_code_without_a_stored_fact_is_unknown() -> None:
    outcome = evaluate_with(receipt(line("1", 100_000), coupons=["B-9"]), [coupon_campaign("batch")])
    assert outcome.coupons == [CouponVerdict("B-9", "rejected", "unknown", None)]


def test_coupon_loser_in_a_group_is_not_combinable() -> None:
    # SAVE10 (10 % = 10,000) and a 15,000 fixed campaign compete in one group: the campaign wins, the
    # coupon is rejected as not_combinable and leaves no trace
    campaigns = [coupon_campaign("c10", "SAVE10", group="g"), fixed_campaign("fixed", 15_000, priority=7, group="g")]
    outcome = evaluate_with(receipt(line("1", 100_000), coupons=["SAVE10"]), campaigns)
    assert effects(outcome) == [("fixed", 15_000)]
    assert outcome.coupons == [CouponVerdict("SAVE10", "rejected", "not_combinable", "c10")]


# ------------------------------------------------------------------------------------------ certificates


def certificate(
    balance: int, status: str = "active", single_use: bool = False, expires_at: str | None = None
) -> CertificateFact:
    at = datetime.fromisoformat(expires_at) if expires_at else None
    return CertificateFact(status=status, balance=balance, expires_at=at, single_use=single_use)  # type: ignore[arg-type]


def test_certificate_pays_after_discounts_and_points_by_largest_remainder() -> None:
    # 10 % off 100,000 → 6,000 / 4,000 → finals 54,000 / 36,000
    # points 10,000 (cap 50 % × 90,000 = 45,000) spread 54:36 → 6,000 / 4,000 → to pay 48,000 / 32,000
    # GC1 pays 30,000 of its 50,000, spread 48:32 → 18,000 / 12,000; balance 20,000
    # accrual (paid = final − points; certificates do not lower it): 48,000 × 3 % = 1,440; 32,000 × 3 % = 960
    facts = ReceiptFacts(certificates={"GC1": certificate(50_000)})
    rcpt = receipt(
        line("1", 60_000),
        line("2", 40_000),
        redeem_points=10_000,
        gift_certificates=[{"code": "gc1", "amount": 30_000}],
    )
    outcome = evaluate_with(rcpt, [discount_campaign(percent=10)], facts)
    assert column(outcome, "discount") == [6_000, 4_000]
    assert column(outcome, "points_redeemed") == [6_000, 4_000]
    assert column(outcome, "gift_certificates") == [18_000, 12_000]
    assert column(outcome, "to_pay") == [30_000, 20_000]
    assert column(outcome, "accrual_points") == [1_440, 960]
    assert outcome.certificates == [CertificateCharge("GC1", "applied", None, 30_000, 20_000, 0)]


def test_certificate_spread_ties_and_floors() -> None:
    # 1,000 over three equal lines → 334, 333, 333; a certificate is a payment: it may go below min_price
    facts = ReceiptFacts(certificates={"GC1": certificate(1_000)})
    lines = (line("1", 10_000, min_price=10_000), line("2", 10_000), line("3", 10_000))
    outcome = evaluate_with(receipt(*lines, gift_certificates=[{"code": "GC1"}]), [], facts)
    assert column(outcome, "gift_certificates") == [334, 333, 333]
    # without amount it pays min(balance, what is left): 30,000 of a 100,000 balance, to 0 on every line
    facts = ReceiptFacts(certificates={"GC1": certificate(100_000)})
    outcome = evaluate_with(receipt(*lines, gift_certificates=[{"code": "GC1"}]), [], facts)
    assert column(outcome, "to_pay") == [0, 0, 0]
    assert outcome.certificates == [CertificateCharge("GC1", "applied", None, 30_000, 70_000, 0)]


def test_certificates_in_request_order_and_certificate_sales_untouched() -> None:
    # GC2 first: 5,000 of 8,000 all on line 1 (the sale line G takes no certificate); GC1 pays the
    # remaining 5,000 of line 1 and keeps 15,000
    facts = ReceiptFacts(certificates={"GC1": certificate(20_000), "GC2": certificate(8_000)})
    rcpt = receipt(
        line("1", 10_000),
        line("G", 30_000, gift_certificate="GC-NEW"),
        gift_certificates=[{"code": "GC2", "amount": 5_000}, {"code": "GC1"}],
    )
    outcome = evaluate_with(rcpt, [], facts)
    assert column(outcome, "gift_certificates") == [10_000, 0]
    assert outcome.lines[0].certificate_parts == {"GC2": 5_000, "GC1": 5_000}
    assert outcome.certificates == [
        CertificateCharge("GC2", "applied", None, 5_000, 3_000, 0),
        CertificateCharge("GC1", "applied", None, 5_000, 15_000, 0),
    ]


def test_single_use_certificate_burns_the_rest() -> None:
    # 50,000 balance, pays 20,000: the other 30,000 burn, the balance is 0
    facts = ReceiptFacts(certificates={"GC1": certificate(50_000, single_use=True)})
    rcpt = receipt(line("1", 100_000), gift_certificates=[{"code": "GC1", "amount": 20_000}])
    outcome = evaluate_with(rcpt, [], facts)
    assert column(outcome, "gift_certificates") == [20_000]
    assert outcome.certificates == [CertificateCharge("GC1", "applied", None, 20_000, 0, 30_000)]


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        (None, "unknown"),
        (certificate(50_000, status="issued"), "not_active"),  # sold? not yet
        (certificate(50_000, status="expired"), "expired"),
        (certificate(50_000, expires_at=ISSUED), "expired"),  # expires_at = issued_at: expired
        (certificate(50_000, status="used"), "used"),
        (certificate(0), "used"),  # active, nothing left
        (certificate(50_000, status="void"), "void"),
    ],
)
def test_certificate_rejection_reasons(fact: CertificateFact | None, reason: str) -> None:
    facts = ReceiptFacts(certificates={"GC1": fact} if fact is not None else {})
    outcome = evaluate_with(receipt(line("1", 100_000), gift_certificates=[{"code": "GC1"}]), [], facts)
    assert outcome.certificates == [CertificateCharge("GC1", "rejected", reason)]
    assert column(outcome, "gift_certificates") == [0]
    assert column(outcome, "to_pay") == [100_000]


def test_certificate_valid_a_second_before_expiry() -> None:
    facts = ReceiptFacts(certificates={"GC1": certificate(5_000, expires_at="2026-11-24T10:15:01+03:00")})
    outcome = evaluate_with(receipt(line("1", 100_000), gift_certificates=[{"code": "GC1"}]), [], facts)
    assert outcome.certificates == [CertificateCharge("GC1", "applied", None, 5_000, 0, 0)]


# ------------------------------------------------------------------------------------------------ refunds


def test_refund_of_one_unit_of_an_n_for_m_group() -> None:
    # buy 3 pay 2 on 3 × 1,000: 1 free → discount 1,000; final 2,000; points 3 % × 2,000 = 60
    outcome = run(receipt(units("1", "3", 1_000)), program([n_for_m_campaign(3, 2)]))
    result = outcome.lines[0]
    figures = {name: getattr(result, name) for name in REVERSIBLE}
    assert (figures["discount"], figures["accrual_points"]) == (1_000, 60)
    # returning one unit reverses floor(x × 1 / 3) of each figure, never a re-evaluation:
    # amount 1,000, discount 333 → 667 back to the customer; points 20
    first = refund_share(figures, {}, Decimal(3), Decimal(0), Decimal(1))
    assert (first["amount"], first["discount"], first["accrual_points"]) == (1_000, 333, 20)
    second = refund_share(figures, first, Decimal(3), Decimal(1), Decimal(1))
    assert (second["amount"], second["discount"], second["accrual_points"]) == (1_000, 333, 20)
    # the last unit takes the rest: discount 1,000 − 666 = 334 → 666 back; together exactly the 2,000 paid
    done = {name: first[name] + second[name] for name in REVERSIBLE}
    last = refund_share(figures, done, Decimal(3), Decimal(2), Decimal(1))
    assert (last["amount"], last["discount"], last["accrual_points"]) == (1_000, 334, 20)
    paid_back = [share["amount"] - share["discount"] for share in (first, second, last)]
    assert paid_back == [667, 667, 666] and sum(paid_back) == result.final_amount


def test_refund_of_the_free_unit_of_a_two_for_one() -> None:
    # 2-for-1 on 2 × 1,000: discount 1,000 on the line; returning either unit gives back half of what was
    # paid: amount 1,000 − discount 500 = 500
    outcome = run(receipt(units("1", "2", 1_000)), program([n_for_m_campaign(2, 1)]))
    figures = {name: getattr(outcome.lines[0], name) for name in REVERSIBLE}
    share = refund_share(figures, {}, Decimal(2), Decimal(0), Decimal(1))
    assert (share["amount"], share["discount"]) == (1_000, 500)
