"""`/console`: the marketer's console, HTML for browsers (issue 18 part 5). Not in the OpenAPI schema.

Signs in, answers and checks each POST's CSRF token as app/console/http.py says. A POST that succeeds answers
303 to the page that shows its result, so reloading that page posts nothing again. The simulations' pages
are app/console/simulation_web.py's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.campaigns import service as campaigns
from app.campaigns.endpoints import CampaignIdPath
from app.core.auth import Principal
from app.core.errors import AppError
from app.program import versions
from app.program.endpoints import VersionPath
from app.program.service import MAX_NOTE_CHARS, publication
from app.templates import service as templates
from app.templates.catalogue import TEMPLATES
from app.templates.endpoints import TemplatePath

from . import http, pages, service, simulation_web, simulations
from .http import HEADERS, Form, marketer

_pages = APIRouter(prefix="/console")

_HISTORY_PAGE = 50


@_pages.get("", response_class=HTMLResponse, include_in_schema=False)
async def campaigns_page(request: Request, _: Principal = Depends(marketer)) -> HTMLResponse:
    found = await service.overview(request.app.state.ctx)
    return http.html(pages.campaigns(found["rows"], found["version"], found["period"]))


@_pages.get("/templates", response_class=HTMLResponse, include_in_schema=False)
async def templates_page(_: Principal = Depends(marketer)) -> HTMLResponse:
    return http.html(pages.templates(templates.listing()["templates"]))


@_pages.get("/templates/{template_id}", response_class=HTMLResponse, include_in_schema=False)
async def template_page(template_id: TemplatePath, request: Request,
                        principal: Principal = Depends(marketer)) -> HTMLResponse:
    return http.html(pages.template_form(templates.describe(TEMPLATES[template_id]), {},
                                         http.token(request, principal)))


@_pages.post("/templates/{template_id}", response_class=HTMLResponse, include_in_schema=False)
async def build_from_template(template_id: TemplatePath, request: Request, form: Form) -> HTMLResponse:
    """The campaign the template makes of the form, as YAML in the editor; the form again with errors."""
    principal, fields = form
    described = templates.describe(TEMPLATES[template_id])
    token = http.token(request, principal)
    loaded = request.app.state.ctx.programs.loaded
    try:
        campaign = templates.build(template_id, service.template_params(described["parameters"], fields),
                                   loaded.program if loaded else None)
    except AppError as error:
        if error.status != 422:
            raise
        return http.html(pages.template_form(described, fields, token, error.extra.get("errors") or []), 422)
    return http.html(pages.editor(f"New campaign: {described['name']}", service.as_yaml(campaign), token,
                                  simulations.defaults(request.app.state.ctx)))


@_pages.get("/campaigns/{campaign_id}", response_class=HTMLResponse, include_in_schema=False)
async def campaign_page(campaign_id: CampaignIdPath, request: Request,
                        principal: Principal = Depends(marketer)) -> HTMLResponse:
    ctx = request.app.state.ctx
    campaign = campaigns.find(ctx.programs.current, campaign_id)
    period = simulations.defaults(ctx)
    return http.html(pages.campaign(campaign_id, service.as_yaml(campaign), {**service.main_fields(campaign), **period},
                                    http.token(request, principal), period))


@_pages.post("/campaigns/{campaign_id}", response_class=HTMLResponse, include_in_schema=False)
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
        period = simulations.period_values(fields, ctx)
        return http.html(pages.campaign(campaign_id, service.as_yaml(campaign), {**fields, **period},
                                        http.token(request, principal), period, errors), 422)
    return RedirectResponse(f"/console/history?published={version}", 303, headers=HEADERS)


@_pages.post("/publish", response_class=HTMLResponse, include_in_schema=False)
async def publish(request: Request, form: Form) -> Response:
    """Add or replace the campaign as PUT /v1/campaigns/{id} does; errors beside the text, nothing published."""
    principal, fields = form
    text, note = fields.get("yaml", ""), fields.get("note", "")[:MAX_NOTE_CHARS]
    try:
        campaign_id, version = await service.publish(request.app.state.ctx, text, publication(principal, note))
    except AppError as error:
        if error.status != 422:
            raise
        return http.html(pages.editor("Campaign not published", text, http.token(request, principal),
                                      simulations.period_values(fields, request.app.state.ctx),
                                      error.extra.get("errors") or [{"path": "(text)", "message": error.detail}],
                                      note), 422)
    return RedirectResponse(f"/console/history?published={version}", 303, headers=HEADERS)


@_pages.get("/history", response_class=HTMLResponse, include_in_schema=False)
async def history_page(request: Request, cursor: Annotated[str | None, Query(max_length=64)] = None,
                       published: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                       _: Principal = Depends(marketer)) -> HTMLResponse:
    listing = await versions.page(request.app.state.ctx.db, _HISTORY_PAGE, cursor)
    return http.html(pages.history(listing, f"Published version {published}." if published else ""))


@_pages.get("/history/{version}", response_class=HTMLResponse, include_in_schema=False)
async def version_page(version: VersionPath, request: Request,
                       principal: Principal = Depends(marketer)) -> HTMLResponse:
    document = await versions.document(request.app.state.ctx.db, version)
    return http.html(pages.version(version, service.as_yaml(document), http.token(request, principal)))


@_pages.get("/diff", response_class=HTMLResponse, include_in_schema=False)
async def diff_page(request: Request, version: Annotated[int, Query(ge=1, le=2**31 - 1)],
                    against: Annotated[int, Query(ge=1, le=2**31 - 1)],
                    _: Principal = Depends(marketer)) -> HTMLResponse:
    found = await versions.difference(request.app.state.ctx.db, version, against)
    return http.html(pages.difference(version, against, found))


@_pages.post("/rollback", response_class=HTMLResponse, include_in_schema=False)
async def rollback(request: Request, form: Form) -> Response:
    """Publish an earlier version's document again as a new version (versions.rollback)."""
    principal, fields = form
    chosen = fields.get("version", "")
    if not chosen.isdigit() or not 1 <= int(chosen) <= 2**31 - 1:
        return http.html(pages.message("Not rolled back", "Choose a version from the history.", "version"), 422)
    note = fields.get("note", "")[:MAX_NOTE_CHARS]
    try:
        version, _ = await versions.rollback(request.app.state.ctx, int(chosen), publication(principal, note))
    except AppError as error:
        if error.status != 422:
            raise
        errors = error.extra.get("errors") or []
        return http.html(pages.message("Not rolled back", "; ".join(f"{e['path']}: {e['message']}" for e in errors)
                                   or error.detail, "invalid"), 422)
    return RedirectResponse(f"/console/history?published={version}", 303, headers=HEADERS)


router = APIRouter()  # every console route, each router with its own prefix (app/main.py includes this one)
router.include_router(_pages)
router.include_router(simulation_web.router)
