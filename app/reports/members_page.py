"""The page of a CVM segment's members, each a link to their customer card (app/customers/page.py).

Pure, as app/reports/page.py (whose formatting and style it shares): everything from data is escaped, nothing
is loaded from elsewhere; links stay on this service (`/reports/...`).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from app.core.text import amount, count

from .page import SEGMENT_NAMES, Report, document, long_day, section


def card_link(number: str) -> str:
    """The card page of a customer; the card is a path segment (`[A-Za-z0-9-]`), quoted all the same."""
    return f'<a href="/reports/customers/{quote(number, safe="")}">{escape(number)}</a>'


def segment_link(segment: str, label: str) -> str:
    return f'<a href="/reports/segments/{quote(segment, safe="")}">{escape(label)}</a>'


def render_members(segment: str, rows: Sequence[Report], shown_most: int) -> str:
    """The first `shown_most` members of a segment by card, each a link to their card."""
    name = SEGMENT_NAMES.get(segment, segment)
    head = "".join(f'<th scope="col">{title}</th>' for title in
                   ("Card", "Receipts", "Lifetime value", "First purchase", "Last purchase"))
    body = "".join(
        f'<tr data-card="{escape(row["card"])}"><th scope="row">{card_link(row["card"])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in (
            count(row["receipts"]), amount(row["revenue"]),
            long_day(row["first_purchase_at"]) if row["first_purchase_at"] else "—",
            long_day(row["last_purchase_at"]) if row["last_purchase_at"] else "—"))
        + "</tr>" for row in rows)
    more = (f"The first {shown_most:,} members by card; the CSV of "
            f"/v1/reports/segments/{segment}/members lists them all.") if len(rows) >= shown_most else ""
    table = (f'<div class="scroll"><table class="wide"><caption>Each card opens the customer\'s card. {escape(more)}'
             f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>") if rows else \
        '<p class="empty">No members in this segment.</p>'
    header = (f'<header><h1>Segment: {escape(name)}</h1><p><a href="/reports">Back to the report</a></p>'
              "</header>")
    return document(f"Segment {name}", header + section(f"{count(len(rows))} members shown", table))
