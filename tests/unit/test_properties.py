"""Properties over random receipts and programs, refund sequences and points lots."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import (
    REVERSIBLE,
    AccountState,
    Line,
    Lot,
    Receipt,
    compile_program,
    evaluate,
    parse_program,
    percent_half_up,
    quantity_floor,
    refund_share,
    return_points,
    settle_debt,
    take,
    take_for_reversal,
)
from rules._conditions import LineScopes, ScopeMemo, in_scope
from rules._program import CAMPAIGN_TYPES, NForM
from rules.mechanics import n_for_m

from ._helpers import NOW

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,  # write nothing into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CATEGORIES = [None, "shoes", "shoes/winter", "shoestring", "bags", "care/polish"]
STATUSES = ["ok", "ok", "ok", "none", "unknown", "blocked"]

# ------------------------------------------------------------------------------------------ strategies

percents = st.integers(0, 10_000).map(lambda hundredths: str(Decimal(hundredths) / 100))
positive_percents = st.integers(1, 10_000).map(lambda hundredths: str(Decimal(hundredths) / 100))
quantities = st.one_of(
    st.integers(1, 10).map(str),  # whole units
    st.integers(1, 20_000).map(lambda thousandths: str(Decimal(thousandths) / 1000)),  # weighed goods
)


@st.composite
def lines(draw: st.DrawFn, index: int) -> dict[str, Any]:
    quantity = draw(quantities)
    amount = draw(st.one_of(st.integers(0, 100), st.integers(0, 10_000_000)))
    unit = int(amount / Decimal(quantity)) if amount else 0
    min_price = draw(st.one_of(st.just(0), st.integers(0, max(unit, 1)), st.integers(0, 2 * unit + 10)))
    data: dict[str, Any] = {
        "line_id": f"l{index}",
        "sku": draw(st.sampled_from(["A", "B", "BOOT-999"])),
        "category": draw(st.sampled_from(CATEGORIES)),
        "quantity": quantity,
        "price": unit,
        "amount": amount,
        "no_discount": draw(st.booleans()),
        "no_accrual": draw(st.booleans()),
        "no_redeem": draw(st.booleans()),
        "min_price": min_price,
    }
    if draw(st.integers(0, 9)) == 0:
        data["gift_certificate"] = f"GC{index}"
    return data


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    count = draw(st.integers(1, 20))
    return Receipt.model_validate(
        {
            "receipt_id": "r-prop",
            "store_id": "s17",
            "channel": draw(st.sampled_from(["pos", "online"])),
            "issued_at": "2026-11-24T10:15:00+03:00",
            "lines": [draw(lines(i)) for i in range(count)],
            "redeem_points": draw(st.one_of(st.integers(0, 1_000), st.integers(0, 10_000_000))),
        }
    )


@st.composite
def accounts(draw: st.DrawFn) -> AccountState:
    return AccountState(
        status=draw(st.sampled_from(STATUSES)),
        tier_purchases=draw(st.sampled_from([0, 1_500_000, 5_000_000])),
        available_points=draw(st.one_of(st.integers(-10_000, 10_000), st.integers(0, 10_000_000))),
    )


GROUP = "best"
DISCOUNT_TYPES = ("receipt_discount", "quantity_discount", "n_for_m")
ITEMS = [None, {"categories": ["shoes"]}, {"exclude_skus": ["BOOT-999"]}, {"skus": ["A"], "categories": ["bags"]}]


def _common(draw: st.DrawFn, campaign_id: str, campaign_type: str) -> dict[str, Any]:
    """What every discount campaign has: id, priority, stacking and (perhaps) items."""
    campaign: dict[str, Any] = {
        "id": campaign_id,
        "name": campaign_id,
        "type": campaign_type,
        "priority": draw(st.integers(0, 5)),
        "stacking": draw(st.sampled_from(["stack", "exclusive"])),
    }
    items = draw(st.sampled_from(ITEMS))
    if items is not None:
        campaign["items"] = items
    return campaign


@st.composite
def discount_campaigns(draw: st.DrawFn, index: int | str) -> dict[str, Any]:
    campaign = _common(draw, f"disc-{index}", "receipt_discount")
    minimums = sorted(draw(st.lists(st.integers(0, 2_000_000), min_size=1, max_size=3, unique=True)))
    thresholds = []
    for minimum in minimums:
        if draw(st.booleans()):
            thresholds.append({"min_amount": minimum, "percent": draw(positive_percents)})
        else:
            thresholds.append({"min_amount": minimum, "amount": draw(st.integers(1, 500_000))})
    campaign["thresholds"] = thresholds
    return campaign


@st.composite
def quantity_campaigns(draw: st.DrawFn, index: int) -> dict[str, Any]:
    campaign = _common(draw, f"qty-{index}", "quantity_discount")
    minimums = sorted(draw(st.lists(st.integers(1, 30), min_size=1, max_size=3, unique=True)))
    campaign["thresholds"] = [{"min_quantity": m, "percent": draw(positive_percents)} for m in minimums]
    return campaign


@st.composite
def n_for_m_campaigns(draw: st.DrawFn, index: int) -> dict[str, Any]:
    campaign = _common(draw, f"nfm-{index}", "n_for_m")
    campaign["buy"] = draw(st.integers(2, 6))
    campaign["pay"] = draw(st.integers(1, campaign["buy"] - 1))
    return campaign


@st.composite
def unit_programs(draw: st.DrawFn) -> dict[str, Any]:
    """Programs whose only discounts count units: quantity_discount and n_for_m."""
    campaigns = [draw(quantity_campaigns(i)) for i in range(draw(st.integers(0, 2)))]
    campaigns += [draw(n_for_m_campaigns(i)) for i in range(draw(st.integers(1, 2)))]
    return {"tiers": {"levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]}, "campaigns": campaigns}


@st.composite
def accrual_campaigns(draw: st.DrawFn, index: int) -> dict[str, Any]:
    campaign: dict[str, Any] = {"id": f"acc-{index}", "name": f"accrual {index}", "type": "accrual"}
    campaign["priority"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        campaign["multiplier"] = draw(st.integers(1, 500).map(lambda h: str(Decimal(h) / 100)))
    else:
        campaign["percent"] = draw(percents)
        campaign["mode"] = draw(st.sampled_from(["replace", "add"]))
    if draw(st.booleans()):
        campaign["items"] = {"categories": [draw(st.sampled_from(["shoes", "care", "bags"]))]}
    return campaign


@st.composite
def programs(draw: st.DrawFn) -> dict[str, Any]:
    campaigns = [draw(discount_campaigns(i)) for i in range(draw(st.integers(0, 3)))]
    campaigns += [draw(quantity_campaigns(i)) for i in range(draw(st.integers(0, 2)))]
    campaigns += [draw(n_for_m_campaigns(i)) for i in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        # a group of two receipt discounts: only the larger applies
        for index in ("g0", "g1"):
            campaigns.append({**draw(discount_campaigns(index)), "group": GROUP})
    campaigns += [draw(accrual_campaigns(i)) for i in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        campaigns.append(
            {
                "id": "bonus",
                "name": "bonus",
                "type": "bonus",
                "priority": 9,
                "trigger": "receipt",
                "points": draw(st.integers(1, 100_000)),
                "min_amount": draw(st.integers(0, 1_000_000)),
            }
        )
    return {
        "points": {
            "accrual_base": draw(st.sampled_from(["paid", "after_discount"])),
            "rounding": draw(st.sampled_from(["whole", "minor"])),
            "max_redeem_percent": draw(percents),
        },
        "tiers": {
            "levels": [
                {"id": "base", "min_purchases": 0, "accrual_percent": draw(percents)},
                {"id": "silver", "min_purchases": 1_500_000, "accrual_percent": draw(percents)},
                {"id": "gold", "min_purchases": 5_000_000, "accrual_percent": draw(percents)},
            ]
        },
        "campaigns": campaigns,
    }


# ------------------------------------------------------------------------------------------- evaluate


@PROPERTY
@given(receipt=receipts(), acct=accounts(), document=programs())
def test_evaluate_invariants(receipt: Receipt, acct: AccountState, document: dict[str, Any]) -> None:
    parsed = parse_program(document)
    prog = compile_program(parsed, version=1)
    outcome = evaluate(receipt, acct, prog, NOW)
    earns = acct.status == "ok"
    whole = parsed.points.rounding == "whole"

    assert [r.line_id for r in outcome.lines] == [line.line_id for line in receipt.lines]
    for line, result in zip(receipt.lines, outcome.lines, strict=True):
        floor = quantity_floor(line.min_price, line.quantity)
        assert result.amount == line.amount
        assert result.discount >= 0 and result.points_redeemed >= 0
        assert result.accrual_points >= 0 and result.bonus_points >= 0
        assert result.discount + result.points_redeemed <= line.amount
        assert result.final_amount == line.amount - result.discount
        # nothing goes below min_price × quantity (or below what the line cost, if that is lower)
        assert result.final_amount - result.points_redeemed >= min(line.amount, floor)
        assert result.final_amount - result.points_redeemed >= 0
        if line.no_discount or line.sells_certificate:
            assert result.discount == 0
        if line.no_redeem or line.sells_certificate:
            assert result.points_redeemed == 0
        if line.no_accrual or line.sells_certificate:
            assert result.points_accrued == 0
        if whole:
            assert result.accrual_points % 100 == 0
        if not earns:
            assert result.points_redeemed == 0 and result.points_accrued == 0

    # the redemption: what was asked, up to the cap; the cap within the balance and the percent
    redeemed = outcome.total("points_redeemed")
    assert redeemed == min(receipt.redeem_points, outcome.redeemable_max)
    assert 0 <= outcome.redeemable_max <= max(0, acct.available_points)
    percent = Fraction(parsed.points.max_redeem_percent)
    may_take = [
        r.final_amount
        for line, r in zip(receipt.lines, outcome.lines, strict=True)
        if not line.no_redeem and not line.sells_certificate
    ]
    assert outcome.redeemable_max <= sum(Fraction(a) * percent / 100 for a in may_take)
    if not earns:
        assert outcome.redeemable_max == 0 and outcome.bonus_grants == []

    # totals are sums of lines; campaign effects add up to the lines' figures
    assert outcome.total("discount") == sum(c.discount for c in outcome.campaigns)
    assert outcome.total("bonus_points") == sum(g.points for g in outcome.bonus_grants)
    assert outcome.purchase_amount == sum(r.final_amount for r in outcome.lines if not r.sells_certificate)
    for result in outcome.lines:
        assert result.to_pay == result.amount - result.discount - result.points_redeemed

    # of a group, one campaign at most leaves a trace
    grouped = {c["id"] for c in document["campaigns"] if c.get("group") == GROUP}
    assert len(grouped & {c.id for c in outcome.campaigns}) <= 1
    assert len(grouped & {campaign for r in outcome.lines for campaign in r.campaigns}) <= 1
    # a discount campaign is listed only if it gave something
    discounting = {c["id"] for c in document["campaigns"] if c["type"] in DISCOUNT_TYPES}
    assert all(c.discount > 0 for c in outcome.campaigns if c.id in discounting)

    # deterministic: the same input (also after a JSON round trip of the receipt) gives the same outcome
    again = evaluate(Receipt.model_validate_json(receipt.model_dump_json()), acct, prog, NOW)
    assert again == outcome
    assert evaluate(receipt, acct, compile_program(parse_program(copy.deepcopy(document)), 1), NOW) == outcome


@PROPERTY
@given(receipt=receipts(), document=unit_programs())
def test_unit_mechanics_leave_weighed_lines_alone(receipt: Receipt, document: dict[str, Any]) -> None:
    """quantity_discount and n_for_m count whole units only: a weighed line is never discounted by them,
    and no line goes below its floor."""
    outcome = evaluate(receipt, AccountState(status="none"), compile_program(parse_program(document), 1), NOW)
    for line, result in zip(receipt.lines, outcome.lines, strict=True):
        if line.quantity != line.quantity.to_integral_value():
            assert result.discount == 0
        assert result.final_amount >= min(line.amount, quantity_floor(line.min_price, line.quantity))
    assert outcome.total("discount") == sum(c.discount for c in outcome.campaigns)
    assert evaluate(receipt, AccountState(status="none"), compile_program(parse_program(document), 1), NOW) == outcome


def _free_units_by_expansion(quantities: list[int], left: list[int], buy: int, pay: int) -> list[int]:
    """The contract read literally: every unit listed, sorted by price (later line cheaper on ties)."""
    listed = [(-Fraction(left[i], q), i) for i, q in enumerate(quantities) if q for _ in range(q)]
    listed.sort()
    free = [0] * len(quantities)
    for start in range(0, len(listed) - buy + 1, buy):
        for _, i in listed[start + pay : start + buy]:
            free[i] += 1
    return free


@PROPERTY
@given(
    rows=st.lists(st.tuples(st.integers(1, 6), st.integers(0, 5_000), st.booleans()), min_size=1, max_size=8),
    buy=st.integers(2, 5),
    data=st.data(),
)
def test_n_for_m_matches_unit_by_unit_expansion(
    rows: list[tuple[int, int, bool]], buy: int, data: st.DataObject
) -> None:
    """n_for_m counts free units by position ranges; listing every unit gives the same discounts."""
    pay = data.draw(st.integers(1, buy - 1))
    lines = [
        Line.model_validate(
            {"line_id": str(i), "sku": "A", "quantity": f"{q}" if whole else f"{q}.5", "price": 0, "amount": amount}
        )
        for i, (q, amount, whole) in enumerate(rows)
    ]
    quantities = [q if whole else 0 for q, _, whole in rows]  # a weighed line has no units
    left = [line.amount for line in lines]
    campaign = NForM(id="nfm", name="nfm", type="n_for_m", priority=1, buy=buy, pay=pay)
    parts = n_for_m.apply(campaign, lines, left, left, [True] * len(lines))
    free = _free_units_by_expansion(quantities, left, buy, pay)
    assert sum(free) == sum(quantities) // buy * (buy - pay)
    for i, part in enumerate(parts):
        exact = Fraction(left[i] * free[i], quantities[i]) if quantities[i] else Fraction(0)
        assert part == (exact + Fraction(1, 2)).__floor__()  # amount left × free ÷ quantity, half up


@PROPERTY
@given(receipt=receipts(), document=programs())
def test_shortcuts_of_evaluate_agree_with_their_definitions(receipt: Receipt, document: dict[str, Any]) -> None:
    """evaluate looks candidates up once for all types and works scopes out once per (sku, category): per
    type, the campaigns without a positive item filter and those naming a sku or a category (prefix) of a
    line, registration bonuses aside, in priority order; and the same scopes as per line, with the answers
    of earlier receipts remembered by the program or not."""
    prog = compile_program(parse_program(document), 1)
    by_type = prog.candidates_by_type(receipt.lines)
    skus = {line.sku for line in receipt.lines}
    prefixes = {prefix for line in receipt.lines for prefix in line.category_prefixes}

    def may_touch(campaign: Any) -> bool:
        items = campaign.items
        if items is None or (items.skus is None and items.categories is None):
            return True
        return bool(skus & set(items.skus or ())) or bool(prefixes & set(items.categories or ()))

    for kind in CAMPAIGN_TYPES:
        expected = sorted((c for c in prog.program.campaigns if c.type == kind and may_touch(c)
                           and getattr(c, "trigger", None) != "registration"), key=lambda c: (c.priority, c.id))
        assert by_type.get(kind, []) == expected
        assert prog.candidates(kind, receipt.lines) == expected
    scopes = LineScopes(receipt.lines)
    small = ScopeMemo(limit=3)  # starts again every few answers
    memos = [LineScopes(receipt.lines, memo) for memo in (prog.scope_memo, prog.scope_memo, small, small)]
    for campaign in prog.program.campaigns:
        expected = tuple(in_scope(campaign.items, line) for line in receipt.lines)
        assert scopes.of(campaign.items) == expected
        assert scopes.of(campaign.items) == expected  # remembered
        for shared in memos:  # a cold memo, then warm; and a small one that forgets
            assert shared.of(campaign.items) == expected


@PROPERTY
@given(amount=st.integers(0, 10**13), hundredths=st.integers(0, 10_000))
def test_percent_half_up_is_the_exact_product_rounded_half_up(amount: int, hundredths: int) -> None:
    percent = Fraction(hundredths, 100)
    assert percent_half_up(amount, percent) == (Fraction(amount) * percent / 100 + Fraction(1, 2)).__floor__()


# ----------------------------------------------------------------------------------------------- refunds

figures_strategy = st.fixed_dictionaries({name: st.integers(0, 10_000_000) for name in REVERSIBLE})


@st.composite
def refund_sequences(draw: st.DrawFn) -> tuple[Decimal, list[Decimal]]:
    """A bought quantity and a sequence of partial returns that together return all of it."""
    bought = draw(st.integers(1, 20_000))
    cuts = sorted(draw(st.sets(st.integers(1, bought - 1), max_size=min(8, bought - 1))) if bought > 1 else set())
    bounds = [0, *cuts, bought]
    parts = [b - a for a, b in zip(bounds, bounds[1:], strict=False)]
    scale = Decimal(1000)
    return Decimal(bought) / scale, [Decimal(part) / scale for part in parts]


@PROPERTY
@given(figures=figures_strategy, sequence=refund_sequences())
def test_refund_shares_add_up_exactly(figures: dict[str, int], sequence: tuple[Decimal, list[Decimal]]) -> None:
    bought, returns = sequence
    refunded = dict.fromkeys(REVERSIBLE, 0)
    returned = Decimal(0)
    for returning in returns:
        share = refund_share(figures, refunded, bought, returned, returning)
        last = returned + returning == bought
        for name in REVERSIBLE:
            assert share[name] >= 0
            if not last:
                # floor(value × returned ÷ bought), exactly
                assert share[name] == int(Fraction(figures[name]) * Fraction(returning) / Fraction(bought))
            refunded[name] += share[name]
            assert refunded[name] <= figures[name]
        returned += returning
    assert refunded == figures  # the last unit takes whatever is left: everything comes back


@PROPERTY
@given(figures=figures_strategy, bought=st.integers(1, 20_000))
def test_full_refund_at_once_restores_everything(figures: dict[str, int], bought: int) -> None:
    quantity = Decimal(bought) / 1000
    assert refund_share(figures, {}, quantity, Decimal(0), quantity) == figures


def test_refund_out_of_range_raises() -> None:
    figures = dict.fromkeys(REVERSIBLE, 100)
    with pytest.raises(ValueError):
        refund_share(figures, {}, Decimal(2), Decimal(1), Decimal("1.001"))
    with pytest.raises(ValueError):
        refund_share(figures, {}, Decimal(2), Decimal(0), Decimal(0))


def test_refund_share_examples() -> None:
    # 3 units bought, 1,000 discount: one unit → floor(1,000 / 3) = 333; another → 333; the last → 334
    figures = {"discount": 1_000, "amount": 300_000}
    first = refund_share(figures, {}, Decimal(3), Decimal(0), Decimal(1))
    assert (first["discount"], first["amount"], first["points_redeemed"]) == (333, 100_000, 0)
    second = refund_share(figures, first, Decimal(3), Decimal(1), Decimal(1))
    assert second["discount"] == 333
    done = {k: first[k] + second[k] for k in first}
    assert refund_share(figures, done, Decimal(3), Decimal(2), Decimal(1))["discount"] == 334
    # 0.350 kg of 1.000 kg: floor(999 × 0.35) = floor(349.65) = 349
    assert refund_share({"amount": 999}, {}, Decimal("1.000"), Decimal(0), Decimal("0.350"))["amount"] == 349


# ------------------------------------------------------------------------------------------------- lots

BASE = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@st.composite
def lot_lists(draw: st.DrawFn) -> list[Lot]:
    lots = []
    for lot_id in range(1, draw(st.integers(0, 8)) + 1):
        # lots read from the database are in UTC, lots created from a receipt keep its offset
        offset = timezone(timedelta(hours=draw(st.sampled_from([0, 0, 3, -5, 14]))))
        available_at = (BASE + timedelta(hours=draw(st.integers(-500, 100)))).astimezone(offset)
        lifetime = draw(st.one_of(st.none(), st.integers(1, 1_000)))
        expires_at = available_at + timedelta(hours=lifetime) if lifetime is not None else None
        lots.append(Lot(lot_id, draw(st.integers(0, 10_000)), available_at, expires_at))
    return lots


def remaining(lots: list[Lot]) -> dict[int, int]:
    return {lot.id: lot.remaining for lot in lots}


def moved(moves: list[tuple[int | None, int]]) -> dict[int | None, int]:
    totals: dict[int | None, int] = {}
    for lot_id, points in moves:
        totals[lot_id] = totals.get(lot_id, 0) + points
    return totals


def expiry_key(lot: Lot) -> tuple[datetime, datetime, int]:
    far = datetime.max.replace(tzinfo=UTC)
    return (lot.expires_at or far, lot.available_at, lot.id)


def check_moves_match_lots(before: dict[int, int], lots: list[Lot], moves: list[tuple[int | None, int]]) -> None:
    totals = moved(moves)
    for lot in lots:
        assert lot.remaining >= 0, "no lot below zero"
        assert lot.remaining - before[lot.id] == totals.get(lot.id, 0)


@PROPERTY
@given(lots=lot_lists(), amount=st.integers(0, 60_000))
def test_take_conserves_points_and_spends_earliest_expiry_first(lots: list[Lot], amount: int) -> None:
    before = remaining(lots)
    spendable = sorted((lot for lot in lots if lot.is_available(BASE)), key=expiry_key)
    spendable_total = sum(lot.remaining for lot in spendable)
    moves = take(lots, amount, BASE)
    assert sum(points for _, points in moves) == -amount
    assert all(points < 0 for _, points in moves)
    check_moves_match_lots(before, lots, moves)
    totals = moved(moves)
    assert -totals.get(None, 0) == max(0, amount - spendable_total)  # only the shortfall becomes debt
    for lot in lots:
        if not lot.is_available(BASE):
            assert lot.id not in totals  # pending and expired lots are not spent
    # FIFO by expiry: a lot is touched only when every earlier-expiring lot is emptied
    touched = [lot for lot in spendable if lot.id in totals]
    if touched:
        last = spendable.index(touched[-1])
        assert all(lot.remaining == 0 for lot in spendable[:last])


@PROPERTY
@given(lots=lot_lists(), debt=st.integers(-10, 60_000))
def test_settle_debt_conserves_points(lots: list[Lot], debt: int) -> None:
    before = remaining(lots)
    spendable_total = sum(lot.remaining for lot in lots if lot.is_available(BASE))
    moves = settle_debt(lots, debt, BASE)
    assert sum(points for _, points in moves) == 0  # lots down by exactly what the debt goes down
    check_moves_match_lots(before, lots, moves)
    paid = moved(moves).get(None, 0)
    assert paid == min(max(debt, 0), spendable_total)


@PROPERTY
@given(lots=lot_lists(), amount=st.integers(0, 60_000), own=st.integers(0, 9))
def test_take_for_reversal_conserves_points(lots: list[Lot], amount: int, own: int) -> None:
    before = remaining(lots)
    live = [lot for lot in lots if not lot.is_expired(BASE)]
    live_total = sum(lot.remaining for lot in live)
    own_lot = next((lot for lot in live if lot.id == own), None)
    own_before = own_lot.remaining if own_lot else 0
    moves = take_for_reversal(lots, own, amount, BASE)
    assert sum(points for _, points in moves) == -amount
    check_moves_match_lots(before, lots, moves)
    totals = moved(moves)
    assert -totals.get(None, 0) == max(0, amount - live_total)
    for lot in lots:
        if lot.is_expired(BASE):
            assert lot.id not in totals
    if own_lot is not None:
        # its own lot first: other lots are touched only once it is empty
        assert -totals.get(own, 0) == min(amount, own_before)
        if amount <= own_before:
            assert set(totals) <= {own}


@PROPERTY
@given(lots=lot_lists(), amount=st.integers(0, 30_000), data=st.data())
def test_return_points_puts_back_exactly_what_was_taken(lots: list[Lot], amount: int, data: st.DataObject) -> None:
    available = sum(lot.remaining for lot in lots if lot.is_available(BASE))
    amount = min(amount, available)
    taken = take(lots, amount, BASE)
    assert None not in moved(taken)
    returned: list[tuple[int | None, int]] = []
    left = amount
    while left:
        part = data.draw(st.integers(1, left))
        moves = return_points(taken, returned, part)
        assert sum(points for _, points in moves) == part
        assert all(points > 0 for _, points in moves)
        returned += moves
        left -= part
        for lot_id, back in moved(returned).items():
            assert back <= -moved(taken)[lot_id]  # never more into a lot than it gave
    # everything returned: each lot got back exactly what it gave
    assert moved(returned) == {lot_id: -points for lot_id, points in moved(taken).items()}
    with pytest.raises(ValueError):
        return_points(taken, returned, 1)


def test_return_points_fills_latest_expiring_lots_first() -> None:
    taken = [(1, -100), (2, -50), (3, -30)]  # taken in expiry order
    assert return_points(taken, [], 40) == [(3, 30), (2, 10)]
    assert return_points(taken, [(3, 30), (2, 10)], 60) == [(2, 40), (1, 20)]


def test_take_examples() -> None:
    soon = Lot(1, 100, BASE - timedelta(days=10), BASE + timedelta(days=1))
    later = Lot(2, 100, BASE - timedelta(days=10), BASE + timedelta(days=30))
    never = Lot(3, 100, BASE - timedelta(days=10), None)
    pending = Lot(4, 100, BASE + timedelta(days=1), None)
    expired = Lot(5, 100, BASE - timedelta(days=10), BASE)  # expires_at == now: expired
    lots = [never, pending, later, expired, soon]
    assert take(lots, 250, BASE) == [(1, -100), (2, -100), (3, -50)]
    assert take(lots, 100, BASE) == [(3, -50), (None, -50)]
    assert [lot.remaining for lot in lots] == [0, 100, 0, 100, 0]


def test_take_orders_lots_by_instant_whatever_their_offsets() -> None:
    # lot 1 expires 2026-12-01 10:00+03:00 = 07:00 UTC, lot 2 at 08:00 UTC: lot 1 expires first
    msk = timezone(timedelta(hours=3))
    lot_1 = Lot(1, 100, BASE - timedelta(days=1), datetime(2026, 12, 1, 10, 0, tzinfo=msk))
    lot_2 = Lot(2, 100, BASE - timedelta(days=1), datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert take([lot_2, lot_1], 50, BASE) == [(1, -50)]
    lot_3 = Lot(3, 100, BASE - timedelta(days=1), datetime(2026, 12, 1, 10, 0, tzinfo=msk))
    lot_4 = Lot(4, 100, BASE - timedelta(days=1), datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert take_for_reversal([lot_4, lot_3], None, 150, BASE) == [(3, -100), (4, -50)]
