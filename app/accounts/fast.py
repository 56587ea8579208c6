"""The fast read: `GET /v1/accounts/{card}` answered from the cached snapshot's bytes, ahead of FastAPI.

On a cache hit the read endpoint is one Redis HGET, yet routing, dependency injection, path validation
and parsing and dumping the snapshot cost the worker more than that (see loadtests/RESULTS.md). This
pure ASGI middleware sits inside MetricsMiddleware and in front of the router. It answers only what it
can answer exactly as the endpoint would (a valid card, a valid key, a loaded program, a cache hit),
and hands every other request to the app untouched, which answers it as usual: 401, 404, 422, 503, and
misses (whose look-up is not repeated nor counted twice: see Cache.get_snapshot_bytes).
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.auth import bearer_key

from .endpoints import look_up, router

_PREFIX = "/v1/accounts/"
# The endpoint's CardPath pattern, matched in full. (A literal GET /v1/accounts/<word> route would be
# shadowed here for a cached card named <word>: exclude it here if one is ever added.)
_CARD = re.compile(r"[A-Za-z0-9-]{1,64}")
# The route the router would have chosen: MetricsMiddleware labels the request with its template.
_ROUTE = next(route for route in router.routes if isinstance(route, APIRoute) and route.endpoint is look_up)


class FastRead:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = None
        # under a root_path the router matches the path without it: leave those to the router
        if (scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path")
                and scope["path"].startswith(_PREFIX) and _CARD.fullmatch(scope["path"], len(_PREFIX))):
            body = await _cached(scope, scope["path"][len(_PREFIX):])
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        # the headers json_response sends (Starlette's Response: content-length, then content-type)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


async def _cached(scope: Scope, card: str) -> bytes | None:
    """The snapshot to send as it is, or None to let the endpoint answer; the checks of auth.pos and look_up."""
    state = scope["app"].state
    header = next((value for name, value in scope["headers"] if name == b"authorization"), b"").decode("latin-1")
    key = bearer_key(header)
    if key is None:
        return None
    # the same KeyRing and its 5 s cache: a revoked key stops working here as soon as in the endpoint
    try:
        principal = await state.keys.find(state.db, key)
    except Exception:  # a key not seen for 5 s needs PostgreSQL: if it is away, the endpoint answers
        return None
    if principal is None or not principal.serves_tills:  # the endpoint answers 401 or 403
        return None
    ctx = state.ctx
    if ctx.programs.loaded is None:
        return None
    # the key holds the program version and the cache generation, as in look_up
    cached: bytes | None = await ctx.cache.get_snapshot_bytes(ctx.snapshot_key(card))
    return cached
