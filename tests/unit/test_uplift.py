"""The uplift's statistics on fixed data sets, each checked against a textbook computation with `statistics`."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal
from typing import Any

from app.reports.uplift import GroupFigures, document

Z = statistics.NormalDist().inv_cdf(0.975)  # 1.959963984540054
CAMPAIGN = {"id": "c", "name": "c", "type": "receipt_discount", "control_percent": 10}


def group(revenues: list[int], receipts: int | None = None) -> GroupFigures:
    return GroupFigures(len(revenues), receipts or len(revenues), sum(revenues), Decimal(sum(r * r for r in revenues)),
                        0)


def report(treated: list[int], held: list[int], discount: int = 0, points: int = 0) -> dict[str, Any]:
    return document(CAMPAIGN, group(treated), group(held), {"discount": discount, "points": points})


# revenue per member, minor units: a fixed data set
TREATED = [120_000, 95_000, 143_000, 88_000, 110_000, 130_000, 101_000, 99_000]
HELD = [90_000, 105_000, 80_000, 99_000, 85_000]


def test_each_groups_interval_is_the_normal_approximation() -> None:
    got = report(TREATED, HELD)
    for revenues, name in ((TREATED, "treated"), (HELD, "held_out")):
        mean, half = statistics.mean(revenues), Z * statistics.stdev(revenues) / math.sqrt(len(revenues))
        assert got[name]["revenue_per_member"] == round(mean)
        assert got[name]["revenue_per_member_ci"] == [round(mean - half), round(mean + half)]


def test_the_difference_has_welchs_standard_error() -> None:
    got = report(TREATED, HELD, discount=50_000, points=10_000)
    difference = statistics.mean(TREATED) - statistics.mean(HELD)  # 110,750 − 91,800 = 18,950
    assert difference == 18_950
    error = math.sqrt(statistics.variance(TREATED) / 8 + statistics.variance(HELD) / 5)
    assert got["difference"]["revenue_per_member"] == 18_950
    assert got["difference"]["revenue_per_member_ci"] == [round(difference - Z * error), round(difference + Z * error)]
    assert got["incremental_revenue"] == 18_950 * 8  # 151,600
    assert got["cost"] == {"discount": 50_000, "points": 10_000, "total": 60_000}
    assert got["return_per_cost"] == round(151_600 / 60_000, 4) == 2.5267
    assert got["incremental_revenue_ci"] == [round((difference - Z * error) * 8), round((difference + Z * error) * 8)]


def test_the_sentence_says_what_the_numbers_allow() -> None:
    assert report(TREATED, HELD)["conclusion"].startswith("The campaign raised revenue")
    noisy = report([100_000, 50_000, 150_000], [90_000, 60_000, 140_000])
    assert noisy["conclusion"].startswith("The difference is within noise")
    lower = report([50_000, 51_000, 49_000], [100_000, 101_000, 99_000])
    assert lower["conclusion"].startswith("Members who got the campaign spent less")
    # the effect is certain but the cost exceeds even its upper end: 8 × 1,000 at most, cost 1,000,000
    costly = report([101_000, 101_000, 101_000, 101_001], [100_000, 100_000, 100_000, 100_001], discount=1_000_000)
    assert costly["conclusion"].startswith("The campaign raised revenue, but by less than it cost")
    cheap = report(TREATED, HELD, discount=1)
    assert cheap["conclusion"].startswith("The campaign raised revenue by more than it cost")


def test_too_few_members_and_no_control_group() -> None:
    few = report([100_000], [90_000])
    assert few["treated"]["revenue_per_member_ci"] is None and few["difference"]["revenue_per_member_ci"] is None
    assert few["return_per_cost"] is None and few["conclusion"].startswith("Too few eligible members")
    none = document({**CAMPAIGN, "control_percent": 0}, group([1, 2]), GroupFigures(), {"discount": 0, "points": 0})
    assert "no control group" in none["conclusion"] and none["held_out"]["revenue_per_member"] is None


def test_equal_revenues_have_a_zero_width_interval() -> None:
    got = report([100_000] * 4, [100_000] * 3)
    assert got["treated"]["revenue_per_member_ci"] == [100_000, 100_000]
    assert got["difference"]["revenue_per_member_ci"] == [0, 0]
