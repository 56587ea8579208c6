"""The customer card's pure arithmetic (app/customers/card.py), worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from app.customers import card

MOSCOW = ZoneInfo("Europe/Moscow")


def test_scores_count_the_boundaries_strictly_below() -> None:
    bounds = [10, 20, 20, 40]
    assert [card.score(value, bounds) for value in (5, 10, 11, 20, 21, 40, 41)] == [1, 1, 2, 2, 4, 4, 5]


def test_rfm_needs_a_purchase_and_boundaries() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    figures = {"receipts": 3, "ltv": 405000, "last_purchase": at}
    later = datetime(2026, 12, 5, tzinfo=UTC)
    bounds = {"recency": [at, at, later, later],
              "frequency": [1, 1, 3, 3], "monetary": [10000, 10000, 405000, 405000], "computed_at": at}
    assert card.rfm(figures, bounds) == {"r": 1, "f": 3, "m": 3, "as_of": at.isoformat()}
    assert card.rfm(figures, None) is None
    assert card.rfm({**figures, "receipts": 0}, bounds) is None


def test_points_are_net_and_shown_positive() -> None:
    by_kind = {"accrual": 18290, "bonus": 0, "accrual_reversal": -4200, "redemption": -2500,
               "redemption_return": 500, "expiry": -300, "adjustment": -100}
    assert card.points(by_kind, 11490) == {"earned": 14090, "redeemed": 2000, "expired": 300, "adjusted": -100,
                                           "available": 11490}
    assert card.points({}, 0) == {"earned": 0, "redeemed": 0, "expired": 0, "adjusted": 0, "available": 0}


def test_clock_counts_by_weekday_and_hour() -> None:
    weekdays, hours = card.clock([{"weekday": 1, "hour": 0, "receipts": 2}, {"weekday": 7, "hour": 23, "receipts": 1},
                                  {"weekday": 1, "hour": 23, "receipts": 1}])
    assert weekdays == [3, 0, 0, 0, 0, 0, 1] and hours[0] == 2 and hours[23] == 2 and sum(hours) == 4


def test_top_five_categories_by_what_was_paid_ties_by_name() -> None:
    rows = [{"category": name, "paid": paid, "amount": paid, "promo": 0}
            for name, paid in (("tea", 500), ("coffee", 900), ("cake", 500), ("milk", 100), ("jam", 200),
                               ("salt", 50), ("gone", 0))]
    rows.append({"category": "sale", "paid": 90, "amount": 100, "promo": 100})
    top, promo_share = card.categories(rows)
    assert [row["category"] for row in top] == ["coffee", "cake", "tea", "jam", "milk"]
    assert promo_share == round(100 / 2350, 4) == 0.0426
    assert card.categories([]) == ([], None)


def test_frequency_and_days_in_the_report_time_zone() -> None:
    # 21:30 UTC on 30 Nov is 00:30 on 1 Dec in Moscow: 6 days to 6 Dec, both included
    first = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)
    last = datetime(2026, 12, 4, 20, 59, tzinfo=UTC)  # 23:59 on 4 Dec in Moscow
    got = card.purchases({"receipts": 4, "ltv": 100001, "first_purchase": first, "last_purchase": last}, 9,
                         date(2026, 12, 6), MOSCOW)
    assert got == {"ltv": 100001, "receipts": 4, "average_check": 25000, "items_per_receipt": 2.25,
                   "frequency_30d": 20.0, "first_purchase": first.isoformat(), "last_purchase": last.isoformat(),
                   "days_since_last": 2}
    # a receipt a few minutes ahead, past midnight: at least one day, never negative
    ahead = datetime(2026, 12, 6, 21, 2, tzinfo=UTC)
    got = card.purchases({"receipts": 1, "ltv": 5, "first_purchase": ahead, "last_purchase": ahead}, 1,
                         date(2026, 12, 6), MOSCOW)
    assert (got["frequency_30d"], got["days_since_last"]) == (30.0, 0)
