"""HTTP for reports (admin keys): JSON reports, and the members of a segment and the customers as CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.core import auth
from app.core.auth import Principal
from app.core.http import PROBLEM_RESPONSES, csv_stream, json_response

from . import service
from .schemas import (
    AbcReport,
    CampaignsReport,
    CustomersReport,
    ProgramReport,
    SegmentsReport,
    StoresReport,
    UpliftReport,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=PROBLEM_RESPONSES)

# `format: date` says what the pattern cannot: a real calendar day (`0000-00-00` is refused). That `from` is
# not after `to` and the period spans at most MAX_PERIOD_DAYS are rules of two parameters, in the text.
_DAY = {"format": "date"}
From = Annotated[str | None, Query(alias="from", pattern=service.DAY_PATTERN, json_schema_extra=_DAY,
                                   description="first day, YYYY-MM-DD (default: 29 days before `to`); not after "
                                               f"`to`, at most {service.MAX_PERIOD_DAYS} days before it")]
To = Annotated[str | None, Query(pattern=service.DAY_PATTERN, json_schema_extra=_DAY,
                                 description="last day, included, YYYY-MM-DD (default: today)")]
Store = Annotated[str | None, Query(pattern=service.STORE_PATTERN, description="one store's receipts only")]


def period(request: Request, from_: From = None, to: To = None, store: Store = None) -> service.Period:
    """The report period of the query: a dependency, so each report route and the page read it alike."""
    return service.parse_period(request.app.state.ctx, from_, to, store)


@router.get("/program", response_model=ProgramReport,
            summary="Program KPIs: receipts, identified share, checks, members, points, liability")
async def program(request: Request, _: Principal = Depends(auth.marketer),
                  chosen: service.Period = Depends(period)) -> Response:
    return json_response(await service.program_report(request.app.state.ctx, chosen))


@router.get("/campaigns", response_model=CampaignsReport,
            summary="Per campaign: receipts touched, discount, points, coupon uses, touched vs untouched checks")
async def campaigns(request: Request, _: Principal = Depends(auth.marketer),
                    chosen: service.Period = Depends(period)) -> Response:
    return json_response(await service.campaigns_report(request.app.state.ctx, chosen))


def chain_period(request: Request, from_: From = None, to: To = None) -> service.Period:
    """A period of the whole chain: the uplift compares members, who buy at any store."""
    return service.parse_period(request.app.state.ctx, from_, to)


@router.get("/campaigns/{campaign_id}/uplift", response_model=UpliftReport,
            summary="A campaign's eligible members with it against its control group: revenue per member, its "
                    "95% intervals, the difference, cost, incremental revenue and return per unit of cost")
async def campaign_uplift(campaign_id: Annotated[str, Path(pattern=service.CAMPAIGN_PATTERN)], request: Request,
                          _: Principal = Depends(auth.marketer),
                          chosen: service.Period = Depends(chain_period)) -> Response:
    return json_response(await service.uplift_report(request.app.state.ctx, campaign_id, chosen))


@router.get("/stores", response_model=StoresReport,
            summary="Per store, per day and in total: receipts, revenue, identified share, registrations, frequency")
async def stores(request: Request, _: Principal = Depends(auth.marketer),
                 chosen: service.Period = Depends(period)) -> Response:
    return json_response(await service.stores_report(request.app.state.ctx, chosen))


Order = Literal["ltv", "receipts", "amount", "items"]


@router.get("/customers", response_model=CustomersReport,
            responses={200: {"content": {"text/csv": {}},
                             "description": "a page of members (JSON), or every member from the cursor on as CSV "
                                            "(Accept: text/csv)"}},
            summary="Members ranked by lifetime value, receipts, amount or items per receipt; the inactive ones")
async def customers(request: Request, _: Principal = Depends(auth.marketer), chosen: service.Period = Depends(period),
                    order: Annotated[Order, Query(description="the ranking, descending")] = "ltv",
                    limit: Annotated[int, Query(ge=1, le=service.MAX_CUSTOMERS_PAGE,
                                                description="rows of a JSON page")] = 50,
                    cursor: Annotated[str | None, Query(max_length=128)] = None,
                    inactive_days: Annotated[int | None, Query(ge=1, le=service.MAX_PERIOD_DAYS, description=(
                        "only members with no purchase in the last N days of the period"))] = None,
                    accept: Annotated[str, Header(include_in_schema=False)] = "") -> Response:
    query = service.CustomersQuery(chosen, order, limit, cursor, inactive_days)
    ctx = request.app.state.ctx
    if "text/csv" not in accept.lower():
        return json_response(await service.customers_report(ctx, query))
    rows = service.customer_rows(ctx, query)
    header = await anext(rows)  # fold in the newest rows (and fail with a problem) before streaming starts
    return StreamingResponse(csv_stream(header, rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="customers.csv"'})


AbcBy = Literal["category", "sku"]
AbcMeasure = Literal["revenue", "quantity", "receipts"]


@router.get("/abc", response_model=AbcReport,
            summary="ABC analysis: SKUs or categories by revenue, quantity or receipts, classed A, B and C")
async def abc(request: Request, _: Principal = Depends(auth.marketer), chosen: service.Period = Depends(period),
              by: Annotated[AbcBy, Query(description="what is ranked: categories or SKUs")] = "category",
              measure: Annotated[AbcMeasure, Query(description=(
                  "revenue (minor units), quantity (sold less returned) or receipts (standing receipts holding "
                  "the key)"))] = "revenue") -> Response:
    """A: the keys ranked above which less than 80 % of the measure lies; B: less than 95 %; C: the rest."""
    return json_response(await service.abc_report(request.app.state.ctx, service.AbcQuery(chosen, by, measure)))


@router.get("/segments", response_model=SegmentsReport, summary="CVM segment sizes and the RFM grid, now")
async def segments(request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    return json_response(await service.segments_report(request.app.state.ctx))


@router.get("/segments/{segment}/members", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "one row per member, by card"}},
            summary="The members of a CVM segment as CSV, for a mailing")
async def segment_members(segment: Annotated[str, Path(max_length=16)], request: Request,
                          _: Principal = Depends(auth.marketer)) -> Response:
    rows = service.segment_members(request.app.state.ctx, service.check_segment(segment))
    header = await anext(rows)  # fold in the newest rows (and fail with a problem) before streaming starts
    return StreamingResponse(csv_stream(header, rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{segment}.csv"'})
