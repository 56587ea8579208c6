"""`GET /reports`: the report page for people, in a browser, with its CVM segments' pages; and how every page
for people signs in, which the customer card's page (app/customers/web.py) and the console share.

A browser cannot send `Authorization: Bearer`, so the page also takes the key (admin or marketer) as the password of
HTTP Basic auth (any user name): without a valid key the answer is 401 with a Basic challenge, and the
browser asks for it. Bearer keys work as on the JSON API, for scripts and tests.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from app.core.auth import Principal, bearer_key
from app.core.errors import AppError

from . import members_page, page, service
from .endpoints import period  # the JSON API's query parameters: same names, same checks

router = APIRouter()

REALM = "bonus-engine reports"
# The page loads nothing and runs nothing: a policy that forbids both makes any escaping slip harmless.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def presented_key(authorization: str) -> str | None:
    """The key in `Authorization: Bearer <key>` or in the password of `Authorization: Basic`."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return bearer_key(authorization)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, colon, password = decoded.partition(":")
    return password if colon and password else None


async def _principal(request: Request) -> Principal:
    """The key, as a Bearer token or as the Basic password; without one the answer is the challenge whatever
    the query says (the dependencies below run before the query is read)."""
    key = presented_key(request.headers.get("authorization", ""))
    principal: Principal | None = await request.app.state.keys.find(request.app.state.db, key) if key else None
    if principal is None:
        raise AppError(401, "unauthorized", "sign in with a marketer or admin key as the password (any user name)",
                       headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
    return principal


principal = _principal  # the console (app/console/web.py) signs in the same way, in the same realm


async def marketer(request: Request) -> None:
    """The report pages: a marketer or an admin key."""
    if not (await _principal(request)).edits_program:
        raise AppError(403, "forbidden", "the reports page needs a marketer or admin key")


async def admin(request: Request) -> None:
    """One customer's card (app/customers/web.py; balance and profile, as GET /v1/accounts/{card}/insights): an
    admin key."""
    if not (await _principal(request)).is_admin:
        raise AppError(403, "forbidden", "a customer's card needs an admin key")


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def reports_page(request: Request, _: None = Depends(marketer),
                       chosen: service.Period = Depends(period)) -> HTMLResponse:
    reports = await service.all_reports(request.app.state.ctx, chosen)
    return HTMLResponse(page.render(**reports), headers=PAGE_HEADERS)


@router.get("/reports/segments/{segment}", response_class=HTMLResponse, include_in_schema=False)
async def segment_page(segment: Annotated[str, Path(max_length=16)], request: Request,
                       _: None = Depends(marketer)) -> HTMLResponse:
    """A CVM segment's first members, each a link to their card."""
    rows = await service.first_members(request.app.state.ctx, service.check_segment(segment))
    return HTMLResponse(members_page.render_members(segment, rows, service.PAGE_MEMBERS), headers=PAGE_HEADERS)

