"""`GET /reports/customers/{card}`: one customer's card as a page for people, linked from the report page's
top customers and segment members; it signs in as the report pages do (app/reports/web.py), with an admin key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from app.accounts.endpoints import CardPath
from app.reports.web import PAGE_HEADERS, admin

from . import insights, page

router = APIRouter()


@router.get("/reports/customers/{card}", response_class=HTMLResponse, include_in_schema=False)
async def customer_card_page(card: CardPath, request: Request, _: None = Depends(admin)) -> HTMLResponse:
    """One customer's card, as GET /v1/accounts/{card}/insights answers it."""
    return HTMLResponse(page.render_card(await insights.insights(request.app.state.ctx, card)), headers=PAGE_HEADERS)
