"""The uplift of a campaign with a control group: its eligible members who got it against those held out.

Revenue per eligible member is a mean over members; its 95 % interval is the normal approximation
mean ± 1.96 × s / √n (s: the sample standard deviation, n − 1). The difference of the two means has Welch's
standard error √(s₁²/n₁ + s₀²/n₀) with the same normal critical value 1.96 (not Student's t: the groups are
members by the thousand, where the two differ in the third digit). Floats are fine here: these are estimates
for people to read, printed as whole minor units, never money that moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.core.text import estimate

__all__ = ["Z_95", "GroupFigures", "conclusion", "document", "interval"]

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """One group's eligible members and the sums the report needs of their revenue per member."""

    members: int = 0
    receipts: int = 0
    revenue: int = 0
    revenue_squares: Decimal = Decimal(0)  # Σ (a member's revenue)², exact
    repeat_buyers: int = 0

    @property
    def mean(self) -> float | None:
        return self.revenue / self.members if self.members else None

    @property
    def variance(self) -> float | None:
        """The sample variance of revenue per member (n − 1), from exact sums; None below two members."""
        if self.members < 2:
            return None
        spread = self.revenue_squares - Decimal(self.revenue) * self.revenue / self.members
        # never below 0: equal revenues give 0, and the division above may round the last of 28 digits
        return max(0.0, float(spread / (self.members - 1)))


def interval(center: float, standard_error: float) -> tuple[float, float]:
    return center - Z_95 * standard_error, center + Z_95 * standard_error


def _minor(value: float | None) -> int | None:
    """An estimate in whole minor units, rounded half away from zero (floats only: see the module's note)."""
    if value is None:
        return None
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _group(figures: GroupFigures) -> dict[str, Any]:
    mean, variance = figures.mean, figures.variance
    low = high = None
    if mean is not None and variance is not None:
        low, high = interval(mean, math.sqrt(variance / figures.members))
    return {"eligible_members": figures.members, "buyers": figures.members, "repeat_buyers": figures.repeat_buyers,
            "receipts": figures.receipts, "revenue": figures.revenue,
            "revenue_per_member": _minor(mean), "revenue_per_member_ci": [_minor(low), _minor(high)]
            if low is not None else None}


def document(campaign: dict[str, Any], treated: GroupFigures, held_out: GroupFigures, cost: dict[str, int]
             ) -> dict[str, Any]:
    """The report's figures (without period and as_of) from the two groups and the campaign's cost."""
    total_cost = cost["discount"] + cost["points"]
    difference = low = high = None
    if treated.variance is not None and held_out.variance is not None:
        assert treated.mean is not None and held_out.mean is not None
        difference = treated.mean - held_out.mean
        error = math.sqrt(treated.variance / treated.members + held_out.variance / held_out.members)
        low, high = interval(difference, error)
    incremental = difference * treated.members if difference is not None else None
    return {
        "campaign": campaign,
        "treated": _group(treated),
        "held_out": _group(held_out),
        "difference": {
            "revenue_per_member": _minor(difference),
            "revenue_per_member_ci": [_minor(low), _minor(high)] if low is not None else None,
            "method": "welch_normal_95",
        },
        "cost": {"discount": cost["discount"], "points": cost["points"], "total": total_cost},
        "incremental_revenue": _minor(incremental),
        "incremental_revenue_ci": ([_minor(low * treated.members), _minor(high * treated.members)]
                                   if low is not None and high is not None else None),
        "return_per_cost": round(incremental / total_cost, 4) if incremental is not None and total_cost else None,
        "conclusion": conclusion(campaign["control_percent"], treated, held_out, low, high, total_cost),
    }


def conclusion(control_percent: int | None, treated: GroupFigures, held_out: GroupFigures, low: float | None,
               high: float | None, cost: int) -> str:
    """A plain sentence of what the numbers allow one to say (the report page and the CLI show it)."""
    if not control_percent and not held_out.members:
        return "This campaign has no control group (control_percent), so what it caused cannot be measured."
    if low is None or high is None:
        return ("Too few eligible members to compare: each group needs at least two "
                f"(now {treated.members} with the campaign, {held_out.members} held out).")
    span = f"between {estimate(low)} and {estimate(high)} per eligible member (95% confidence)"
    if low <= 0 <= high:
        return (f"The difference is within noise: the campaign changed revenue by {span}, an interval that "
                "includes no change. These numbers do not show that it worked; a longer period or a larger "
                "control group would narrow the interval.")
    least, most = low * treated.members, high * treated.members
    total = f"about {estimate(least)} to {estimate(most)} in all, against a cost of {estimate(cost)}"
    if high < 0:
        return f"Members who got the campaign spent less than those held out: {span}, {total}."
    if least > cost:
        verdict = "The campaign raised revenue by more than it cost"
    elif most < cost:
        verdict = "The campaign raised revenue, but by less than it cost"
    else:
        verdict = "The campaign raised revenue; whether by more than it cost is within noise"
    return f"{verdict}: {span}, {total}."
