"""The fast write: `POST /v1/receipts`, `POST /v1/receipts/calculate`, and a receipt's refunds and cancel,
served ahead of FastAPI's router.

Every purchase calls confirm, so the route's fixed cost counts: routing over every route, dependency
injection and the exception middlewares cost the worker more than the receipt's own HTTP (see
loadtests/RESULTS.md). This pure ASGI middleware, like the fast read (app/accounts/fast.py), sits inside
MetricsMiddleware and in front of the router. It serves only a request it can serve exactly as the
endpoint would: a valid key, a path the route's own pattern accepts, and a body that is a valid receipt (a
valid refund; a cancel reads no body). It then calls the same service function
and answers its result, or its domain error as the same problem+json. Any other request (no key, an
unknown key, a bad body, a body over the limit) goes on to the app untouched, its body replayed, and the
endpoint answers it as usual.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.auth import Principal, bearer_key
from app.core.context import AppContext
from app.core.errors import AppError
from app.core.http import json_response, replayed
from app.core.problems import problem
from rules import Receipt

from . import endpoints, refunds, service
from .schemas import RefundRequest

# (the app's context, the key's principal, the body as the endpoint reads it, the receipt id of the path)
Handler = Callable[[AppContext, Principal, Any, str], Awaitable[Response]]
Parse = Callable[[bytes], Any]  # the body as the endpoint would read it, or None: the endpoint says why


async def _confirm(ctx: AppContext, principal: Principal, receipt: Receipt, _: str) -> Response:
    result, was_replayed = await service.confirm(ctx, receipt, principal)
    return replayed(result) if was_replayed else json_response(result, 201)


async def _calculate(ctx: AppContext, principal: Principal, receipt: Receipt, _: str) -> Response:
    return json_response(await service.calculate(ctx, receipt, principal))


async def _refund(ctx: AppContext, principal: Principal, request: RefundRequest, receipt_id: str) -> Response:
    response, was_replayed = await refunds.refund(ctx, receipt_id, request, principal)
    return replayed(response) if was_replayed else json_response(response, 201)


async def _cancel(ctx: AppContext, principal: Principal, _: object, receipt_id: str) -> Response:
    response, was_replayed = await refunds.cancel(ctx, receipt_id, principal)
    return replayed(response) if was_replayed else json_response(response, 200)


def _model(model: type[BaseModel]) -> Parse:
    """The body as `read_model` would accept it, else None."""

    def parse(body: bytes) -> Any:
        if b"\\u0000" in body:
            return None
        try:
            return model.model_validate_json(body)
        except ValidationError:
            return None

    return parse


def _no_body(_: bytes) -> object:
    return True  # the cancel endpoint reads no body: whatever was sent, it answers the same


def _route(endpoint: Callable[..., Any]) -> APIRoute:
    """The route the router would have chosen: MetricsMiddleware labels the request with its template."""
    return next(r for r in endpoints.router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


_Served = tuple[Handler, Parse, APIRoute]
_HANDLERS: dict[str, _Served] = {
    "/v1/receipts": (_confirm, _model(Receipt), _route(endpoints.confirm)),
    "/v1/receipts/calculate": (_calculate, _model(Receipt), _route(endpoints.calculate)),
}
# a receipt's own writes, by the last part of the path; the id as the route's path parameter accepts it
_BY_RECEIPT: dict[str, _Served] = {
    "refunds": (_refund, _model(RefundRequest), _route(endpoints.refund)),
    "cancel": (_cancel, _no_body, _route(endpoints.cancel)),
}
_RECEIPT_PATH = re.compile(rf"/v1/receipts/({endpoints.RECEIPT_ID})/(refunds|cancel)")


def _served(path: str) -> tuple[_Served, str] | None:
    """What serves a POST to `path`, and the receipt id it names ("" for confirm and calculate)."""
    exact = _HANDLERS.get(path)
    if exact is not None:
        return exact, ""
    by_receipt = _RECEIPT_PATH.fullmatch(path)
    return (_BY_RECEIPT[by_receipt[2]], by_receipt[1]) if by_receipt else None


class FastWrite:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # under a root_path the router matches the path without it: leave those to the router
        handled = (_served(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST"
                   and not scope.get("root_path") else None)
        if handled is None:
            await self.app(scope, receive, send)
            return
        (handler, parse, route), receipt_id = handled
        state = scope["app"].state
        body, whole = await _body(receive, state.settings.max_body_bytes)
        principal = await _principal(scope, state) if whole else None
        parsed = parse(body) if principal is not None else None
        if parsed is None or principal is None:
            await self.app(scope, _replaying(body, whole, receive), send)
            return
        scope["route"] = route
        try:
            response = await handler(state.ctx, principal, parsed, receipt_id)
        except AppError as error:
            response = problem(error.status, error.code, error.title, error.detail, error.headers, **error.extra)
        await response(scope, receive, send)


async def _body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """(what was read, is it the whole body?): reading stops past `limit` or at a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


async def _principal(scope: Scope, state: Any) -> Principal | None:
    """The checks of auth.pos, over the same KeyRing and its cache; None: let the endpoint answer."""
    header = next((value for name, value in scope["headers"] if name == b"authorization"), b"").decode("latin-1")
    key = bearer_key(header)
    if key is None:
        return None
    try:
        found: Principal | None = await state.keys.find(state.db, key)
    except Exception:  # a key not seen for 5 s needs PostgreSQL: if it is away, the endpoint answers
        return None
    return found if found is not None and found.serves_tills else None  # else the endpoint answers 401 or 403


def _replaying(body: bytes, whole: bool, receive: Receive) -> Receive:
    """A receive that gives the app what was read first, then the rest of the request as it comes."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not whole}
        return await receive()

    return replay
