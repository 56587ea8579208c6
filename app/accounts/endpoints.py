"""HTTP for accounts: translate requests to the service, results to responses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.http import PROBLEM_RESPONSES, body_schema, json_response, read_model, replay_response, replayed

from . import service
from .schemas import Account, AdjustmentRequest, AdjustmentResult, LedgerPage, RegisterRequest

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=PROBLEM_RESPONSES)
CardPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


@router.post("", status_code=201, response_model=Account, openapi_extra=body_schema(RegisterRequest),
             responses=replay_response(Account), summary="Register a card; registration bonuses fire here")
async def register(request: Request, _: Principal = Depends(auth.pos)) -> Response:
    body = await read_model(request, RegisterRequest)
    view, created = await service.register(request.app.state.ctx, body)
    return json_response(view, 201) if created else replayed(view)


@router.get("/{card}", response_model=Account, summary="The read endpoint: balance, pending, expiring, tier")
async def look_up(card: CardPath, request: Request, _: Principal = Depends(auth.pos)) -> Response:
    return json_response(await service.look_up(request.app.state.ctx, card))


@router.get("/{card}/ledger", response_model=LedgerPage, summary="Ledger entries, newest first, cursor-paged")
async def ledger(
    card: CardPath,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    _: Principal = Depends(auth.pos),
) -> Response:
    return json_response(await service.ledger(request.app.state.ctx, card, limit, cursor))


@router.post("/{card}/adjustments", status_code=201, response_model=AdjustmentResult,
             openapi_extra=body_schema(AdjustmentRequest), responses=replay_response(AdjustmentResult),
             summary="Manual points with a reason (admin)")
async def adjust(card: CardPath, request: Request, principal: Principal = Depends(auth.admin)) -> Response:
    body = await read_model(request, AdjustmentRequest)
    result, was_replayed = await service.adjust(request.app.state.ctx, card, body, f"key:{principal.key_id}")
    return replayed(result) if was_replayed else json_response(result, 201)


@router.post("/{card}/block", response_model=Account, summary="Block a card: it earns and spends nothing")
async def block(card: CardPath, request: Request, _: Principal = Depends(auth.admin)) -> Response:
    return json_response(await service.set_blocked(request.app.state.ctx, card, True))


@router.post("/{card}/unblock", response_model=Account, summary="Unblock a card")
async def unblock(card: CardPath, request: Request, _: Principal = Depends(auth.admin)) -> Response:
    return json_response(await service.set_blocked(request.app.state.ctx, card, False))
