"""How the console answers and takes forms: its headers, its key check, and the CSRF-checked form of a POST.

Signs in as the report pages do (a marketer or admin key as the Basic password, or Bearer), under the same
headers, except that its forms may post to this origin (`form-action 'self'`). Every POST is checked for the
key's CSRF token after the key itself (no key: 401, a pos key: 403 `forbidden`, as on the JSON API), and a
missing or wrong token is a 403 page before anything is changed."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import read_body
from app.reports import web

from . import csrf, pages

HEADERS = {**web.PAGE_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"}
_MAX_FIELDS = 100  # the largest form (a template's) has about a dozen fields


async def marketer(request: Request) -> Principal:
    principal = await web.principal(request)
    if not principal.edits_program:
        raise AppError(403, "forbidden", "the console needs a marketer or admin key")
    return principal


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers=HEADERS)


def token(request: Request, principal: Principal) -> str:
    return csrf.token(csrf.secret_of(request.app.state.settings.console_secret), principal.key_id)


class CsrfRefusedError(Exception):
    """A POST without this key's CSRF token: answered with a 403 page by `csrf_refused`."""


async def posted(request: Request, principal: Principal = Depends(marketer)) -> tuple[Principal, dict[str, str]]:
    """The key and its form's fields (the last of a repeated name), once the CSRF token is the key's."""
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    try:
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:  # more fields than any console form has
        raise AppError(422, "validation_error", f"a console form has at most {_MAX_FIELDS} fields") from None
    fields = {name: values[-1] for name, values in parsed.items()}
    secret = csrf.secret_of(request.app.state.settings.console_secret)
    if not csrf.valid(secret, principal.key_id, fields.get(csrf.FIELD)):
        raise CsrfRefusedError
    return principal, fields


def csrf_refused(request: Request, error: Exception) -> Response:
    return html(pages.message("Refused", "This form is out of date or was not sent from the console: open the "
                                         "page again and resend it. Nothing was changed.", "csrf"), 403)


Form = Annotated[tuple[Principal, dict[str, str]], Depends(posted)]
