"""The customer card as a page for people (`GET /reports/customers/{card}`, web.py): value, habits, points,
scores and profile, as GET /v1/accounts/{card}/insights answers them.

Pure, as the report page (app/reports/page.py, whose formatting, style and charts it shares): everything from
data is escaped, nothing is loaded from elsewhere; links stay on this service (`/reports/...`).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from app.core.text import amount, count
from app.reports import charts
from app.reports.charts import BLUE, GREEN, Part, Row
from app.reports.members_page import segment_link
from app.reports.page import SEGMENT_NAMES, Report, decimal, document, kpi_card, long_day, moment, section, share

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def render_card(card: Report) -> str:
    """One customer: value, habits, points, scores and profile."""
    number = card["card"]
    facts = (("Segment", SEGMENT_NAMES.get(card["segment"], card["segment"])), ("Tier", card["tier"]),
             ("Time zone", card["time_zone"]), ("As of", moment(card["as_of"])))
    items = "".join(f"<div><dt>{escape(name)}</dt><dd>{escape(str(value))}</dd></div>" for name, value in facts)
    back = segment_link(card["segment"], f"Back to {SEGMENT_NAMES.get(card['segment'], card['segment'])}")
    header = f'<header><h1>Customer {escape(number)}</h1><dl class="facts">{items}</dl><p>{back}</p></header>'
    body = "".join((
        header,
        section("Value", _cards(_value_cards(card))),
        section("Points", _cards(_points_cards(card["points"]))),
        '<div class="two">',
        section("Receipts per weekday", _clock_chart(_WEEKDAYS, card["weekdays"], "Receipts per weekday")),
        section("Receipts per hour", _clock_chart([f"{hour:02d}" for hour in range(24)], card["hours"],
                                                   "Receipts per hour of the day")),
        "</div>",
        section("Top categories", _categories(card["top_categories"])),
        section("Profile", _profile(card["profile"])),
    ))
    return document(f"Customer {number}", body)


def _cards(cards: Sequence[str]) -> str:
    return f'<div class="kpis">{"".join(cards)}</div>'


def _value_cards(card: Report) -> list[str]:
    rfm = card.get("rfm")
    scores = f"R{rfm['r']} F{rfm['f']} M{rfm['m']}" if rfm else "—"
    return [
        kpi_card("ltv", "Lifetime value", amount(card["ltv"]), "net of refunds"),
        kpi_card("receipts", "Receipts", count(card["receipts"])),
        kpi_card("average_check", "Average check", amount(card["average_check"])),
        kpi_card("items_per_receipt", "Items per receipt", decimal(card["items_per_receipt"])),
        kpi_card("frequency_30d", "Receipts per 30 days", decimal(card["frequency_30d"])),
        kpi_card("first_purchase", "First purchase",
                 long_day(card["first_purchase"]) if card["first_purchase"] else "—"),
        kpi_card("days_since_last", "Days since the last purchase", count(card["days_since_last"]),
              long_day(card["last_purchase"]) if card["last_purchase"] else ""),
        kpi_card("promo_share", "Bought on promotion", share(card["promo_share"])),
        kpi_card("rfm", "RFM scores", scores, f"boundaries as of {moment(rfm['as_of'])}" if rfm else ""),
    ]


def _points_cards(points: Report) -> list[str]:
    """Points are in minor units, as money: 2997 is 29.97 points."""
    return [kpi_card(f"points_{name}", label, amount(points[name])) for name, label in (
        ("earned", "Earned"), ("redeemed", "Redeemed"), ("expired", "Expired"), ("adjusted", "Adjusted"),
        ("available", "Available now"))]


def _clock_chart(labels: Sequence[str], values: Sequence[int], title: str) -> str:
    if not any(values):
        return '<p class="empty">No purchases.</p>'
    rows = [Row(label, [Part(value, BLUE, f"{label}: {value} receipts")], count(value))
            for label, value in zip(labels, values, strict=True)]
    return charts.bars(title, rows, label_width=60, width=560, note_width=60)


def _categories(rows: Sequence[Report]) -> str:
    if not rows:
        return '<p class="empty">No purchases.</p>'
    bars = [Row(row["category"], [Part(row["amount"], GREEN, f"{row['category']}: {amount(row['amount'])}")],
                amount(row["amount"])) for row in rows]
    return charts.bars("What the customer paid per category", bars, label_width=220)


def _profile(profile: Report) -> str:
    fields = [("Birth date", profile["birth_date"] or "—"), ("Gender", profile["gender"] or "—"),
              *((f"{key}", str(value).lower() if isinstance(value, bool) else str(value))
                for key, value in profile["attributes"].items())]
    rows = "".join(f'<tr><th scope="row">{escape(name)}</th><td>{escape(value)}</td></tr>' for name, value in fields)
    return f'<table class="profile"><tbody>{rows}</tbody></table>'
