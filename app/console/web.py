"""`/console`: the marketer's console, HTML for browsers (issue 18 part 5). Not in the OpenAPI schema.

Signs in as the report pages do (a marketer or admin key as the Basic password, or Bearer), under the same
headers, except that its forms may post to this origin (`form-action 'self'`). Every POST is checked for the
key's CSRF token after the key itself (no key: 401, a pos key: 403 `forbidden`, as on the JSON API), and a
missing or wrong token is a 403 page before anything is changed. A POST that succeeds answers 303 to
the page that shows its result, so reloading that page posts nothing again."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.campaigns import service as campaigns
from app.campaigns.endpoints import CampaignIdPath
from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import read_body
from app.program import versions
from app.program.endpoints import VersionPath
from app.program.service import MAX_NOTE_CHARS, publication
from app.reports import web
from app.templates import service as templates
from app.templates.catalogue import TEMPLATES
from app.templates.endpoints import TemplatePath

from . import csrf, pages, service

router = APIRouter(prefix="/console")

HEADERS = {**web._HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"}
_MAX_FIELDS = 100  # the largest form (a template's) has about a dozen fields
_HISTORY_PAGE = 50


async def marketer(request: Request) -> Principal:
    principal = await web.principal(request)
    if not principal.edits_program:
        raise AppError(403, "forbidden", "the console needs a marketer or admin key")
    return principal


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers=HEADERS)


def _token(request: Request, principal: Principal) -> str:
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
    return _html(pages.message("Refused", "This form is out of date or was not sent from the console: open the "
                                          "page again and resend it. Nothing was changed.", "csrf"), 403)


Form = Annotated[tuple[Principal, dict[str, str]], Depends(posted)]


@router.get("", response_class=HTMLResponse, include_in_schema=False)
async def campaigns_page(request: Request, _: Principal = Depends(marketer)) -> HTMLResponse:
    found = await service.overview(request.app.state.ctx)
    return _html(pages.campaigns(found["rows"], found["version"], found["period"]))


@router.get("/templates", response_class=HTMLResponse, include_in_schema=False)
async def templates_page(_: Principal = Depends(marketer)) -> HTMLResponse:
    return _html(pages.templates(templates.listing()["templates"]))


@router.get("/templates/{template_id}", response_class=HTMLResponse, include_in_schema=False)
async def template_page(template_id: TemplatePath, request: Request,
                        principal: Principal = Depends(marketer)) -> HTMLResponse:
    return _html(pages.template_form(templates.describe(TEMPLATES[template_id]), {}, _token(request, principal)))


@router.post("/templates/{template_id}", response_class=HTMLResponse, include_in_schema=False)
async def build_from_template(template_id: TemplatePath, request: Request, form: Form) -> HTMLResponse:
    """The campaign the template makes of the form, as YAML in the editor; the form again with errors."""
    principal, fields = form
    described = templates.describe(TEMPLATES[template_id])
    token = _token(request, principal)
    loaded = request.app.state.ctx.programs.loaded
    try:
        campaign = templates.build(template_id, service.template_params(described["parameters"], fields),
                                   loaded.program if loaded else None)
    except AppError as error:
        if error.status != 422:
            raise
        return _html(pages.template_form(described, fields, token, error.extra.get("errors") or []), 422)
    return _html(pages.editor(f"New campaign: {described['name']}", service.as_yaml(campaign), token))


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse, include_in_schema=False)
async def campaign_page(campaign_id: CampaignIdPath, request: Request,
                        principal: Principal = Depends(marketer)) -> HTMLResponse:
    campaign = campaigns.find(request.app.state.ctx.programs.current, campaign_id)
    return _html(pages.campaign(campaign_id, service.as_yaml(campaign), service.main_fields(campaign),
                                _token(request, principal)))


@router.post("/campaigns/{campaign_id}", response_class=HTMLResponse, include_in_schema=False)
async def publish_fields(campaign_id: CampaignIdPath, request: Request, form: Form) -> Response:
    """The campaign's main fields from the form, the rest kept: published as /console/publish does."""
    principal, fields = form
    ctx = request.app.state.ctx
    note = fields.get("note", "")[:MAX_NOTE_CHARS]
    try:
        version = await service.publish_fields(ctx, campaign_id, fields, publication(principal, note))
    except AppError as error:
        if error.status != 422:
            raise
        campaign = campaigns.find(ctx.programs.current, campaign_id)
        errors = error.extra.get("errors") or [{"path": "(form)", "message": error.detail}]
        return _html(pages.campaign(campaign_id, service.as_yaml(campaign), fields, _token(request, principal),
                                    errors), 422)
    return RedirectResponse(f"/console/history?published={version}", 303, headers=HEADERS)


@router.post("/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish(request: Request, form: Form) -> Response:
    """Add or replace the campaign as PUT /v1/campaigns/{id} does; errors beside the text, nothing published."""
    principal, fields = form
    text, note = fields.get("yaml", ""), fields.get("note", "")[:MAX_NOTE_CHARS]
    try:
        campaign_id, version = await service.publish(request.app.state.ctx, text, publication(principal, note))
    except AppError as error:
        if error.status != 422:
            raise
        return _html(pages.editor("Campaign not published", text, _token(request, principal),
                                  error.extra.get("errors") or [{"path": "(text)", "message": error.detail}],
                                  note), 422)
    return RedirectResponse(f"/console/history?published={version}", 303, headers=HEADERS)


@router.get("/history", response_class=HTMLResponse, include_in_schema=False)
async def history_page(request: Request, cursor: Annotated[str | None, Query(max_length=64)] = None,
                       published: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                       _: Principal = Depends(marketer)) -> HTMLResponse:
    listing = await versions.page(request.app.state.ctx.db, _HISTORY_PAGE, cursor)
    return _html(pages.history(listing, f"Published version {published}." if published else ""))


@router.get("/history/{version}", response_class=HTMLResponse, include_in_schema=False)
async def version_page(version: VersionPath, request: Request,
                       principal: Principal = Depends(marketer)) -> HTMLResponse:
    document = await versions.document(request.app.state.ctx.db, version)
    return _html(pages.version(version, service.as_yaml(document), _token(request, principal)))


@router.get("/diff", response_class=HTMLResponse, include_in_schema=False)
async def diff_page(request: Request, version: Annotated[int, Query(ge=1, le=2**31 - 1)],
                    against: Annotated[int, Query(ge=1, le=2**31 - 1)],
                    _: Principal = Depends(marketer)) -> HTMLResponse:
    found = await versions.difference(request.app.state.ctx.db, version, against)
    return _html(pages.difference(version, against, found))


@router.post("/rollback", response_class=HTMLResponse, include_in_schema=False)
async def rollback(request: Request, form: Form) -> Response:
    """Publish an earlier version's document again as a new version (versions.rollback)."""
    principal, fields = form
    chosen = fields.get("version", "")
    if not chosen.isdigit() or not 1 <= int(chosen) <= 2**31 - 1:
        return _html(pages.message("Not rolled back", "Choose a version from the history.", "version"), 422)
    note = fields.get("note", "")[:MAX_NOTE_CHARS]
    try:
        version, _ = await versions.rollback(request.app.state.ctx, int(chosen), publication(principal, note))
    except AppError as error:
        if error.status != 422:
            raise
        errors = error.extra.get("errors") or []
        return _html(pages.message("Not rolled back", "; ".join(f"{e['path']}: {e['message']}" for e in errors)
                                   or error.detail, "invalid"), 422)
    return RedirectResponse(f"/console/history?published={version}", 303, headers=HEADERS)
