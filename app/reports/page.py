"""The marketer's report page: one self-contained HTML5 document from the report dicts.

Pure: no I/O, standard library only. Everything that comes from data is escaped; the page loads nothing
(no scripts, fonts, images or links to other origins), so it reads the same offline, printed or saved.
Money and points arrive as integers in minor units and are formatted with integer arithmetic only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from app.core.text import DASH, amount, count, whole_amount

from . import charts, uplift_page
from .charts import AMBER, BLUE, GREEN, GREY, ORANGE, Part, Row, Series

Report = Mapping[str, Any]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NO_DATA = '<p class="empty">No data for this period.</p>'


# --- formatting -------------------------------------------------------------------------------------


def share(value: float | None) -> str:
    """A share 0..1 as a percentage with one decimal (a ratio, not money: a float is fine)."""
    return DASH if value is None else f"{value * 100:.1f}%"


def decimal(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def day_label(iso_day: str) -> str:
    """ "2026-11-01" (or a timestamp on that day) → "1 Nov"."""
    day = date.fromisoformat(iso_day[:10])
    return f"{day.day} {_MONTHS[day.month - 1]}"


def long_day(iso_day: str) -> str:
    return f"{day_label(iso_day)} {iso_day[:4]}"


def moment(iso: str) -> str:
    """An ISO timestamp as "27 Nov 2026, 07:30 (+00:00)"; anything unparsable is shown as given."""
    try:
        at = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    offset = at.isoformat()[19:].lstrip(".0123456789") or "local"
    return f"{long_day(at.date().isoformat())}, {at:%H:%M} ({offset})"


# --- the document -----------------------------------------------------------------------------------


def render(program: Report, campaigns: Report, segments: Report, stores: Report | None = None,
           customers: Report | None = None, categories: Report | None = None, skus: Report | None = None,
           uplifts: Sequence[Report] | None = None) -> str:
    """The whole page for one period: header, KPI cards, daily charts, segments, RFM grid, campaigns, and
    with their reports the uplift of campaigns with a control group, the stores, the top customers and the ABC
    analysis (categories and SKUs by revenue)."""
    body = "".join((
        _header(program),
        _kpis(program),
        _section("Receipts per day", _receipts_chart(program["days"])),
        _section("Points per day", _points_chart(program["days"])),
        '<div class="two">',
        _section("Segment sizes", _segments_chart(segments)),
        _section("RFM grid", _rfm_grid(segments)),
        "</div>",
        _section("Lifetime value deciles", _ltv_deciles(segments)),
        _section("Segments: share of receipts and of revenue", _segment_shares_chart(program)),
        _section("Campaign cost", _campaign_chart(campaigns["campaigns"]) + _campaign_table(campaigns)),
        _section("Did the campaign work? Control groups", uplift_page.section(uplifts)) if uplifts is not None else "",
        _section("Stores", _stores(stores)) if stores is not None else "",
        _section("Top customers by amount", _customers(customers)) if customers is not None else "",
        _section("ABC analysis by revenue", _abc(categories, skus)) if categories is not None else "",
    ))
    return document(f"Loyalty report {_period_text(program['period'])}", body)


def document(title: str, body: str, head: str = "") -> str:
    """A whole self-contained page around `body` (already escaped), with the shared style; `head` (markup, e.g.
    the console's `<meta http-equiv="refresh">`) goes at the end of the head."""
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style>{head}</head><body><main>{body}</main></body></html>\n")


def _section(title: str, content: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{content}</section>"


section = _section  # the members page (members_page.py) and the card's (app/customers/page.py) build on these


def _period_text(period: Report) -> str:
    return f"{long_day(period['from'])} – {long_day(period['to'])}"


def _header(program: Report) -> str:
    period = program["period"]
    facts = (("Period", _period_text(period)), ("Store", period.get("store") or "all stores"),
             ("Time zone", period.get("time_zone") or "UTC"), ("As of", moment(program["as_of"])))
    items = "".join(f"<div><dt>{escape(name)}</dt><dd>{escape(str(value))}</dd></div>" for name, value in facts)
    return f'<header><h1>Loyalty program report</h1><dl class="facts">{items}</dl></header>'


# --- KPI cards --------------------------------------------------------------------------------------


def _card(key: str, label: str, value: str, note: str = "") -> str:
    sub = f'<div class="note">{escape(note)}</div>' if note else ""
    return (f'<div class="kpi"><div class="label">{escape(label)}</div>'
            f'<div class="value" data-kpi="{key}">{escape(value)}</div>{sub}</div>')


kpi_card = _card


def _kpis(program: Report) -> str:
    groups = (("Sales", _sales_cards(program)), ("Average check", _check_cards(program)),
              ("Members", _member_cards(program)), ("Retention", _retention_cards(program)),
              ("Per member", _per_member_cards(program)), ("Points", _points_cards(program)),
              ("Liability", _liability_cards(program)))
    rows = "".join(f'<section class="group"><h2>{name}</h2><div class="kpis">{"".join(cards)}</div></section>'
                   for name, cards in groups)
    return f'<div class="groups">{rows}</div>'


def _sales_cards(program: Report) -> tuple[str, ...]:
    receipts, revenue = program["receipts"], program["revenue"]
    return (
        _card("receipts", "Receipts", count(receipts["total"]),
              f"{count(receipts['with_card'])} with card · {count(receipts['without_card'])} without"),
        _card("revenue", "Revenue", amount(revenue["total"]), f"{amount(revenue['with_card'])} with card"),
        _card("identified_share", "Identified share", share(receipts["identified_share"]), "receipts with a card"),
        _card("items_per_receipt", "Items per receipt", decimal(receipts["items_per_receipt"]),
              "receipt lines, on average"),
    )


def _check_cards(program: Report) -> tuple[str, ...]:
    check = program["average_check"]
    return (
        _card("average_check", "All receipts", amount(check["all"])),
        _card("average_check_with_card", "With card", amount(check["with_card"])),
        _card("average_check_without_card", "Without card", amount(check["without_card"])),
        _card("card_lift", "Card holders vs. others", lift(check["with_card"], check["without_card"]),
              "difference in average check"),
    )


def _member_cards(program: Report) -> tuple[str, ...]:
    members = program["members"]
    return (
        _card("members", "Members", count(members["total"]), "at the end of the period"),
        _card("active_members", "Active members", count(members["active"]), "bought in this period"),
        _card("active_share", "Active share", share(members["active_share"]), "of all members"),
        _card("new_members", "New members", count(members["new"]), "joined in this period"),
    )


def _retention_cards(program: Report) -> tuple[str, ...]:
    kpis = program.get("kpis") or {}
    return (
        _card("churned", "Churned", count(kpis.get("churned")), "passed into churn in this period"),
        _card("new_buyers", "New buyers", count(kpis.get("new_buyers")), "first purchase in this period"),
        _card("churn_to_new", "Churned per new buyer", decimal(kpis.get("churn_to_new")),
              f"{count(kpis.get('stable'))} stable: bought before and in this period"),
        _card("churn_to_stable", "Churned per stable member", decimal(kpis.get("churn_to_stable"))),
    )


def _per_member_cards(program: Report) -> tuple[str, ...]:
    kpis = program.get("kpis") or {}
    return (
        _card("revenue_per_member", "Revenue per member", amount(kpis.get("revenue_per_member")),
              "card revenue per active member"),
        _card("points_cost", "Points cost", amount(kpis.get("points_cost")), "accrued and bonus less reversed"),
        _card("points_cost_per_member", "Points cost per member", amount(kpis.get("points_cost_per_member")),
              "per active member"),
    )


def _points_cards(program: Report) -> tuple[str, ...]:
    points = program["points"]
    return (
        _card("points_accrued", "Accrued", amount(points["accrued"]), f"plus {amount(points['bonus'])} bonus points"),
        _card("points_redeemed", "Redeemed", amount(points["redeemed"]),
              f"{amount(points['returned'])} given back by refunds"),
        _card("points_expired", "Expired", amount(points["expired"])),
        _card("points_reversed", "Reversed", amount(points["reversed"]), "taken back by refunds"),
    )


def _liability_cards(program: Report) -> tuple[str, ...]:
    liability = program["liability"]
    return (
        _card("liability", "Outstanding", amount(liability["outstanding"]), "points members hold now"),
        _card("expiring_30_days", "Expiring in 30 days", amount(liability["expiring_30_days"]), "from today"),
        _card("expiring_90_days", "Expiring in 90 days", amount(liability["expiring_90_days"]), "from today"),
    )


# --- daily charts -----------------------------------------------------------------------------------


def dense_days(days: Sequence[Report]) -> list[Report]:
    """The days in order, with any missing day between the first and the last filled with zeros, so that
    one column is one day."""
    by_day = {row["day"]: row for row in days}
    if not by_day:
        return []
    first, last = date.fromisoformat(min(by_day)), date.fromisoformat(max(by_day))
    filled = []
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        filled.append(by_day.get(day) or {"day": day, "receipts": 0, "revenue": 0, "points_accrued": 0,
                                          "points_redeemed": 0})
    return filled


def _receipts_chart(days: Sequence[Report]) -> str:
    rows = dense_days(days)
    if not any(row["receipts"] for row in rows):
        return _NO_DATA
    series = [Series("receipts", BLUE, [row["receipts"] for row in rows])]
    return charts.columns("Receipts per day", [day_label(row["day"]) for row in rows], series, count, count)


def _points_chart(days: Sequence[Report]) -> str:
    rows = dense_days(days)
    if not any(row["points_accrued"] or row["points_redeemed"] for row in rows):
        return _NO_DATA
    series = [Series("points accrued", GREEN, [row["points_accrued"] for row in rows]),
              Series("points redeemed", ORANGE, [row["points_redeemed"] for row in rows])]
    return charts.columns("Points accrued and redeemed per day", [day_label(row["day"]) for row in rows], series,
                          whole_amount, amount)


# --- segments ---------------------------------------------------------------------------------------

_SEGMENT_COLORS = {"newcomer": "#0ea5e9", "loyal": GREEN, "pre_churn": AMBER, "churn": "#dc2626", "none": GREY}


_SEGMENT_NAMES = {"newcomer": "Newcomers", "loyal": "Loyal", "pre_churn": "About to leave", "churn": "Churned",
                  "none": "No purchases"}
SEGMENT_NAMES = _SEGMENT_NAMES


def _segment_definitions(settings: Report) -> str:
    """What the segments mean with this program's settings, in the marketer's words."""
    new, pre, churn = settings.get("newcomer_days"), settings.get("pre_churn_days"), settings.get("churn_days")
    return (f"Newcomers: first purchase less than {new} days ago. Loyal: bought in the last {pre} days. "
            f"About to leave: no purchase for {pre} to {churn} days. Churned: none for {churn} days or more.")


def _segments_chart(segments: Report) -> str:
    cvm = segments.get("cvm") or []
    if not cvm:
        return _NO_DATA
    total = sum(row["members"] for row in cvm)
    rows = []
    for row in cvm:
        members = row["members"]
        part = f"{members * 100 / total:.1f}%" if total else DASH
        name = _SEGMENT_NAMES.get(row["segment"], row["segment"])
        tooltip = f"{name}: {count(members)} members, revenue {amount(row.get('revenue'))}"
        rows.append(Row(name, [Part(members, _SEGMENT_COLORS.get(row["segment"], BLUE), tooltip)],
                        f"{count(members)} · {part}"))
    caption = (f"{count(segments.get('members'))} members as of {moment(segments['as_of'])}. "
               f"{_segment_definitions(segments.get('settings') or {})}")
    chart = charts.bars("Members per customer segment", rows, label_width=130, width=560, note_width=120)
    links = " · ".join(f'<a href="/reports/segments/{escape(row["segment"])}">'
                       f'{escape(_SEGMENT_NAMES.get(row["segment"], row["segment"]))}</a>' for row in cvm)
    return (f'{chart}<p class="caption">{escape(caption)}</p>'
            f'<p class="members">Members, each with their card: {links}</p>')


def basis_points(value: float | None) -> int:
    """A share 0..1 as whole hundredths of a percent, for a chart's integer scale."""
    return 0 if value is None else round(value * 10000)


def percent_of_basis_points(value: int) -> str:
    return f"{value / 100:.1f}%".replace(".0%", "%")


def _segment_shares_chart(program: Report) -> str:
    rows = (program.get("kpis") or {}).get("segments") or []
    if not any(row["receipts"] for row in rows):
        return _NO_DATA
    labels = [_SEGMENT_NAMES.get(row["segment"], row["segment"]) for row in rows]
    series = [Series("share of receipts", BLUE, [basis_points(row["receipts_share"]) for row in rows]),
              Series("share of revenue", GREEN, [basis_points(row["revenue_share"]) for row in rows])]
    chart = charts.columns("Share of receipts and of revenue per customer segment", labels, series,
                           percent_of_basis_points, percent_of_basis_points)
    return (f'{chart}<p class="caption">All the purchases of the members in each segment now. A segment whose '
            "share of revenue is above its share of receipts brings bigger checks.</p>")


# --- stores -----------------------------------------------------------------------------------------

_STORE_BARS = 15  # stores in the revenue chart; the table lists them all
_STORE_SERIES = (BLUE, GREEN, ORANGE)  # the busiest stores' receipts per day
_STORE_COLUMNS = ("Store", "Receipts", "Revenue", "Average check", "Identified share", "Registrations",
                  "Members", "Purchases per member per 30 days")


def _stores(report: Report) -> str:
    rows = report.get("stores") or []
    if not rows:
        return _NO_DATA
    bars = [Row(row["store"], [Part(row["revenue"], BLUE, f"{row['store']}: revenue {amount(row['revenue'])}")],
                f"{amount(row['revenue'])} · {count(row['receipts'])} receipts") for row in rows[:_STORE_BARS]]
    more = f" ({len(rows) - _STORE_BARS} more in the table)" if len(rows) > _STORE_BARS else ""
    chart = charts.bars("Revenue per store", bars, label_width=200)
    return (f'<p class="caption">Revenue per store, highest first{escape(more)}.</p>{chart}'
            f"{_store_days_chart(rows, report['period'])}{_store_table(report)}")


def _store_days_chart(rows: Sequence[Report], period: Report) -> str:
    """Receipts per day of the busiest stores, every day of the period."""
    busiest = rows[:len(_STORE_SERIES)]
    first, last = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    days = [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]
    series = []
    for row, color in zip(busiest, _STORE_SERIES, strict=False):
        by_day = {day["day"]: day["receipts"] for day in row["days"]}
        series.append(Series(row["store"], color, [by_day.get(day, 0) for day in days]))
    chart = charts.columns("Receipts per day of the busiest stores", [day_label(day) for day in days], series,
                           count, count)
    return f'<p class="caption">Receipts per day of the {len(series)} busiest stores.</p>{chart}'


def _store_table(report: Report) -> str:
    head = "".join(f'<th scope="col">{name}</th>' for name in _STORE_COLUMNS)
    body = "".join(
        f'<tr data-store="{escape(row["store"])}"><th scope="row">{escape(row["store"])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in (
            count(row["receipts"]), amount(row["revenue"]), amount(row["average_check"]),
            share(row["identified_share"]), count(row["registrations"]), count(row["members"]),
            decimal(row["purchase_frequency"])))
        + "</tr>" for row in report["stores"])
    total = report["total"]
    foot = (f'<tr><th scope="row">All stores</th><td>{count(total["receipts"])}</td><td>{amount(total["revenue"])}'
            f'</td><td>{amount(total["average_check"])}</td><td>{share(total["identified_share"])}</td>'
            f'<td>{count(total["registrations"])}</td><td>{count(total["members"])}</td>'
            f'<td>{decimal(total["purchase_frequency"])}</td></tr>')
    caption = (f"Registrations: accounts opened in the period, at the store of their first purchase "
               f"({count(total['registrations_without_purchase'])} have not bought yet). Members: those who "
               "bought at the store in the period.")
    return (f'<div class="scroll"><table class="wide"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody><tfoot>{foot}</tfoot></table></div>")


# --- customers --------------------------------------------------------------------------------------

_CUSTOMER_COLUMNS = ("Card", "Receipts", "Amount", "Items per receipt", "Lifetime value", "Last purchase")


def _customers(report: Report) -> str:
    rows = report.get("customers") or []
    if not rows:
        return _NO_DATA
    bars = [Row(row["card"], [Part(row["amount"], GREEN, f"{row['card']}: {amount(row['amount'])}")],
                amount(row["amount"])) for row in rows]
    head = "".join(f'<th scope="col">{name}</th>' for name in _CUSTOMER_COLUMNS)
    body = "".join(
        f'<tr data-card="{escape(row["card"])}"><th scope="row"><a href="/reports/customers/{escape(row["card"])}">'
        f'{escape(row["card"])}</a></th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in (
            count(row["receipts"]), amount(row["amount"]), decimal(row["items_per_receipt"]), amount(row["ltv"]),
            long_day(row["last_purchase_at"])))
        + "</tr>" for row in rows)
    return (charts.bars("Top customers by amount in the period", bars, label_width=220)
            + f'<div class="scroll"><table class="wide"><caption>The members who spent most in this period; '
            f"lifetime value is the revenue of all their purchases.</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


# --- ABC --------------------------------------------------------------------------------------------

_ABC_BARS = 20  # categories in the chart; the classes table counts them all
_CLASS_COLORS = {"A": GREEN, "B": AMBER, "C": GREY}
_NO_KEY = "(none)"


def _abc(categories: Report, skus: Report | None) -> str:
    rows = categories.get("rows") or []
    if not rows:
        return _NO_DATA
    bars = [Row(row["key"] or _NO_KEY,
                [Part(int(row["value"]), _CLASS_COLORS[row["class"]],
                      f"{row['key'] or _NO_KEY}: class {row['class']}, revenue {amount(int(row['value']))}")],
                f"{row['class']} · {share(row['share'])} · {share(row['cumulative_share'])} cumulative")
            for row in rows[:_ABC_BARS]]
    more = f" ({len(rows) - _ABC_BARS} more are counted in the table)" if len(rows) > _ABC_BARS else ""
    legend = "".join(f'<span class="swatch" style="background:{color}"></span>{name} '
                     for name, color in _CLASS_COLORS.items())
    caption = ("Categories by revenue, highest first" + more + ". A: the categories that make the first 80% of "
               "revenue (the one that crosses 80% included), B: the next 15%, C: the rest.")
    chart = charts.bars("Revenue per category, classed A, B and C", bars, label_width=260, note_width=260)
    return (f'<p class="caption">{escape(caption)}</p><p class="legend">{legend}</p>{chart}'
            f"{_abc_classes(categories, skus)}")


def _abc_classes(categories: Report, skus: Report | None) -> str:
    """Per class: how many categories (and SKUs) it holds and their share of revenue."""
    reports = [("categories", categories)] + ([("SKUs", skus)] if skus is not None else [])
    head = "".join(f'<th scope="col">{escape(name)}</th><th scope="col">Revenue share</th>' for name, _ in reports)
    body = "".join(
        f'<tr data-abc-class="{name}"><th scope="row">{name}</th>'
        + "".join(f"<td>{count(c['keys'])}</td><td>{share(c['share'])}</td>"
                  for _, report in reports for c in report["classes"] if c["class"] == name)
        + "</tr>" for name in _CLASS_COLORS)
    return (f'<table class="wide"><caption>Categories and SKUs in each class, with their share of revenue.'
            f'</caption><thead><tr><th scope="col">Class</th>{head}</tr></thead><tbody>{body}</tbody></table>')


# --- RFM grid ---------------------------------------------------------------------------------------


def rfm_members(cells: Sequence[Report]) -> dict[tuple[int, int], tuple[int, int]]:
    """(recency, frequency) → (members, revenue), summed over the monetary scores."""
    grid: dict[tuple[int, int], tuple[int, int]] = {}
    for cell in cells:
        members, revenue = grid.get((cell["r"], cell["f"]), (0, 0))
        grid[(cell["r"], cell["f"])] = (members + cell["members"], revenue + (cell.get("revenue") or 0))
    return grid


def _rfm_grid(segments: Report) -> str:
    rfm = segments.get("rfm") or {}
    grid = rfm_members(rfm.get("cells") or [])
    if not grid:
        return _NO_DATA
    boundaries = rfm.get("boundaries") or {}
    top = max(5, len(boundaries.get("recency") or ()) + 1, len(boundaries.get("frequency") or ()) + 1,
              *(score for key in grid for score in key))
    most = max(members for members, _ in grid.values()) or 1
    head = "".join(f'<th scope="col">F{f}</th>' for f in range(1, top + 1))
    rows = []
    for r in range(top, 0, -1):
        cells = "".join(_rfm_cell(r, f, *grid.get((r, f), (0, 0)), most) for f in range(1, top + 1))
        rows.append(f'<tr><th scope="row">R{r}</th>{cells}</tr>')
    return (f'<table class="rfm"><caption>Members by recency (rows, R{top} bought most recently) and frequency '
            f"(columns, F{top} buys most often), summed over monetary scores</caption>"
            f'<thead><tr><th scope="col"></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f"{_rfm_boundaries(boundaries)}")


def _ltv_deciles(segments: Report) -> str:
    deciles = [row for row in segments.get("ltv_deciles") or [] if row["members"]]
    if not deciles:
        return _NO_DATA
    head = "".join(f'<th scope="col">{name}</th>' for name in
                   ("Decile", "Members", "Revenue", "Share of revenue", "Lifetime value from", "to"))
    body = "".join(
        f'<tr data-decile="{row["decile"]}"><th scope="row">{row["decile"]}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in (
            count(row["members"]), amount(row["revenue"]), share(row["revenue_share"]), amount(row["min_ltv"]),
            amount(row["max_ltv"])))
        + "</tr>" for row in deciles)
    return (f'<div class="scroll"><table class="wide"><caption>Buyers ranked by lifetime value in ten groups of equal '
            f"size, 1 the most valuable tenth.</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            "</table></div>")


def _rfm_cell(r: int, f: int, members: int, revenue: int, most: int) -> str:
    # the shade grows with the count; white text once the shade is dark enough to need it
    alpha = 0.06 + 0.84 * members / most if members else 0.0
    ink = "#ffffff" if alpha > 0.5 else "#111827"
    tip = f"R{r} F{f}: {count(members)} members, revenue {amount(revenue)}"
    return (f'<td style="background:rgba(37,99,235,{alpha:.2f});color:{ink}" title="{escape(tip)}">'
            f"{count(members)}</td>")


def _rfm_boundaries(boundaries: Report) -> str:
    """The quintile cut-offs: a score is one plus the number of cut-offs the member is past."""
    parts = []
    if boundaries.get("recency"):
        parts.append("last purchase after " + ", ".join(long_day(d) for d in boundaries["recency"]))
    if boundaries.get("frequency"):
        parts.append("more than " + ", ".join(count(n) for n in boundaries["frequency"]) + " purchases")
    if boundaries.get("monetary"):
        parts.append("spent more than " + ", ".join(amount(v) for v in boundaries["monetary"]))
    return f'<p class="caption">A score goes up one step past each cut-off: {escape("; ".join(parts))}.</p>' \
        if parts else ""


# --- campaigns --------------------------------------------------------------------------------------


def _cost(campaign: Report) -> int:
    return int(campaign["discount"]) + int(campaign["points"])


def _campaign_chart(campaigns: Sequence[Report]) -> str:
    """Bars for the campaigns that cost something; the table below lists every campaign."""
    costly = sorted((c for c in campaigns if _cost(c)), key=_cost, reverse=True)
    if not costly:
        return '<p class="empty">No campaign gave a discount or points in this period.</p>'
    rows = [
        Row(c["name"], [Part(c["discount"], BLUE, f"{c['name']}: discount {amount(c['discount'])}"),
                        Part(c["points"], AMBER, f"{c['name']}: points {amount(c['points'])}")],
            amount(_cost(c)))
        for c in costly
    ]
    legend = ('<p class="legend"><span class="swatch discount"></span>discount '
              '<span class="swatch points"></span>points</p>')
    return legend + charts.bars("Campaign cost: discount and points per campaign", rows, label_width=340)


_COLUMNS = ("Campaign", "Receipts", "Revenue", "Average check", "Without campaign", "Lift", "Discount",
            "Points", "Coupon uses", "Cost")


def lift(touched: int | None, untouched: int | None) -> str:
    """How much higher the average check is with the campaign than without, in percent."""
    if touched is None or not untouched:
        return DASH
    return f"{(touched - untouched) * 100 / untouched:+.1f}%"


def _campaign_row(c: Report) -> str:
    untouched = c.get("untouched") or {}
    cells = (count(c["receipts"]), amount(c["revenue"]), amount(c["average_check"]),
             amount(untouched.get("average_check")), lift(c["average_check"], untouched.get("average_check")),
             amount(c["discount"]), amount(c["points"]), count(c["coupon_uses"]), amount(_cost(c)))
    kind = f' · {str(c["type"]).replace("_", " ")}' if c.get("type") else " · no longer in the program"
    name = f'<th scope="row">{escape(c["name"])}<span class="sub">{escape(c["id"] + kind)}</span></th>'
    return f"<tr>{name}{''.join(f'<td>{escape(cell)}</td>' for cell in cells)}</tr>"


def _campaign_table(report: Report) -> str:
    campaigns = sorted(report["campaigns"], key=_cost, reverse=True)
    if not campaigns:
        return ""
    head = "".join(f'<th scope="col">{name}</th>' for name in _COLUMNS)
    totals = (amount(sum(c["discount"] for c in campaigns)), amount(sum(c["points"] for c in campaigns)), "",
              amount(sum(_cost(c) for c in campaigns)))
    foot = (f'<tr><th scope="row">All campaigns</th><td colspan="5"></td>'
            f"{''.join(f'<td>{cell}</td>' for cell in totals)}</tr>")
    receipts = report["receipts"]
    caption = (f"Every receipt in the period: {count(receipts['total'])}, revenue {amount(receipts['revenue'])}, "
               f"average check {amount(receipts['average_check'])}. “Without campaign”: the average check of "
               "the receipts the campaign did not touch; “Lift”: how much higher the check is with it.")
    return (f'<div class="scroll"><table class="campaigns"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(_campaign_row(c) for c in campaigns)}</tbody>"
            f"<tfoot>{foot}</tfoot></table></div>")


# --- style ------------------------------------------------------------------------------------------

STYLE = """
:root{color-scheme:light;--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--card:#f9fafb}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--ink);
 font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:26px;margin:0 0 10px}
h2{font-size:18px;margin:0 0 12px}
section{margin-top:24px}
.groups{margin-top:20px}
.group{display:grid;grid-template-columns:130px 1fr;gap:16px;align-items:center;margin-top:12px}
.group h2{margin:0;font-size:16px}
header{border-bottom:1px solid var(--line);padding-bottom:16px}
.facts{display:flex;flex-wrap:wrap;gap:8px 32px;margin:0}
.facts dt{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.facts dd{margin:0;font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:40px}
.two>section{min-width:0}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.kpi .label{font-size:13px;color:var(--muted)}
.kpi .value{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.kpi .note{font-size:12px;color:var(--muted)}
svg{display:block;width:100%;height:auto}
.empty{color:var(--muted);background:var(--card);border:1px dashed var(--line);border-radius:10px;padding:20px}
.caption,caption{font-size:13px;color:var(--muted);text-align:left;margin:8px 0}
caption{caption-side:bottom}
.legend{font-size:13px;margin:0 0 6px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 6px -1px 12px}
.swatch:first-child{margin-left:0}
.swatch.discount{background:#2563eb}.swatch.points{background:#d97706}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th[scope=row]{text-align:left;white-space:normal}
thead th{font-size:12px;color:var(--muted);font-weight:600;vertical-align:bottom}
.campaigns thead th:first-child{text-align:left}
.wide{width:100%;font-size:13.5px;margin-top:12px}
.wide thead th{white-space:normal;text-align:right}
.campaigns{width:100%;font-size:13.5px;margin-top:12px}
.campaigns thead th{white-space:normal;text-align:right}
.campaigns tbody th{min-width:230px}
.campaigns .sub{display:block;font-size:12px;color:var(--muted);font-weight:400}
.campaigns tfoot th,.campaigns tfoot td{font-weight:650;border-bottom:0}
.scroll{overflow-x:auto}
.uplift{margin-top:18px}
.uplift h3{font-size:16px;margin:0 0 6px}
.uplift h3 .sub{font-size:12px;color:var(--muted);font-weight:400;margin-left:8px}
.conclusion{font-weight:600;margin:8px 0 0}
.rfm td{width:84px;height:40px;text-align:center;border:2px solid #fff;border-radius:6px}
.rfm th[scope=row]{text-align:right;color:var(--muted)}
.rfm thead th{text-align:center}
"""
