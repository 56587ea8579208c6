"""The uplift of each campaign with a control group on the report page: one chart and one sentence each.

The chart puts revenue per eligible member of both groups, and the difference, with their 95 % intervals on
one scale that includes zero; the sentence is the report's `conclusion`, what the numbers allow one to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from app.core.text import amount, count, whole_amount

from . import charts
from .charts import BLUE, GREY, ORANGE, Estimate

Report = Mapping[str, Any]


def section(uplifts: Sequence[Report]) -> str:
    if not uplifts:
        return ('<p class="empty">No campaign has a control group. Give a campaign <code>control_percent</code> '
                "to measure what it causes.</p>")
    return "".join(_campaign(report) for report in uplifts)


def _estimate(label: str, figures: Report, color: str) -> Estimate | None:
    value = figures["revenue_per_member"]
    if value is None:
        return None
    ci = figures["revenue_per_member_ci"]
    low, high = (ci[0], ci[1]) if ci else (None, None)
    interval = f", 95% interval {amount(low)} to {amount(high)}" if ci else ""
    return Estimate(label, value, low, high, color, f"{label}: {amount(value)} per eligible member{interval}")


def _campaign(report: Report) -> str:
    campaign = report["campaign"]
    rows = [e for e in (_estimate("with the campaign", report["treated"], BLUE),
                        _estimate("held out", report["held_out"], GREY),
                        _estimate("difference", report["difference"], ORANGE)) if e is not None]
    title = f"{campaign['name']}: revenue per eligible member, with and without the campaign"
    chart = charts.intervals(title, rows, whole_amount) if rows else ""
    treated, held = report["treated"], report["held_out"]
    facts = (f"{count(treated['eligible_members'])} eligible members with the campaign, "
             f"{count(held['eligible_members'])} held out ({campaign['control_percent']}%); cost "
             f"{amount(report['cost']['total'])}; incremental revenue {amount(report['incremental_revenue'])}"
             f" ({_interval(report['incremental_revenue_ci'])}); return per unit of cost "
             f"{'—' if report['return_per_cost'] is None else format(report['return_per_cost'], '.2f')}.")
    return (f'<div class="uplift" id="uplift-{escape(campaign["id"])}"><h3>{escape(campaign["name"])} '
            f'<span class="sub">{escape(campaign["id"])}</span></h3>{chart}'
            f'<p class="conclusion">{escape(report["conclusion"])}</p><p class="caption">{escape(facts)}</p></div>')


def _interval(ci: list[int] | None) -> str:
    return "no interval" if ci is None else f"95% interval {amount(ci[0])} to {amount(ci[1])}"
