"""Reports for marketers and finance: the program's KPIs, campaign results, CVM segments and the RFM grid,
stores, customers ranked or gone quiet, and the ABC analysis of SKUs and categories.

Each report first folds the newest rows into the summaries (a small window; a wide one is left to the
background roll-up and `as_of` tells how fresh the answer is), then reads only summaries: the cost does
not grow with the history. Days are the chain's calendar days in BONUS_ENGINE_REPORT_TIME_ZONE.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg

from app.core.context import ActivePrograms, utcnow
from app.core.db import Database
from app.core.errors import AppError, not_found, unavailable, unprocessable
from app.core.settings import Settings
from rules import decimal_text

from . import abc, repository, uplift
from .rollup import REQUEST_SPAN_XIDS, roll_up

MAX_PERIOD_DAYS = 3660
DEFAULT_PERIOD_DAYS = 30
# A period may name any day from 0001-01-01 to 9999-12-31, but the instants around the first and last day (in
# a zone east or west of UTC, or a day later, or `inactive_days` earlier) leave what Python's datetime holds,
# which was a 500. Instants are taken within these days, 3,660 + 1 days inside the ends; no receipt is out there.
_FIRST_INSTANT_DAY = date.min + timedelta(days=MAX_PERIOD_DAYS + 1)
_LAST_INSTANT_DAY = date.max - timedelta(days=1)
SEGMENTS = ("newcomer", "loyal", "pre_churn", "churn", "none")
# the API documents and checks these too (app/reports/endpoints.py); the CLI has only this module's check
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
STORE_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
CAMPAIGN_PATTERN = r"^[a-z0-9-]{1,64}$"
_DATE = re.compile(DAY_PATTERN)
_STORE = re.compile(STORE_PATTERN)


class Sources(Protocol):
    """What reports read: the service's AppContext, or the CLI's own."""

    settings: Settings
    db: Database

    @property
    def programs(self) -> ActivePrograms: ...  # read-only, so that the CLI's ProgramHolder fits


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days [start, end], both included, in the report time zone; optionally one store."""

    start: date
    end: date
    store: str | None
    time_zone: str

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as instants: [start 00:00, the day after end 00:00) in the report time zone."""
        zone = ZoneInfo(self.time_zone)
        start = min(max(self.start, _FIRST_INSTANT_DAY), _LAST_INSTANT_DAY)
        end = min(max(self.end, _FIRST_INSTANT_DAY), _LAST_INSTANT_DAY)
        return (datetime.combine(start, time(), zone), datetime.combine(end + timedelta(days=1), time(), zone))

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "time_zone": self.time_zone,
                "store": self.store}


def today(ctx: Sources) -> date:
    return utcnow().astimezone(ZoneInfo(ctx.settings.report_time_zone)).date()


def _date(text: str, name: str) -> date:
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise unprocessable("invalid_period", f"{name} must be a date, YYYY-MM-DD: {text!r}") from None


def parse_period(ctx: Sources, from_: str | None = None, to: str | None = None,
                 store: str | None = None) -> Period:
    """`to` defaults to today, `from` to the 30 days that end on `to`."""
    end = _date(to, "to") if to is not None else today(ctx)
    default_days = min(DEFAULT_PERIOD_DAYS - 1, (end - date.min).days)  # from 0001-01-01 at the earliest
    start = _date(from_, "from") if from_ is not None else end - timedelta(days=default_days)
    if start > end:
        raise unprocessable("invalid_period", f"from ({start}) is after to ({end})")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise unprocessable("invalid_period", f"a period spans at most {MAX_PERIOD_DAYS} days")
    if store is not None and not _STORE.match(store):
        raise unprocessable("invalid_period", "store must be a store id: 1 to 64 of A-Z a-z 0-9 . _ : -")
    return Period(start, end, store, ctx.settings.report_time_zone)


@asynccontextmanager
async def _reading(ctx: Sources) -> AsyncIterator[asyncpg.Connection]:
    """A connection for a report's statements, in a transaction whose statements are planned for their values
    every time (`repository.custom_plans`): the period decides how many rows each one reads."""
    async with ctx.db.connection() as conn, conn.transaction():
        await repository.custom_plans(conn)
        yield conn


async def _fresh(ctx: Sources) -> str:
    """Fold in the newest rows; returns `as_of`, the time of the roll-up the answer stands on."""
    await roll_up(ctx.db, ctx.settings.report_time_zone, max_span=REQUEST_SPAN_XIDS)
    async with ctx.db.connection() as conn:
        state = await repository.state(conn)
    if state["time_zone"] != ctx.settings.report_time_zone or state["rolled_at"] is None:
        raise unavailable("reports_rebuilding", "the report summaries are being built; retry after Retry-After",
                          retry_after_s=10)
    return str(state["rolled_at"].isoformat())


def ratio(part: int, whole: int) -> float | None:
    """A share for people to read (never money): 4 decimal places, None for 0 of 0."""
    return round(part / whole, 4) if whole else None


def average(total: int, count: int) -> int | None:
    """Money per receipt in minor units, rounded half up in integers."""
    return (2 * total + count) // (2 * count) if count else None


# ledger kinds as the report names them; redemptions, reversals and expiries are shown as positive amounts
POINT_KINDS = {"accrual": ("accrued", 1), "bonus": ("bonus", 1), "redemption": ("redeemed", -1),
               "redemption_return": ("returned", 1), "accrual_reversal": ("reversed", -1),
               "expiry": ("expired", -1), "adjustment": ("adjusted", 1)}


async def program_report(ctx: Sources, period: Period) -> dict[str, Any]:
    return await _program(ctx, period, await _fresh(ctx))


async def campaigns_report(ctx: Sources, period: Period) -> dict[str, Any]:
    return await _campaigns(ctx, period, await _fresh(ctx))


async def segments_report(ctx: Sources) -> dict[str, Any]:
    return await _segments(ctx, await _fresh(ctx))


def check_campaign_id(text: str) -> str:
    """The API's path check, for the CLI."""
    if not re.match(CAMPAIGN_PATTERN, text):
        raise unprocessable("validation_error", f"a campaign id is 1 to 64 of a-z 0-9 -: {text!r}")
    return text


async def uplift_report(ctx: Sources, campaign_id: str, period: Period) -> dict[str, Any]:
    """One campaign's eligible members with it against those held out (app/reports/uplift.py); a campaign
    neither in the active program nor in the period's figures is 404 `campaign_not_found`."""
    as_of = await _fresh(ctx)
    return {"period": period.as_dict(), "as_of": as_of, **await _uplift(ctx, campaign_id, period)}


async def _uplift(ctx: Sources, campaign_id: str, period: Period) -> dict[str, Any]:
    async with _reading(ctx) as conn:
        groups = {row["held_out"]: row for row in await repository.holdout_groups(conn, campaign_id, period.start,
                                                                                   period.end)}
        cost = dict(await repository.campaign_cost(conn, campaign_id, period.start, period.end))
    program = ctx.programs.loaded
    campaign = program.by_id.get(campaign_id) if program is not None else None
    if campaign is None and not groups:
        raise not_found("campaign_not_found", f"no campaign {campaign_id!r} in the program or the period's figures")
    described = {"id": campaign_id, "name": campaign.name if campaign else campaign_id,
                 "type": campaign.type if campaign else None,
                 "control_percent": campaign.control_percent or 0 if campaign else None}
    treated, held_out = (_figures(groups.get(flag)) for flag in (False, True))
    return uplift.document(described, treated, held_out, cost)


def _figures(row: asyncpg.Record | None) -> uplift.GroupFigures:
    if row is None:
        return uplift.GroupFigures()
    return uplift.GroupFigures(int(row["members"]), int(row["receipts"]), int(row["revenue"]),
                               Decimal(row["revenue_squares"]), int(row["repeat_buyers"]))


async def stores_report(ctx: Sources, period: Period) -> dict[str, Any]:
    return await _stores(ctx, period, await _fresh(ctx))


PAGE_CUSTOMERS = 10  # the report page's top customers


async def all_reports(ctx: Sources, period: Period) -> dict[str, Any]:
    """Every report of the page on one roll-up: program, campaigns, segments, stores, the top customers
    by amount, the ABC analysis and the uplift of each campaign with a control group. Two lanes (two
    connections: the database has the cores for two) take the parts in turn, the slowest first, so that
    neither lane waits while the other has a queue (at 10 M receipts, 30 days: segments 1.6 s, customers
    0.9 s, program 0.8 s, an uplift 0.7 s, stores 0.5 s, the rest 0.1 s or less)."""
    as_of = await _fresh(ctx)
    uplifts = [campaign.id for campaign in ctx.programs.current.program.campaigns if campaign.control_percent]

    async def uplift_of(campaign_id: str) -> dict[str, Any]:
        return {"period": period.as_dict(), "as_of": as_of, **await _uplift(ctx, campaign_id, period)}

    parts: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("segments", lambda: _segments(ctx, as_of)),
        ("customers", lambda: _customers(ctx, CustomersQuery(period, "amount", PAGE_CUSTOMERS), as_of)),
        ("program", lambda: _program(ctx, period, as_of)),
        *((f"uplift {i}", partial(uplift_of, campaign_id)) for i, campaign_id in enumerate(uplifts)),
        ("stores", lambda: _stores(ctx, period, as_of)),
        ("campaigns", lambda: _campaigns(ctx, period, as_of)),
        ("categories", lambda: _abc(ctx, AbcQuery(period, "category", "revenue"), as_of)),
        ("skus", lambda: _abc(ctx, AbcQuery(period, "sku", "revenue"), as_of)),
    ]
    queue, done = iter(parts), {}

    async def lane() -> None:
        for name, part in queue:  # one iterator for both lanes: each takes the next part when it is free
            done[name] = await part()

    await asyncio.gather(lane(), lane())
    return {**{name: done[name] for name in ("program", "campaigns", "stores", "segments", "customers",
                                             "categories", "skus")},
            "uplifts": [done[f"uplift {i}"] for i in range(len(uplifts))]}


async def _program(ctx: Sources, period: Period, as_of: str) -> dict[str, Any]:
    start_at, end_at = period.bounds()
    async with _reading(ctx) as conn:
        days = await repository.sales(conn, period.start, period.end, period.store)
        points = await repository.points(conn, period.start, period.end, period.store)
        active = await repository.active_members(conn, period.start, period.end, period.store, start_at)
        members = await repository.members(conn, start_at, end_at)
        liability = await repository.liability(conn, today(ctx))
        everywhere = active if period.store is None else await repository.active_members(
            conn, period.start, period.end, None, start_at)
        kpis = await _kpi_counts(ctx, conn, period, everywhere)
    total = {name: sum(int(day[name]) for day in days) for name in ("receipts", "with_card", "revenue",
                                                                     "card_revenue", "lines")}
    by_kind = _points_by_kind(points)
    without_card = total["receipts"] - total["with_card"]
    cardless_revenue = total["revenue"] - total["card_revenue"]
    return {
        "period": period.as_dict(),
        "as_of": as_of,
        "receipts": {"total": total["receipts"], "with_card": total["with_card"], "without_card": without_card,
                     "identified_share": ratio(total["with_card"], total["receipts"]),
                     "items_per_receipt": round(total["lines"] / total["receipts"], 2) if total["receipts"] else None},
        "revenue": {"total": total["revenue"], "with_card": total["card_revenue"], "without_card": cardless_revenue},
        "average_check": {"all": average(total["revenue"], total["receipts"]),
                          "with_card": average(total["card_revenue"], total["with_card"]),
                          "without_card": average(cardless_revenue, without_card)},
        "members": {"total": members["total"], "active": active, "active_share": ratio(active, members["total"]),
                    "new": members["new"]},
        "points": by_kind,
        "liability": dict(liability),
        "kpis": _kpis(kpis, total["card_revenue"], active, by_kind),
        "days": _series(period, days, points),
    }


async def _kpi_counts(ctx: Sources, conn: asyncpg.Connection, period: Period, active: int) -> dict[str, Any]:
    """The member flows of the whole chain (`active`: its members with a receipt in the period) and each
    segment's receipts and revenue."""
    start_at, end_at = period.bounds()
    rows = await repository.segment_flows(conn, start_at, end_at, utcnow(), ctx.programs.current.program.segments)
    new_buyers = sum(int(row["new_buyers"]) for row in rows)
    return {"churned": sum(int(row["churned"]) for row in rows), "new_buyers": new_buyers,
            "stable": active - new_buyers, "segments": {row["segment"]: row for row in rows}}


def _kpis(counts: dict[str, Any], card_revenue: int, active: int, points: dict[str, int]) -> dict[str, Any]:
    """The ratios of the program report's `kpis` (docs/contract.md, Reports)."""
    points_cost = points["accrued"] + points["bonus"] - points["reversed"]
    sales = counts["segments"]
    receipts = sum(int(row["receipts"]) for row in sales.values())
    revenue = sum(int(row["revenue"]) for row in sales.values())
    segments = []
    for name in SEGMENTS[:-1]:
        row = sales.get(name)
        mine = (int(row["receipts"]), int(row["revenue"])) if row else (0, 0)
        segments.append({"segment": name, "receipts": mine[0], "revenue": mine[1],
                         "receipts_share": ratio(mine[0], receipts), "revenue_share": ratio(mine[1], revenue)})
    return {"churned": counts["churned"], "new_buyers": counts["new_buyers"], "stable": counts["stable"],
            "churn_to_new": ratio(counts["churned"], counts["new_buyers"]),
            "churn_to_stable": ratio(counts["churned"], counts["stable"]),
            "revenue_per_member": average(card_revenue, active), "points_cost": points_cost,
            "points_cost_per_member": average(points_cost, active), "segments": segments}


def _points_by_kind(rows: list[asyncpg.Record]) -> dict[str, int]:
    totals = dict.fromkeys((name for name, _ in POINT_KINDS.values()), 0)
    for row in rows:
        name, sign = POINT_KINDS[row["kind"]]
        totals[name] += sign * int(row["points"])
    return totals


def _series(period: Period, days: list[asyncpg.Record], points: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Every day of the period, days without sales included, for charts."""
    sales = {row["day"]: row for row in days}
    accrued: dict[date, int] = {}
    redeemed: dict[date, int] = {}
    for row in points:
        if row["kind"] in ("accrual", "bonus"):
            accrued[row["day"]] = accrued.get(row["day"], 0) + int(row["points"])
        elif row["kind"] == "redemption":
            redeemed[row["day"]] = redeemed.get(row["day"], 0) - int(row["points"])
    series = []
    for offset in range((period.end - period.start).days + 1):
        day = period.start + timedelta(days=offset)
        sold = sales.get(day)
        series.append({"day": day.isoformat(), "receipts": int(sold["receipts"]) if sold else 0,
                       "revenue": int(sold["revenue"]) if sold else 0,
                       "points_accrued": accrued.get(day, 0), "points_redeemed": redeemed.get(day, 0)})
    return series


async def _campaigns(ctx: Sources, period: Period, as_of: str) -> dict[str, Any]:
    """Per campaign, what it gave and what its receipts brought, against the receipts it did not touch."""
    async with _reading(ctx) as conn:
        days = await repository.sales(conn, period.start, period.end, period.store)
        rows = {row["campaign_id"]: row for row in await repository.campaigns(conn, period.start, period.end,
                                                                               period.store)}
    receipts = sum(int(day["receipts"]) for day in days)
    revenue = sum(int(day["revenue"]) for day in days)
    known = {campaign.id: campaign for campaign in ctx.programs.current.program.campaigns}
    campaigns = []
    for campaign_id in [*known, *sorted(set(rows) - set(known))]:
        row = rows.get(campaign_id)
        figures = {name: int(row[name]) if row else 0
                   for name in ("receipts", "discount", "points", "coupon_uses", "revenue")}
        if campaign_id not in known and not any(figures.values()):
            continue  # a removed campaign whose receipts were all refunded
        campaign = known.get(campaign_id)
        untouched = {"receipts": receipts - figures["receipts"], "revenue": revenue - figures["revenue"]}
        campaigns.append({
            "id": campaign_id, "name": campaign.name if campaign else campaign_id,
            "type": campaign.type if campaign else None, **figures,
            "average_check": average(figures["revenue"], figures["receipts"]),
            "untouched": {**untouched, "average_check": average(untouched["revenue"], untouched["receipts"])},
        })
    campaigns.sort(key=lambda c: (-(c["discount"] + c["points"]), c["id"]))
    return {"period": period.as_dict(), "as_of": as_of,
            "receipts": {"total": receipts, "revenue": revenue, "average_check": average(revenue, receipts)},
            "campaigns": campaigns}


async def _segments(ctx: Sources, as_of: str) -> dict[str, Any]:
    """CVM segments as rules.segment_of decides them now, the RFM grid of members with a purchase, and their
    lifetime-value deciles."""
    settings = ctx.programs.current.program.segments

    async def ranked() -> list[asyncpg.Record]:
        async with _reading(ctx) as conn:
            return await repository.ltv_deciles(conn)

    # the deciles rank every buyer (1.45 s at 1 M buyers on this machine): on a second connection, beside the grid
    deciles_task = asyncio.ensure_future(ranked())
    try:
        async with _reading(ctx) as conn:
            segments = {row["segment"]: row for row in await repository.segments(conn, utcnow(), settings)}
            accounts = await repository.account_count(conn)
            cells = await repository.rfm(conn)
            if cells:  # the card scores against the boundaries the grid used last
                await repository.save_rfm_bounds(conn, cells[0]["recency_bounds"], cells[0]["frequency_bounds"],
                                                 cells[0]["monetary_bounds"])
    except BaseException:
        deciles_task.cancel()
        raise
    deciles = await deciles_task
    buyers = sum(int(row["members"]) for row in segments.values())
    cvm = [{"segment": name, "members": int(segments[name]["members"]) if name in segments else 0,
            "revenue": int(segments[name]["revenue"]) if name in segments else 0} for name in SEGMENTS[:-1]]
    cvm.append({"segment": "none", "members": accounts - buyers, "revenue": 0})
    first = cells[0] if cells else None
    return {
        "as_of": as_of,
        "settings": settings.model_dump(),
        "members": accounts,
        "cvm": cvm,
        "rfm": {
            "boundaries": {
                "recency": [moment.isoformat() for moment in first["recency_bounds"]] if first else None,
                "frequency": list(first["frequency_bounds"]) if first else None,
                "monetary": list(first["monetary_bounds"]) if first else None,
            },
            "cells": [{"r": c["r"], "f": c["f"], "m": c["m"], "members": c["members"], "revenue": int(c["revenue"])}
                      for c in cells],
        },
        "ltv_deciles": ltv_deciles(deciles),
    }


def ltv_deciles(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """All ten deciles, top first; those fewer than ten buyers leave empty have 0 members and null bounds."""
    total = sum(int(row["revenue"]) for row in rows)
    found = {int(row["decile"]): row for row in rows}
    deciles = []
    for decile in range(1, 11):
        row = found.get(decile)
        revenue = int(row["revenue"]) if row else 0
        deciles.append({"decile": decile, "members": int(row["members"]) if row else 0, "revenue": revenue,
                        "revenue_share": ratio(revenue, total),
                        "min_ltv": int(row["min_ltv"]) if row else None,
                        "max_ltv": int(row["max_ltv"]) if row else None})
    return deciles


def check_segment(segment: str) -> str:
    if segment not in SEGMENTS:
        raise AppError(404, "segment_not_found", f"no segment {segment!r}; segments are {', '.join(SEGMENTS)}")
    return segment


async def segment_members(ctx: Sources, segment: str) -> AsyncIterator[list[Any]]:
    """The rows of the members CSV, header first."""
    await _fresh(ctx)
    settings = ctx.programs.current.program.segments
    now = utcnow()
    yield ["card", "phone", "segment", "first_purchase_at", "last_purchase_at", "receipts", "revenue"]
    async with ctx.db.connection() as conn, conn.transaction():
        async for row in repository.segment_members(conn, segment, now, settings):
            member = _member(row)
            yield [member["card"], row["phone"] or "", segment, member["first_purchase_at"] or "",
                   member["last_purchase_at"] or "", member["receipts"], member["revenue"]]


def _member(row: asyncpg.Record) -> dict[str, Any]:
    """A segment member's row as the CSV and the report page show it (times in RFC 3339, None for none)."""
    first, last = row["first_purchase_at"], row["last_purchase_at"]
    return {"card": row["card"], "receipts": int(row["receipts"]), "revenue": int(row["revenue"]),
            "first_purchase_at": first.isoformat() if first else None,
            "last_purchase_at": last.isoformat() if last else None}


PAGE_MEMBERS = 200  # the members a segment's HTML page lists; the CSV has them all


async def first_members(ctx: Sources, segment: str, most: int = PAGE_MEMBERS) -> list[dict[str, Any]]:
    """The first members of a CVM segment by card, as the members CSV lists them, for the report page."""
    await _fresh(ctx)
    settings = ctx.programs.current.program.segments
    async with ctx.db.connection() as conn, conn.transaction():
        return [_member(row) async for row in repository.segment_members(conn, segment, utcnow(), settings, most)]


# --- stores -----------------------------------------------------------------------------------------

FREQUENCY_DAYS = 30  # purchase frequency: receipts per member per this many days


def frequency(receipts: int, members: int, days: int) -> float | None:
    """Receipts with a card per member per 30 days of the period, to 2 decimal places (not money)."""
    return round(receipts * FREQUENCY_DAYS / (members * days), 2) if members else None


async def _stores(ctx: Sources, period: Period, as_of: str) -> dict[str, Any]:
    """Per store, per day and in total: sales, identified share, registrations and purchase frequency."""
    start_at, end_at = period.bounds()

    async def bought() -> list[asyncpg.Record]:
        async with _reading(ctx) as conn:
            return await repository.store_members(conn, period.start, period.end, period.store)

    async def the_rest() -> tuple[list[asyncpg.Record], list[dict[str, Any]], int]:
        async with _reading(ctx) as conn:
            return (await repository.store_sales(conn, period.start, period.end, period.store),
                    await repository.registrations(conn, start_at, end_at, period.time_zone, period.store),
                    await repository.active_members(conn, period.start, period.end, period.store, start_at))

    # side by side on two connections: the members per store are most of a long period (1.5 s of a year at
    # 10 M receipts), the sales, registrations and active members together less (0.8 s)
    per_store, (sales, registered, active) = await asyncio.gather(bought(), the_rest())
    members = {row["store_id"]: int(row["members"]) for row in per_store}
    length = (period.end - period.start).days + 1
    stores: dict[str, dict[str, dict[str, int]]] = {}  # store → day → figures
    for row in sales:
        day = stores.setdefault(row["store_id"], {}).setdefault(row["day"].isoformat(), _zero_day())
        for name in ("receipts", "with_card", "revenue"):
            day[name] += int(row[name])
    without_purchase = 0
    for row in registered:
        if row["store_id"] is None:
            without_purchase += int(row["registrations"])
            continue
        stores.setdefault(row["store_id"], {}).setdefault(row["day"].isoformat(), _zero_day())[
            "registrations"] += int(row["registrations"])
    rows = [_store_row(store, days, members.get(store, 0), length) for store, days in stores.items()]
    rows.sort(key=lambda row: (-row["revenue"], row["store"]))
    total = _sales_figures({name: sum(row[name] for row in rows)
                            for name in ("receipts", "with_card", "revenue", "registrations")})
    total.update(registrations=total["registrations"] + without_purchase,
                 registrations_without_purchase=without_purchase, members=active,
                 purchase_frequency=frequency(total["with_card"], active, length))
    return {"period": period.as_dict(), "as_of": as_of, "total": total, "stores": rows}


def _zero_day() -> dict[str, int]:
    return {"receipts": 0, "with_card": 0, "revenue": 0, "registrations": 0}


def _sales_figures(figures: dict[str, int]) -> dict[str, Any]:
    return {"receipts": figures["receipts"], "with_card": figures["with_card"],
            "identified_share": ratio(figures["with_card"], figures["receipts"]), "revenue": figures["revenue"],
            "average_check": average(figures["revenue"], figures["receipts"]),
            "registrations": figures["registrations"]}


def _store_row(store: str, days: dict[str, dict[str, int]], members: int, length: int) -> dict[str, Any]:
    figures = _sales_figures({name: sum(day[name] for day in days.values())
                              for name in ("receipts", "with_card", "revenue", "registrations")})
    return {"store": store, **figures, "members": members,
            "purchase_frequency": frequency(figures["with_card"], members, length),
            "days": [{"day": day, **_sales_figures(days[day])} for day in sorted(days)]}


# --- customers --------------------------------------------------------------------------------------

CUSTOMER_ORDERS = tuple(repository.CUSTOMER_ORDERS)
MAX_CUSTOMERS_PAGE = 500
CUSTOMER_COLUMNS = ["card", "phone", "receipts", "amount", "items_per_receipt", "ltv", "lifetime_receipts",
                    "first_purchase_at", "last_purchase_at"]
_CUSTOMER_CURSOR = re.compile(r"^k(ltv|receipts|amount|items):(-?[0-9]{1,40}(?:\.[0-9]{1,40})?):([0-9]{1,19})$")


@dataclass(frozen=True, slots=True)
class CustomersQuery:
    """What the customers report ranks: `order` descending over the period, after `cursor` (a position
    this service gave), `limit` rows (None: all); with `inactive_days`, the members gone quiet instead."""

    period: Period
    order: str
    limit: int | None = None
    cursor: str | None = None
    inactive_days: int | None = None

    def after(self) -> tuple[Decimal, int] | None:
        """The cursor's (key, account id); 422 `invalid_cursor` for one this service did not give for this order."""
        if self.cursor is None:
            return None
        try:
            text = base64.urlsafe_b64decode(self.cursor + "=" * (-len(self.cursor) % 4)).decode()
            match = _CUSTOMER_CURSOR.match(text)
            if match is None or match.group(1) != self.order:
                raise ValueError
            return Decimal(match.group(2)), int(match.group(3))
        except (ValueError, InvalidOperation):
            raise AppError(422, "invalid_cursor", f"the cursor is not one this service gave for order={self.order}"
                           ) from None

    def inactive_before(self) -> datetime | None:
        """The inactive list's cut-off: the end of the period less `inactive_days`."""
        return None if self.inactive_days is None else self.period.bounds()[1] - timedelta(days=self.inactive_days)


def customer_cursor(order: str, row: asyncpg.Record) -> str:
    return base64.urlsafe_b64encode(f"k{order}:{row['key']}:{row['account_id']}".encode()).decode().rstrip("=")


def _customer(row: asyncpg.Record) -> dict[str, Any]:
    receipts = int(row["receipts"])
    return {"card": row["card"], "phone": row["phone"], "receipts": receipts, "amount": int(row["amount"]),
            "items_per_receipt": round(int(row["lines"]) / receipts, 2) if receipts else None,
            "ltv": int(row["ltv"]), "lifetime_receipts": int(row["lifetime_receipts"]),
            "first_purchase_at": row["first_purchase_at"].isoformat(),
            "last_purchase_at": row["last_purchase_at"].isoformat()}


async def customers_report(ctx: Sources, query: CustomersQuery) -> dict[str, Any]:
    query.after()  # a bad cursor is refused before anything is rolled up
    return await _customers(ctx, query, await _fresh(ctx))


async def _customers(ctx: Sources, query: CustomersQuery, as_of: str) -> dict[str, Any]:
    assert query.limit is not None
    rows = []
    async with ctx.db.connection() as conn, conn.transaction():
        async for row in repository.customers(conn, query.order, query.period.start, query.period.end,
                                              query.period.store, query.inactive_before(), query.after(),
                                              query.limit + 1):
            rows.append(row)
    more = len(rows) > query.limit
    cutoff = query.inactive_before()
    return {"period": query.period.as_dict(), "as_of": as_of, "order": query.order,
            "inactive_days": query.inactive_days, "inactive_before": cutoff.isoformat() if cutoff else None,
            "customers": [_customer(row) for row in rows[:query.limit]],
            "next_cursor": customer_cursor(query.order, rows[query.limit - 1]) if more else None}


async def customer_rows(ctx: Sources, query: CustomersQuery) -> AsyncIterator[list[Any]]:
    """The rows of the customers CSV, header first: every member of the ranking after the cursor."""
    after = query.after()
    await _fresh(ctx)
    yield CUSTOMER_COLUMNS
    async with ctx.db.connection() as conn, conn.transaction():
        async for row in repository.customers(conn, query.order, query.period.start, query.period.end,
                                              query.period.store, query.inactive_before(), after, None):
            one = _customer(row)
            yield ["" if one[name] is None else one[name] for name in CUSTOMER_COLUMNS]


# --- ABC --------------------------------------------------------------------------------------------

ABC_BY = ("category", "sku")
ABC_MEASURES = ("revenue", "quantity", "receipts")
_MEASURE_COLUMNS = {"revenue": "revenue", "quantity": "quantity_thousandths", "receipts": "receipts"}


@dataclass(frozen=True, slots=True)
class AbcQuery:
    """The ABC analysis of the period's standing receipts: the keys of `by` ranked by `measure`."""

    period: Period
    by: str
    measure: str

    def __post_init__(self) -> None:
        # the API's Literal parameters refuse these first; the CLI's argparse choices too: a last guard
        if self.by not in ABC_BY or self.measure not in ABC_MEASURES:
            raise AppError(422, "validation_error", f"by is one of {', '.join(ABC_BY)} and measure one of "
                                                    f"{', '.join(ABC_MEASURES)}")


def quantity_text(thousandths: int) -> str:
    """A quantity in thousandths as the API writes quantities: 2500 → "2.5"."""
    return decimal_text(Decimal(thousandths).scaleb(-3))


async def abc_report(ctx: Sources, query: AbcQuery) -> dict[str, Any]:
    return await _abc(ctx, query, await _fresh(ctx))


async def _abc(ctx: Sources, query: AbcQuery, as_of: str) -> dict[str, Any]:
    period = query.period
    async with _reading(ctx) as conn:
        rows = await repository.items(conn, query.by, period.start, period.end, period.store)
    column = _MEASURE_COLUMNS[query.measure]
    shown: Callable[[int], int | str] = quantity_text if query.measure == "quantity" else int
    ranked = abc.rank((row["key"] or None, int(row[column])) for row in rows)
    return {"period": period.as_dict(), "as_of": as_of, "by": query.by, "measure": query.measure,
            "total": shown(sum(row.value for row in ranked)), "classes": abc.summary(ranked, shown),
            "rows": [{"key": row.key, "value": shown(row.value), "share": row.share,
                      "cumulative_share": row.cumulative_share, "class": row.klass} for row in ranked]}
