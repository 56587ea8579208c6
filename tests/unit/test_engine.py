"""evaluate(): table-driven scenarios, each with its arithmetic written out.

Unless a test says otherwise the program is: tiers base 0 → 3 %, silver 1,500,000 → 5 %, gold 5,000,000 → 7 %;
points accrual_base paid, rounding minor, max_redeem_percent 50; the account is `ok` with no purchases
(tier base) and plenty of points available. Money and points are in minor units.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from rules import (
    NO_ACCOUNT,
    AccountState,
    BonusGrant,
    CampaignEffect,
    ProgramError,
    compile_program,
    evaluate,
    load_program,
    parse_program,
)

from ._helpers import (
    ISSUED,
    NOW,
    account,
    campaign,
    column,
    discount_campaign,
    line,
    program,
    program_doc,
    receipt,
    run,
)

SILVER = 1_500_000  # tier purchases that hold silver (5 %)


def accrual_campaign(campaign_id: str, priority: int, **effect: Any) -> dict[str, Any]:
    return {"id": campaign_id, "name": campaign_id, "type": "accrual", "priority": priority, **effect}


def bonus_campaign(points: int, min_amount: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "id": "receipt-bonus",
        "name": "Receipt bonus",
        "type": "bonus",
        "priority": 50,
        "trigger": "receipt",
        "points": points,
        "min_amount": min_amount,
        **fields,
    }


def fixed_campaign(
    campaign_id: str, amount: int, min_amount: int = 0, priority: int = 10, **fields: Any
) -> dict[str, Any]:
    thresholds = [{"min_amount": min_amount, "amount": amount}]
    return campaign("receipt_discount", campaign_id, priority, thresholds=thresholds, **fields)


# --------------------------------------------------------------------------------------------- tiers


@pytest.mark.parametrize(
    ("purchases", "tier", "points"),
    [
        (0, "base", 3_000),  # 100,000 × 3 % = 3,000
        (1_499_999, "base", 3_000),
        (1_500_000, "silver", 5_000),  # 100,000 × 5 %
        (4_999_999, "silver", 5_000),
        (5_000_000, "gold", 7_000),  # 100,000 × 7 %
        (10**12, "gold", 7_000),
    ],
)
def test_tier_percent_is_the_one_held_before_the_receipt(purchases: int, tier: str, points: int) -> None:
    outcome = run(receipt(line("1", 100_000)), program(), account(purchases=purchases))
    assert outcome.tier_applied == tier
    assert column(outcome, "accrual_points") == [points]


def test_the_receipt_itself_does_not_lift_the_tier() -> None:
    # purchases 0 → base 3 % even though this receipt alone (2,000,000) would reach silver:
    # 2,000,000 × 3 % = 60,000
    outcome = run(receipt(line("1", 2_000_000)), program(), account(purchases=0))
    assert outcome.tier_applied == "base"
    assert column(outcome, "accrual_points") == [60_000]
    assert outcome.purchase_amount == 2_000_000


# ------------------------------------------------------------------------------ accrual base & rounding


@pytest.mark.parametrize(
    ("accrual_base", "points"),
    [
        # discount 10 % of 100,000 = 10,000 → final 90,000; redeemed 20,000 (cap 50 % × 90,000 = 45,000)
        ("paid", 3_500),  # (90,000 − 20,000) × 5 % = 3,500
        ("after_discount", 4_500),  # 90,000 × 5 % = 4,500
    ],
)
def test_accrual_base(accrual_base: str, points: int) -> None:
    prog = program([discount_campaign(percent=10)], accrual_base=accrual_base)
    outcome = run(receipt(line("1", 100_000), redeem_points=20_000), prog, account(purchases=SILVER))
    assert column(outcome, "discount") == [10_000]
    assert column(outcome, "final_amount") == [90_000]
    assert column(outcome, "points_redeemed") == [20_000]
    assert outcome.redeemable_max == 45_000
    assert column(outcome, "accrual_points") == [points]


@pytest.mark.parametrize(
    ("amount", "purchases", "rounding", "points"),
    [
        (12_345, 0, "minor", 370),  # 12,345 × 3 % = 370.35 → 370
        (12_345, 0, "whole", 300),  # → 3.70 points → 3 whole points = 300
        (99_999, SILVER, "minor", 4_999),  # 99,999 × 5 % = 4,999.95 → 4,999
        (99_999, SILVER, "whole", 4_900),
        (100_000, SILVER, "whole", 5_000),  # exact
        (3_333, 0, "minor", 99),  # 99.99 → 99
        (3_333, 0, "whole", 0),  # less than one point
    ],
)
def test_rounding_whole_or_minor(amount: int, purchases: int, rounding: str, points: int) -> None:
    outcome = run(receipt(line("1", amount)), program(rounding=rounding), account(purchases=purchases))
    assert column(outcome, "accrual_points") == [points]


def test_rounding_is_per_line() -> None:
    # 1,999 × 5 % = 99.95 per line: whole rounding gives 0 on each line, although the receipt's
    # 3,998 × 5 % = 199.9 would be one whole point
    outcome = run(receipt(line("1", 1_999), line("2", 1_999)), program(rounding="whole"), account(purchases=SILVER))
    assert column(outcome, "accrual_points") == [0, 0]
    outcome = run(receipt(line("1", 1_999), line("2", 1_999)), program(rounding="minor"), account(purchases=SILVER))
    assert column(outcome, "accrual_points") == [99, 99]


def test_no_accrual_line_earns_nothing_but_is_discounted_and_redeemable() -> None:
    # discount 10 % of 200,000 = 20,000 → 10,000 each; finals 90,000 and 90,000
    # redeemable 50 % × 180,000 = 90,000 → 45,000 each (equal weights)
    # points: line 1 (90,000 − 45,000) × 3 % = 1,350; line 2 nothing
    rcpt = receipt(line("1", 100_000), line("2", 100_000, no_accrual=True), redeem_points=10**6)
    outcome = run(rcpt, program([discount_campaign(percent=10)]))
    assert column(outcome, "discount") == [10_000, 10_000]
    assert column(outcome, "points_redeemed") == [45_000, 45_000]
    assert column(outcome, "accrual_points") == [1_350, 0]


# ------------------------------------------------------------------------------------ certificates sold


def test_certificate_sale_line_is_outside_discounts_thresholds_points_and_redemption() -> None:
    lines = (line("1", 100_000), line("G", 300_000, gift_certificate="GC7K2M9XQ4TD"))
    # threshold 150,000 measured on the in-scope amount: only line 1 (100,000) → not reached
    outcome = run(receipt(*lines), program([discount_campaign(percent=10, min_amount=150_000)]))
    assert column(outcome, "discount") == [0, 0]
    # without a threshold: 10 % of 100,000 = 10,000, all on line 1; the certificate line keeps 300,000
    # redeemable: 50 % × 90,000 = 45,000 (the certificate line may not take points)
    # points: (90,000 − 45,000) × 3 % = 1,350 on line 1, none on the certificate
    outcome = run(receipt(*lines, redeem_points=10**6), program([discount_campaign(percent=10)]))
    assert column(outcome, "discount") == [10_000, 0]
    assert column(outcome, "final_amount") == [90_000, 300_000]
    assert outcome.redeemable_max == 45_000
    assert column(outcome, "points_redeemed") == [45_000, 0]
    assert column(outcome, "accrual_points") == [1_350, 0]
    assert [r.campaigns for r in outcome.lines] == [["disc"], []]
    assert outcome.purchase_amount == 90_000  # certificate sales do not count for tiers
    assert outcome.lines[1].sells_certificate


def test_certificate_sale_line_gets_no_receipt_bonus() -> None:
    lines = (line("1", 50_000), line("2", 50_000, no_accrual=True), line("G", 50_000, gift_certificate="GC1"))
    outcome = run(receipt(*lines), program([bonus_campaign(1_000)]))
    assert column(outcome, "bonus_points") == [1_000, 0, 0]


# ------------------------------------------------------------------------------------------ card status


@pytest.mark.parametrize("status", ["none", "unknown", "blocked"])
def test_without_a_usable_account_discounts_apply_but_points_do_not(status: str) -> None:
    # the discount still applies: 10 % of 100,000 = 10,000; no points either way
    prog = program([discount_campaign(percent=10), bonus_campaign(500)])
    acct = NO_ACCOUNT if status == "none" else AccountState(status=status, available_points=10**6)  # type: ignore[arg-type]
    outcome = evaluate(receipt(line("1", 100_000), redeem_points=5_000), acct, prog, NOW)
    assert outcome.card_status == status
    assert outcome.tier_applied is None
    assert column(outcome, "discount") == [10_000]
    assert outcome.redeemable_max == 0
    assert column(outcome, "points_redeemed") == [0]
    assert column(outcome, "accrual_points") == [0]
    assert column(outcome, "bonus_points") == [0]
    assert outcome.bonus_grants == []
    assert [(c.id, c.discount, c.points) for c in outcome.campaigns] == [("disc", 10_000, 0)]


@pytest.mark.parametrize("available", [0, -5_000])
def test_no_points_or_debt_means_nothing_redeemable(available: int) -> None:
    outcome = run(receipt(line("1", 100_000), redeem_points=5_000), program(), account(available=available))
    assert outcome.redeemable_max == 0
    assert column(outcome, "points_redeemed") == [0]
    assert column(outcome, "accrual_points") == [3_000]


# ------------------------------------------------------------------------------------------- redemption


@pytest.mark.parametrize(
    ("amounts", "available", "redeem", "redeemable_max", "redeemed"),
    [
        # cap 50 % × 150,000 = 75,000; asked 100,000 → 75,000 spread 2:1 → 50,000 / 25,000
        ([100_000, 50_000], 10**9, 100_000, 75_000, [50_000, 25_000]),
        # available 30,001 < cap: 30,001 × 2/3 = 20,000.67, × 1/3 = 10,000.33 → the unit to the .67
        ([100_000, 50_000], 30_001, 100_000, 30_001, [20_001, 10_000]),
        # asked less than the cap: exactly what was asked; 1,000 over three equal lines → 334, 333, 333
        ([10_000, 10_000, 10_000], 10**9, 1_000, 15_000, [334, 333, 333]),
        # nothing asked: the cap is still reported
        ([10_000], 10**9, 0, 5_000, [0]),
        # 50 % × 3 = 1.5 → rounded down to 1
        ([3], 10**9, 10, 1, [1]),
    ],
)
def test_redemption_cap_and_spread(
    amounts: list[int], available: int, redeem: int, redeemable_max: int, redeemed: list[int]
) -> None:
    rcpt = receipt(*(line(str(i), a) for i, a in enumerate(amounts)), redeem_points=redeem)
    outcome = run(rcpt, program(), account(available=available))
    assert outcome.redeemable_max == redeemable_max
    assert column(outcome, "points_redeemed") == redeemed


def test_redeemable_max_is_rounded_down() -> None:
    # 100,001 × 33.33 % = 33,330.3333 → 33,330
    outcome = run(receipt(line("1", 100_001), redeem_points=10**6), program(max_redeem_percent="33.33"))
    assert outcome.redeemable_max == 33_330
    assert column(outcome, "points_redeemed") == [33_330]


def test_no_redeem_line_takes_no_points_and_does_not_count_for_the_cap() -> None:
    # cap 50 % × 100,000 (line 1 only) = 50,000, all on line 1
    rcpt = receipt(line("1", 100_000), line("2", 100_000, no_redeem=True), redeem_points=10**6)
    outcome = run(rcpt, program())
    assert outcome.redeemable_max == 50_000
    assert column(outcome, "points_redeemed") == [50_000, 0]


def test_points_are_spread_over_the_amounts_left_after_discounts() -> None:
    # 50 % off shoes: line 1 100,000 → 50,000; line 2 50,000 untouched → finals 50,000 and 50,000
    # 1,001 points over equal finals → 501, 500 (tie → earlier line)
    campaign = discount_campaign(percent=50, items={"categories": ["shoes"]})
    rcpt = receipt(line("1", 100_000, category="shoes"), line("2", 50_000, category="bags"), redeem_points=1_001)
    outcome = run(rcpt, program([campaign]))
    assert column(outcome, "final_amount") == [50_000, 50_000]
    assert column(outcome, "points_redeemed") == [501, 500]


def test_redemption_campaign_changes_the_percent_and_restricts_lines() -> None:
    # a redemption campaign with items: only its lines may take points, at its max_percent
    # cap = 20 % × 100,000 = 20,000 (line 2 outside the campaign's items takes nothing)
    campaign = {
        "id": "own-brand",
        "name": "own brand",
        "type": "redemption",
        "priority": 1,
        "max_percent": 20,
        "items": {"categories": ["own"]},
    }
    rcpt = receipt(line("1", 100_000, category="own/shoes"), line("2", 100_000, category="other"), redeem_points=10**6)
    outcome = run(rcpt, program([campaign]))
    assert outcome.redeemable_max == 20_000
    assert column(outcome, "points_redeemed") == [20_000, 0]


# --------------------------------------------------------------------------------------- min_price floor


def test_min_price_floor_limits_redemption() -> None:
    # floor = 40,000 × 2 = 80,000; 50 % would allow 50,000 but only 20,000 lie above the floor
    rcpt = receipt(line("1", 100_000, quantity="2", price=50_000, min_price=40_000), redeem_points=10**6)
    outcome = run(rcpt, program())
    assert outcome.redeemable_max == 20_000
    assert column(outcome, "points_redeemed") == [20_000]
    result = outcome.lines[0]
    assert result.final_amount - result.points_redeemed == 80_000


def test_min_price_floor_limits_a_discount_with_fractional_quantity() -> None:
    # floor = 12,345 × 0.350 = 4,320.75 → rounded up to 4,321; 50 % of 5,000 wants 2,500 but only
    # 5,000 − 4,321 = 679 is above the floor; no room is left for points either
    rcpt = receipt(line("1", 5_000, quantity="0.350", price=14_286, min_price=12_345), redeem_points=10**6)
    outcome = run(rcpt, program([discount_campaign(percent=50)]))
    assert column(outcome, "discount") == [679]
    assert column(outcome, "final_amount") == [4_321]
    assert outcome.redeemable_max == 0
    assert column(outcome, "points_redeemed") == [0]


def test_discount_clipped_at_a_floor_is_re_spread() -> None:
    # 50 % of 2,000 = 1,000 → 500 / 500; line 1 may lose only 1,000 − 900 = 100 → the other 400 go to
    # line 2: discounts 100 / 900, finals 900 / 100
    # points: line 1 has no room above its floor; cap = min(50 % × 1,000 = 500, room 0 + 100) = 100
    rcpt = receipt(line("1", 1_000, min_price=900), line("2", 1_000), redeem_points=10**6)
    outcome = run(rcpt, program([discount_campaign(percent=50)]))
    assert column(outcome, "discount") == [100, 900]
    assert outcome.redeemable_max == 100
    assert column(outcome, "points_redeemed") == [0, 100]


def test_fixed_amount_is_capped_at_the_room_above_floors() -> None:
    # wants 5,000; the lines have 1,000 − 900 = 100 and 1,000 − 950 = 50 above their floors → 150
    rcpt = receipt(line("1", 1_000, min_price=900), line("2", 1_000, min_price=950))
    outcome = run(rcpt, program([fixed_campaign("fixed", 5_000)]))
    assert column(outcome, "discount") == [100, 50]


def test_no_discount_line_is_never_discounted_and_outside_thresholds() -> None:
    # in-scope amount is 400,000 (the no_discount line does not count) < 500,000 → nothing
    prog = program([discount_campaign(percent=10, min_amount=500_000)])
    outcome = run(receipt(line("1", 400_000), line("2", 200_000, no_discount=True)), prog)
    assert column(outcome, "discount") == [0, 0]
    # reaching 500,000 on discountable lines: 10 % of 500,000 = 50,000, all on line 1
    outcome = run(receipt(line("1", 500_000), line("2", 200_000, no_discount=True)), prog)
    assert column(outcome, "discount") == [50_000, 0]


# ------------------------------------------------------------------------------------ accrual campaigns


@pytest.mark.parametrize(
    ("campaigns", "points"),
    [
        # silver 5 %, line 100,000
        ([], 5_000),
        # add 2 (priority 1) then ×2 (priority 2): (5 + 2) × 2 = 14 %
        (
            [
                accrual_campaign("z-add", 1, percent=2, mode="add"),
                accrual_campaign("a-mult", 2, multiplier=2),
            ],
            14_000,
        ),
        # ×2 (priority 1) then add 2 (priority 2): 5 × 2 + 2 = 12 %
        (
            [
                accrual_campaign("z-mult", 1, multiplier=2),
                accrual_campaign("a-add", 2, percent=2, mode="add"),
            ],
            12_000,
        ),
        # equal priorities: by id; "a-add" runs before "b-mult" → 14 %
        (
            [
                accrual_campaign("b-mult", 5, multiplier=2),
                accrual_campaign("a-add", 5, percent=2, mode="add"),
            ],
            14_000,
        ),
        # … and "a-mult" before "b-add" → 12 %
        (
            [
                accrual_campaign("b-add", 5, percent=2, mode="add"),
                accrual_campaign("a-mult", 5, multiplier=2),
            ],
            12_000,
        ),
        # replace 10 then add 1.5 → 11.5 %
        (
            [
                accrual_campaign("r", 1, percent=10, mode="replace"),
                accrual_campaign("a", 2, percent="1.5", mode="add"),
            ],
            11_500,
        ),
        # add 1.5 then replace 10 → 10 %
        (
            [
                accrual_campaign("a", 1, percent="1.5", mode="add"),
                accrual_campaign("r", 2, percent=10, mode="replace"),
            ],
            10_000,
        ),
        # replace 0: nothing (clearance)
        ([accrual_campaign("r", 1, percent=0, mode="replace")], 0),
        # ×0.5 → 2.5 %
        ([accrual_campaign("half", 1, multiplier="0.5")], 2_500),
    ],
)
def test_accrual_campaigns_apply_in_priority_order(campaigns: list[dict[str, Any]], points: int) -> None:
    outcome = run(receipt(line("1", 100_000)), program(campaigns), account(purchases=SILVER))
    assert column(outcome, "accrual_points") == [points]
    assert outcome.lines[0].campaigns == [c["id"] for c in sorted(campaigns, key=lambda c: (c["priority"], c["id"]))]


def test_accrual_campaign_scope_and_effect() -> None:
    # double points on coffee: coffee/beans 100,000 × 10 % = 10,000; tea 100,000 × 5 % = 5,000
    # the campaign's effect is what it added: 10,000 − 5,000 = 5,000
    campaign = accrual_campaign("coffee-x2", 1, multiplier=2, items={"categories": ["coffee"]})
    rcpt = receipt(line("1", 100_000, category="coffee/beans"), line("2", 100_000, category="tea"))
    outcome = run(rcpt, program([campaign]), account(purchases=SILVER))
    assert column(outcome, "accrual_points") == [10_000, 5_000]
    assert [r.campaigns for r in outcome.lines] == [["coffee-x2"], []]
    assert [(c.id, c.discount, c.points) for c in outcome.campaigns] == [("coffee-x2", 0, 5_000)]


def test_accrual_campaign_for_a_segment() -> None:
    # 10 % for churn customers (last purchase ≥ 120 days ago): 100,000 × 10 % = 10,000
    campaign = accrual_campaign("win-back", 1, percent=10, mode="replace", when={"segments": ["churn"]})
    at = datetime.fromisoformat(ISSUED)
    churned = AccountState("ok", 0, at - timedelta(days=400), at - timedelta(days=120), 0)
    loyal = AccountState("ok", 0, at - timedelta(days=400), at - timedelta(days=119), 0)
    outcome = evaluate(receipt(line("1", 100_000)), churned, program([campaign]), NOW)
    assert (outcome.segment, column(outcome, "accrual_points")) == ("churn", [10_000])
    outcome = evaluate(receipt(line("1", 100_000)), loyal, program([campaign]), NOW)
    assert (outcome.segment, column(outcome, "accrual_points")) == ("pre_churn", [3_000])


# -------------------------------------------------------------------------------------- when and active


def discounted(
    when: dict[str, Any] | None = None,
    active: dict[str, str] | None = None,
    issued_at: str = ISSUED,
    acct: AccountState | None = None,
    channel: str = "pos",
) -> bool:
    """Whether a 10 % receipt discount with these conditions applies to a 100,000 receipt."""
    fields: dict[str, Any] = {}
    if when is not None:
        fields["when"] = when
    if active is not None:
        fields["active"] = active
    prog = program([discount_campaign(percent=10, **fields)])
    outcome = evaluate(receipt(line("1", 100_000), issued_at=issued_at, channel=channel), acct or account(), prog, NOW)
    assert outcome.lines[0].discount in (0, 10_000)
    return outcome.lines[0].discount == 10_000


@pytest.mark.parametrize(
    ("weekdays", "issued_at", "applies"),
    [
        ([2], "2026-11-24T10:15:00+03:00", True),  # Tuesday
        ([1, 3, 4, 5, 6, 7], "2026-11-24T10:15:00+03:00", False),
        # Monday 01:00 at +03:00 is Sunday 22:00 UTC: the receipt's own offset decides → Monday
        ([1], "2026-11-23T01:00:00+03:00", True),
        ([7], "2026-11-23T01:00:00+03:00", False),
        # the same instant written in UTC is a Sunday receipt
        ([7], "2026-11-22T22:00:00+00:00", True),
        ([1], "2026-11-22T22:00:00+00:00", False),
        ([7], "2026-11-29T23:59:59+03:00", True),  # Sunday is 7
    ],
)
def test_weekdays_are_iso_in_the_receipts_own_offset(weekdays: list[int], issued_at: str, applies: bool) -> None:
    assert discounted(when={"weekdays": weekdays}, issued_at=issued_at) is applies


@pytest.mark.parametrize(
    ("hours", "local_time", "applies"),
    [
        ("08:00-22:00", "08:00:00", True),  # [from, to): the start is in
        ("08:00-22:00", "07:59:59", False),
        ("08:00-22:00", "21:59:59", True),
        ("08:00-22:00", "22:00:00", False),  # the end is out
        # past midnight: wraps
        ("22:00-02:00", "22:00:00", True),
        ("22:00-02:00", "23:59:59", True),
        ("22:00-02:00", "00:00:00", True),
        ("22:00-02:00", "01:59:59", True),
        ("22:00-02:00", "02:00:00", False),
        ("22:00-02:00", "12:00:00", False),
        ("22:00-02:00", "21:59:59", False),
        # up to the end of the day
        ("20:00-24:00", "20:00:00", True),
        ("20:00-24:00", "23:59:59", True),
        ("20:00-24:00", "00:00:00", False),
        ("20:00-24:00", "19:59:59", False),
        ("00:00-24:00", "00:00:00", True),
        ("00:00-24:00", "12:34:56", True),
    ],
)
def test_hours_are_half_open_and_wrap(hours: str, local_time: str, applies: bool) -> None:
    assert discounted(when={"hours": hours}, issued_at=f"2026-11-24T{local_time}+03:00") is applies


@pytest.mark.parametrize(
    ("issued_at", "applies"),
    [
        ("2026-11-24T10:30:00+03:00", True),  # 10:30 local (07:30 UTC) is inside 08:00-22:00
        ("2026-11-24T07:30:00+00:00", False),  # the same instant written in UTC: 07:30 local
        ("2026-11-24T23:30:00-05:00", False),  # 04:30 UTC next day, but 23:30 local
    ],
)
def test_hours_are_read_in_the_receipts_own_offset(issued_at: str, applies: bool) -> None:
    assert discounted(when={"hours": "08:00-22:00"}, issued_at=issued_at) is applies


@pytest.mark.parametrize(
    ("active", "issued_at", "applies"),
    [
        ({"from": "2026-11-24T10:15:00+03:00"}, "2026-11-24T10:15:00+03:00", True),  # from is in
        ({"from": "2026-11-24T10:15:00+03:00"}, "2026-11-24T10:14:59+03:00", False),
        ({"from": "2026-11-24T10:15:00+03:00"}, "2026-11-24T07:15:00+00:00", True),  # same instant
        ({"to": "2026-11-24T10:15:00+03:00"}, "2026-11-24T10:15:00+03:00", False),  # to is out
        ({"to": "2026-11-24T10:15:00+03:00"}, "2026-11-24T10:14:59+03:00", True),
        ({"to": "2026-11-24T10:15:00+03:00"}, "2026-11-24T07:15:00+00:00", False),  # same instant
        ({"to": "2026-11-24T10:15:00+03:00"}, "2026-11-24T07:14:59+00:00", True),
        (
            {"from": "2026-11-01T00:00:00+03:00", "to": "2027-01-01T00:00:00+03:00"},
            "2026-12-31T23:59:59+03:00",
            True,
        ),
        (
            {"from": "2026-11-01T00:00:00+03:00", "to": "2027-01-01T00:00:00+03:00"},
            "2026-12-31T21:00:00+00:00",
            False,
        ),
        (
            {"from": "2026-11-01T00:00:00+03:00", "to": "2027-01-01T00:00:00+03:00"},
            "2026-10-31T21:00:00+00:00",
            True,
        ),
    ],
)
def test_active_period_is_half_open(active: dict[str, str], issued_at: str, applies: bool) -> None:
    assert discounted(active=active, issued_at=issued_at) is applies


def test_channel_store_and_tier_conditions() -> None:
    assert discounted(when={"channels": ["pos"]}) is True
    assert discounted(when={"channels": ["online"]}) is False
    assert discounted(when={"channels": ["online"]}, channel="online") is True
    assert discounted(when={"stores": ["s17", "s18"]}) is True
    assert discounted(when={"stores": ["s18"]}) is False
    assert discounted(when={"tiers": ["silver", "gold"]}, acct=account(purchases=0)) is False
    assert discounted(when={"tiers": ["silver", "gold"]}, acct=account(purchases=SILVER)) is True
    assert discounted(when={"tiers": ["base"]}, acct=NO_ACCOUNT) is False  # no card, no tier
    assert discounted(when={"segments": ["none"]}) is True  # no purchase yet
    assert discounted(when={"segments": ["loyal"]}) is False


def test_custom_segment_conditions() -> None:
    """`when.segments` holds when the CVM segment or one of the account's custom segments is listed."""
    member = AccountState("ok", segments=frozenset({"coffee-lovers", "vip"}))
    assert discounted(when={"segments": ["coffee-lovers"]}, acct=member) is True
    assert discounted(when={"segments": ["tea-lovers", "vip"]}, acct=member) is True
    assert discounted(when={"segments": ["tea-lovers"]}, acct=member) is False
    assert discounted(when={"segments": ["coffee-lovers"]}, acct=account()) is False  # in none
    assert discounted(when={"segments": ["coffee-lovers"]}, acct=NO_ACCOUNT) is False
    assert discounted(when={"segments": ["tea-lovers", "none"]}, acct=member) is True  # the CVM one holds


def test_custom_segment_ids_in_the_program() -> None:
    doc = program_doc([{"id": "a", "name": "a", "type": "receipt_discount", "priority": 1,
                        "thresholds": [{"min_amount": 0, "percent": 5}],
                        "when": {"segments": ["churn", "coffee-lovers", "vip"]}},
                       {"id": "b", "name": "b", "type": "receipt_discount", "priority": 2,
                        "thresholds": [{"min_amount": 0, "percent": 5}], "when": {"segments": ["vip"]}}])
    assert parse_program(doc).custom_segments() == {
        "coffee-lovers": ["campaigns[0].when.segments[1]"],
        "vip": ["campaigns[0].when.segments[2]", "campaigns[1].when.segments[0]"]}
    doc["campaigns"][1]["when"]["segments"] = ["Bad Id"]
    with pytest.raises(ProgramError) as raised:
        parse_program(doc)
    assert any(e["path"].startswith("campaigns[1].when.segments[0]") for e in raised.value.errors)


# ------------------------------------------------------------------------------------------ items scope


@pytest.mark.parametrize(
    ("items", "category", "sku", "applies"),
    [
        ({"categories": ["shoes"]}, "shoes", "A", True),
        ({"categories": ["shoes"]}, "shoes/winter", "A", True),
        ({"categories": ["shoes"]}, "shoes/winter/boots", "A", True),
        ({"categories": ["shoes"]}, "shoestring", "A", False),
        ({"categories": ["shoes"]}, "kids/shoes", "A", False),
        ({"categories": ["shoes"]}, None, "A", False),
        ({"categories": ["shoes/winter"]}, "shoes", "A", False),
        ({"categories": ["shoes/"]}, "shoes/winter", "A", True),  # trailing slash ignored
        ({"categories": ["shoes"], "exclude_skus": ["BOOT-999"]}, "shoes/winter", "BOOT-999", False),
        (
            {"categories": ["shoes"], "exclude_categories": ["shoes/summer"]},
            "shoes/summer/sandals",
            "A",
            False,
        ),
        ({"categories": ["shoes"], "exclude_categories": ["shoes/summer"]}, "shoes/summertime", "A", True),
        ({"categories": ["shoes"], "skus": ["SOCK-1"]}, "socks", "SOCK-1", True),  # either list
        ({"skus": ["SOCK-1"]}, "socks", "SOCK-2", False),
        ({"exclude_skus": ["X"]}, None, "A", True),  # only exclusions: every other line
        ({"exclude_skus": ["X"]}, None, "X", False),
    ],
)
def test_items_scope(items: dict[str, Any], category: str | None, sku: str, applies: bool) -> None:
    prog = program([discount_campaign(percent=10, items=items)])
    outcome = run(receipt(line("1", 100_000, category=category, sku=sku)), prog)
    assert column(outcome, "discount") == [10_000 if applies else 0]


def test_category_scope_only_discounts_its_lines() -> None:
    # in-scope: shoes/winter 60,000 + shoes 40,000 = 100,000 → 10 % = 10,000 spread 6,000 / 4,000
    lines = (
        line("1", 60_000, category="shoes/winter"),
        line("2", 40_000, category="shoes"),
        line("3", 50_000, category="shoestring"),
    )
    outcome = run(receipt(*lines), program([discount_campaign(percent=10, items={"categories": ["shoes"]})]))
    assert column(outcome, "discount") == [6_000, 4_000, 0]


# --------------------------------------------------------------------------------------- receipt bonus


def test_receipt_bonus_spread_over_accruing_lines() -> None:
    # 100,000 reaches min_amount 100,000 → 1,000 bonus points spread 60:40 → 600 / 400
    # accrual 3 %: 1,800 / 1,200; points_accrued = accrual + bonus = 2,400 / 1,600
    outcome = run(receipt(line("1", 60_000), line("2", 40_000)), program([bonus_campaign(1_000, 100_000)]))
    assert column(outcome, "bonus_points") == [600, 400]
    assert column(outcome, "accrual_points") == [1_800, 1_200]
    assert column(outcome, "points_accrued") == [2_400, 1_600]
    expires = datetime.fromisoformat(ISSUED) + timedelta(days=365)
    assert outcome.bonus_grants == [BonusGrant("receipt-bonus", 1_000, expires)]
    assert outcome.campaigns == [CampaignEffect("receipt-bonus", "Receipt bonus", 0, 1_000)]
    assert [r.campaigns for r in outcome.lines] == [["receipt-bonus"], ["receipt-bonus"]]


def test_receipt_bonus_below_min_amount() -> None:
    outcome = run(receipt(line("1", 60_000), line("2", 39_999)), program([bonus_campaign(1_000, 100_000)]))
    assert column(outcome, "bonus_points") == [0, 0]
    assert outcome.bonus_grants == []


def test_receipt_bonus_min_amount_is_measured_after_discounts() -> None:
    # 110,000 − 10 % = 99,000 < 100,000 → no bonus
    prog = program([discount_campaign(percent=10), bonus_campaign(1_000, 100_000)])
    assert run(receipt(line("1", 110_000)), prog).bonus_grants == []


def test_receipt_bonus_largest_remainder_and_own_expiry() -> None:
    # 1,000 over three equal lines → 334, 333, 333; expire_days 14 → 14 days after issued_at
    prog = program([bonus_campaign(1_000, expire_days=14)])
    outcome = run(receipt(line("1", 5_000), line("2", 5_000), line("3", 5_000)), prog)
    assert column(outcome, "bonus_points") == [334, 333, 333]
    assert outcome.bonus_grants[0].expires_at == datetime.fromisoformat(ISSUED) + timedelta(days=14)


def test_receipt_bonus_weights_are_what_is_paid() -> None:
    # redeem 50 %: line 1 100,000 → 50,000 paid; line 2 no_redeem 50,000 paid → weights 1:1 → 500 / 500
    prog = program([bonus_campaign(1_000)])
    rcpt = receipt(line("1", 100_000), line("2", 50_000, no_redeem=True), redeem_points=50_000)
    assert column(run(rcpt, prog), "bonus_points") == [500, 500]


# ------------------------------------------------------------------------------------ receipt discount


@pytest.mark.parametrize(
    ("amount", "discount"),
    [
        (499_999, 0),  # below the first threshold
        (500_000, 25_000),  # 5 %
        (999_999, 50_000),  # 5 % = 49,999.95 → half up → 50,000
        (1_000_000, 100_000),  # 10 %
        (1_234_567, 123_457),  # 10 % = 123,456.7 → 123,457
        (1_234_565, 123_457),  # 10 % = 123,456.5 → half up → 123,457
        (1_234_564, 123_456),  # 123,456.4 → 123,456
    ],
)
def test_percent_thresholds(amount: int, discount: int) -> None:
    campaign = discount_campaign()
    campaign["thresholds"] = [{"min_amount": 500_000, "percent": 5}, {"min_amount": 1_000_000, "percent": 10}]
    outcome = run(receipt(line("1", amount)), program([campaign]))
    assert column(outcome, "discount") == [discount]
    assert sum(c.discount for c in outcome.campaigns) == discount


def test_fractional_percent() -> None:
    # 7.5 % of 12,345 = 925.875 → 926
    outcome = run(receipt(line("1", 12_345)), program([discount_campaign(percent="7.5")]))
    assert column(outcome, "discount") == [926]


@pytest.mark.parametrize(
    ("amounts", "discounts"),
    [
        ([60_000, 40_000], [6_000, 4_000]),  # 100,000 → first threshold: 10,000 spread 60:40
        ([150_000, 50_000], [18_750, 6_250]),  # 200,000 → second threshold: 25,000 spread 3:1
        ([90_000, 9_999], [0, 0]),  # 99,999: no threshold reached
    ],
)
def test_fixed_amount_thresholds(amounts: list[int], discounts: list[int]) -> None:
    campaign = fixed_campaign("fixed", 10_000, 100_000)
    campaign["thresholds"].append({"min_amount": 200_000, "amount": 25_000})
    outcome = run(receipt(*(line(str(i), a) for i, a in enumerate(amounts))), program([campaign]))
    assert column(outcome, "discount") == discounts


def test_receipt_discount_spread_by_largest_remainder() -> None:
    # fixed 1,000 over three equal lines → 334, 333, 333
    outcome = run(
        receipt(line("1", 10_000), line("2", 10_000), line("3", 10_000)),
        program([fixed_campaign("f", 1_000)]),
    )
    assert column(outcome, "discount") == [334, 333, 333]
    # 10 % of 3 × 3,333 = 999.9 → 1,000 (rounded once on the whole), → 334, 333, 333
    outcome = run(receipt(line("1", 3_333), line("2", 3_333), line("3", 3_333)), program([discount_campaign()]))
    assert column(outcome, "discount") == [334, 333, 333]


@pytest.mark.parametrize(
    ("campaigns", "total"),
    [
        # 20 % (priority 1) then 10 % (priority 3) on 100,000: 20,000 + 10 % × 80,000 = 28,000
        ([discount_campaign("b-twenty", 20, priority=1), discount_campaign("a-ten", 10, priority=3)], 28_000),
        # 10 % then a fixed 10,000: 10,000 + 10,000 = 20,000
        ([discount_campaign("z-ten", 10, priority=1), fixed_campaign("a-fixed", 10_000, priority=3)], 20_000),
        # a fixed 10,000 then 10 %: 10,000 + 10 % × 90,000 = 19,000
        ([fixed_campaign("z-fixed", 10_000, priority=1), discount_campaign("a-ten", 10, priority=3)], 19_000),
        # the second threshold is measured on what the first left: 90,000 < 95,000 → 10,000 only
        (
            [discount_campaign("z-ten", 10, priority=1), discount_campaign("a-ten", 10, 95_000, priority=3)],
            10_000,
        ),
        # equal priorities: by id; "a-fixed" runs first → 10,000 + 10 % × 90,000 = 19,000
        ([discount_campaign("b-ten", 10, priority=5), fixed_campaign("a-fixed", 10_000, priority=5)], 19_000),
        # … "a-ten" first → 10,000 + 10,000 = 20,000
        ([fixed_campaign("b-fixed", 10_000, priority=5), discount_campaign("a-ten", 10, priority=5)], 20_000),
    ],
)
def test_discounts_apply_in_priority_order_on_what_is_left(campaigns: list[dict[str, Any]], total: int) -> None:
    outcome = run(receipt(line("1", 100_000)), program(campaigns))
    assert outcome.total("discount") == total
    assert sum(c.discount for c in outcome.campaigns) == total


def test_exclusive_campaign_blocks_later_discounts_on_its_lines() -> None:
    # shoes-10 (priority 1, exclusive, shoes only): 10 % of 100,000 = 10,000 on the shoes line
    # all-10 (priority 2, every line): the shoes line is blocked → only the bag is in scope:
    # 10 % × 50,000 = 5,000
    shoes = discount_campaign("shoes-10", 10, priority=1, stacking="exclusive", items={"categories": ["shoes"]})
    rcpt = receipt(line("1", 100_000, category="shoes"), line("2", 50_000, category="bags"))
    outcome = run(rcpt, program([shoes, discount_campaign("all-10", 10, priority=2)]))
    assert column(outcome, "discount") == [10_000, 5_000]
    assert [r.campaigns for r in outcome.lines] == [["shoes-10"], ["all-10"]]
    # the later campaign's threshold is measured without the blocked line: 50,000 < 60,000 → nothing
    outcome = run(rcpt, program([shoes, discount_campaign("all-10", 10, 60_000, priority=2)]))
    assert column(outcome, "discount") == [10_000, 0]
    # stacking (the default) instead: 10,000 then 10 % × (90,000 + 50,000) = 14,000 spread 9:5
    stacking = discount_campaign("shoes-10", 10, priority=1, items={"categories": ["shoes"]})
    outcome = run(rcpt, program([stacking, discount_campaign("all-10", 10, priority=2)]))
    assert column(outcome, "discount") == [10_000 + 9_000, 5_000]


def test_exclusive_blocks_only_the_lines_it_reduced() -> None:
    # a fixed 1 over two equal lines of 100: the earlier line gets it, the later line is not reduced
    # the second campaign then sees only line 2: 10 % of 100 = 10
    first = fixed_campaign("one", 1, priority=1, stacking="exclusive")
    outcome = run(receipt(line("1", 100), line("2", 100)), program([first, discount_campaign("ten", 10, priority=2)]))
    assert column(outcome, "discount") == [1, 10]


def test_discount_campaign_effects_add_up() -> None:
    prog = program([discount_campaign("a", 20, priority=1), discount_campaign("b", 10, priority=2)])
    outcome = run(receipt(line("1", 70_000), line("2", 30_000)), prog)
    # a: 20 % of 100,000 = 20,000 → 14,000 / 6,000; b: 10 % of 80,000 = 8,000 → 5,600 / 2,400
    assert column(outcome, "discount") == [19_600, 8_400]
    assert [(c.id, c.discount) for c in outcome.campaigns] == [("a", 20_000), ("b", 8_000)]


# -------------------------------------------------------------------------------- the contract's example


def test_contract_example_with_the_example_program() -> None:
    text = resources.files("rules").joinpath("examples/program.yaml").read_text(encoding="utf-8")
    prog = compile_program(load_program(text, "yaml"), version=7)
    rcpt = receipt(
        line("1", 799_000, sku="BOOT-123", category="shoes/winter", quantity="2", price=399_500),
        line("2", 300_000, sku="GIFT-3000", price=300_000, gift_certificate="GC7K2M9XQ4TD"),
        card="2900000012345",
        redeem_points=50_000,
    )
    # silver before this receipt (1,600,000 ≥ 1,500,000 of purchases), 1,012.00 points available
    acct = account(purchases=1_600_000, available=101_200)
    outcome = evaluate(rcpt, acct, prog, NOW)
    # winter-check: in scope only the shoes line (799,000 ≥ 500,000 → 5 %) = 39,950
    # redeemable: min(101,200, 50 % × 759,050 = 379,525) = 101,200; asked 50,000
    # points: (759,050 − 50,000) × 5 % = 35,452.5 → whole points → 35,400
    assert column(outcome, "discount") == [39_950, 0]
    assert column(outcome, "final_amount") == [759_050, 300_000]
    assert column(outcome, "points_redeemed") == [50_000, 0]
    assert column(outcome, "points_accrued") == [35_400, 0]
    assert outcome.redeemable_max == 101_200
    assert [r.campaigns for r in outcome.lines] == [["winter-check"], []]
    assert outcome.tier_applied == "silver"
    assert outcome.accrual_available_at == datetime.fromisoformat("2026-12-08T10:15:00+03:00")
    assert outcome.accrual_expires_at == datetime.fromisoformat("2026-12-08T10:15:00+03:00") + timedelta(days=365)
    assert (
        outcome.total("amount") - outcome.total("discount") - outcome.total("points_redeemed")
        == 1_099_000 - 39_950 - 50_000
    )
