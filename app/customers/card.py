"""The customer card from one account's figures: pure, no I/O (docs/contract.md, Customer card).

Averages, shares and frequency are computed as the reports compute them (app/reports/service.py), so a
customer's card and the reports that count them agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.reports.service import average, frequency, ratio

TOP_CATEGORIES = 5


def score(value: Any, bounds: Sequence[Any]) -> int:
    """An RFM score 1 to 5: one plus the quintile boundaries below the value, as the grid scores
    (app/reports/repository.py, _RFM), so a customer's scores name the grid cell that counts them."""
    return 1 + sum(1 for bound in bounds if value > bound)


def rfm(figures: Mapping[str, Any], bounds: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Recency scores the last purchase (later is better), frequency the receipts, monetary the lifetime
    value; None without a purchase or before any buyer was rolled up."""
    if bounds is None or not figures["receipts"]:
        return None
    return {"r": score(figures["last_purchase"], bounds["recency"]),
            "f": score(int(figures["receipts"]), bounds["frequency"]),
            "m": score(int(figures["ltv"]), bounds["monetary"]),
            "as_of": bounds["computed_at"].isoformat()}


def points(by_kind: Mapping[str, int], available: int) -> dict[str, int]:
    """Net of what refunds took back: earned = accruals + bonuses − reversals; redeemed = redemptions −
    returns; debits are negative in the ledger and shown positive here."""
    return {"earned": by_kind.get("accrual", 0) + by_kind.get("bonus", 0) + by_kind.get("accrual_reversal", 0),
            "redeemed": -(by_kind.get("redemption", 0) + by_kind.get("redemption_return", 0)),
            "expired": -by_kind.get("expiry", 0), "adjusted": by_kind.get("adjustment", 0), "available": available}


def clock(times: Sequence[Mapping[str, Any]]) -> tuple[list[int], list[int]]:
    """Receipts per weekday (Monday first) and per hour of the day."""
    weekdays, hours = [0] * 7, [0] * 24
    for row in times:
        weekdays[row["weekday"] - 1] += int(row["receipts"])
        hours[row["hour"]] += int(row["receipts"])
    return weekdays, hours


def categories(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], float | None]:
    """(the top categories by what was paid for them, the share of the amount on discounted lines)."""
    paid = sorted(((int(row["paid"]), row["category"]) for row in rows if int(row["paid"]) > 0),
                  key=lambda pair: (-pair[0], pair[1]))
    promo_share = ratio(sum(int(row["promo"]) for row in rows), sum(int(row["amount"]) for row in rows))
    return [{"category": name, "amount": amount} for amount, name in paid[:TOP_CATEGORIES]], promo_share


def purchases(figures: Mapping[str, Any], lines: int, today: date, zone: ZoneInfo) -> dict[str, Any]:
    """Lifetime value, receipts, average check, items per receipt (`lines` of them), first and last purchase;
    frequency per 30 days over the calendar days from the first purchase to today, both included; whole days
    since the last. Days are those of the report time zone."""
    receipts, ltv = int(figures["receipts"]), int(figures["ltv"])
    first: datetime | None = figures["first_purchase"]
    last: datetime | None = figures["last_purchase"]
    return {
        "ltv": ltv, "receipts": receipts, "average_check": average(ltv, receipts),
        "items_per_receipt": round(lines / receipts, 2) if receipts else None,
        # at least one day: a receipt may be issued up to 5 minutes ahead, past midnight
        "frequency_30d": frequency(receipts, 1, max(1, (today - first.astimezone(zone).date()).days + 1))
        if first else None,
        "first_purchase": first.isoformat() if first else None,
        "last_purchase": last.isoformat() if last else None,
        "days_since_last": max(0, (today - last.astimezone(zone).date()).days) if last else None,
    }
