"""HTTP for receipts: calculate, confirm, get, refund, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.http import (
    PROBLEM_RESPONSES,
    TOO_MANY_FAILED_LOOKUPS,
    body_schema,
    json_response,
    read_model,
    replay_response,
    replayed,
)
from rules import Receipt

from . import refunds, service
from .schemas import ReceiptResult, RefundRequest

router = APIRouter(prefix="/v1/receipts", tags=["receipts"], responses=PROBLEM_RESPONSES)
RECEIPT_ID = r"[A-Za-z0-9._:-]{1,64}"  # a receipt id in a path (fast.py matches the same)
ReceiptId = Annotated[str, Path(pattern=f"^{RECEIPT_ID}$")]


@router.post("/calculate", response_model=ReceiptResult, openapi_extra=body_schema(Receipt),
             responses=TOO_MANY_FAILED_LOOKUPS,
             summary="Preview a receipt: discounts, points, coupon checks; changes nothing")
async def calculate(request: Request, principal: Principal = Depends(auth.pos)) -> Response:
    receipt = await read_model(request, Receipt)
    return json_response(await service.calculate(request.app.state.ctx, receipt, principal))


@router.post("", status_code=201, response_model=ReceiptResult, openapi_extra=body_schema(Receipt),
             responses={**replay_response(ReceiptResult), **TOO_MANY_FAILED_LOOKUPS},
             summary="Confirm the fiscal receipt: apply everything, write the ledger (replay: 200)")
async def confirm(request: Request, principal: Principal = Depends(auth.pos)) -> Response:
    receipt = await read_model(request, Receipt)
    result, was_replayed = await service.confirm(request.app.state.ctx, receipt, principal)
    return replayed(result) if was_replayed else json_response(result, 201)


@router.get("/{receipt_id}", response_model=ReceiptResult, summary="The stored result and its refunds")
async def get(receipt_id: ReceiptId, request: Request, _: Principal = Depends(auth.pos)) -> Response:
    return json_response(await service.get(request.app.state.ctx, receipt_id))


@router.post("/{receipt_id}/refunds", status_code=201, response_model=ReceiptResult,
             openapi_extra=body_schema(RefundRequest), responses=replay_response(ReceiptResult),
             summary="Return some or all lines (no `lines`: everything left); replay: 200")
async def refund(receipt_id: ReceiptId, request: Request, principal: Principal = Depends(auth.pos)) -> Response:
    body = await read_model(request, RefundRequest)
    response, was_replayed = await refunds.refund(request.app.state.ctx, receipt_id, body, principal)
    return replayed(response) if was_replayed else json_response(response, 201)


@router.post("/{receipt_id}/cancel", response_model=ReceiptResult,
             summary="Void a confirmed receipt entirely (a full refund with status cancelled)")
async def cancel(receipt_id: ReceiptId, request: Request, principal: Principal = Depends(auth.pos)) -> Response:
    response, was_replayed = await refunds.cancel(request.app.state.ctx, receipt_id, principal)
    return replayed(response) if was_replayed else json_response(response, 200)
