"""HTTP for profiles and the customer card: translate requests to the use cases, results to responses."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.accounts.endpoints import CardPath
from app.core import auth
from app.core.auth import Principal
from app.core.http import PROBLEM_RESPONSES, body_schema, json_response, read_model

from . import insights, profile
from .schemas import AccountPatch, Insights, Profile

router = APIRouter(prefix="/v1/accounts", tags=["customers"], responses=PROBLEM_RESPONSES)


@router.patch("/{card}", status_code=204, openapi_extra=body_schema(AccountPatch),
              summary="Set or change the profile (any key): birth date, gender, attributes")
async def change_profile(card: CardPath, request: Request, _: Principal = Depends(auth.pos)) -> Response:
    body = await read_model(request, AccountPatch)
    await profile.change(request.app.state.ctx, card, body.profile)
    return Response(status_code=204)


@router.get("/{card}/profile", response_model=Profile, summary="The profile (admin)")
async def read_profile(card: CardPath, request: Request, _: Principal = Depends(auth.admin)) -> Response:
    return json_response(await profile.read(request.app.state.ctx, card))


@router.delete("/{card}/profile", status_code=204,
               summary="Erase the profile, birth date and phone (admin); receipts and the ledger stay")
async def erase_profile(card: CardPath, request: Request, _: Principal = Depends(auth.admin)) -> Response:
    await profile.erase(request.app.state.ctx, card)
    return Response(status_code=204)


@router.get("/{card}/insights", response_model=Insights,
            summary="The customer card (admin): lifetime value, habits, points, RFM, segment, tier, profile")
async def customer_card(card: CardPath, request: Request, _: Principal = Depends(auth.admin)) -> Response:
    return json_response(await insights.insights(request.app.state.ctx, card))
