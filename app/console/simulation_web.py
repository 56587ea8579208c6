"""`/console/simulate…` and `/console/simulations…`: a draft from the editor or the fields form simulated as
`POST /v1/simulations` does, its progress and results, and the recent simulations (issue 18 part 5).

Included in app/console/web.py's router; the same sign-in, headers and CSRF check
(app/console/http.py). A draft that is wrong answers its form again (422) with each error at its path and
nothing queued; one that is queued answers 303 to its page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.campaigns import service as campaigns
from app.campaigns.endpoints import CampaignIdPath
from app.core.auth import Principal
from app.core.errors import AppError, not_found
from app.program.service import MAX_NOTE_CHARS
from app.simulations import service as simulations_api

from . import http, pages, service, simulation_pages, simulations
from .http import HEADERS, Form, marketer

router = APIRouter(prefix="/console")

SimulationPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
_LIST_PAGE = 50


def _author(principal: Principal) -> str:
    return f"key:{principal.key_id}"  # as POST /v1/simulations records it


def _started(job_id: int) -> RedirectResponse:
    return RedirectResponse(f"/console/simulations/{job_id}", 303, headers=HEADERS)


@router.post("/simulate", response_class=HTMLResponse, include_in_schema=False)
async def simulate(request: Request, form: Form) -> Response:
    """The editor's YAML simulated over the form's period; errors beside the text, nothing queued."""
    principal, fields = form
    ctx = request.app.state.ctx
    text, note = fields.get("yaml", ""), fields.get("note", "")[:MAX_NOTE_CHARS]
    values = simulations.period_values(fields, ctx)
    try:
        job_id = await simulations.simulate(ctx, service.campaign_of(text), values, _author(principal))
    except AppError as error:
        if error.status != 422:
            raise
        errors = error.extra.get("errors") or [{"path": "(text)", "message": error.detail}]
        return http.html(pages.editor("Campaign not simulated", text, http.token(request, principal), values, errors,
                                      note), 422)
    return _started(job_id)


@router.post("/campaigns/{campaign_id}/simulate", response_class=HTMLResponse, include_in_schema=False)
async def simulate_fields(campaign_id: CampaignIdPath, request: Request, form: Form) -> Response:
    """The campaign with the fields form's main fields (the rest kept) simulated over the form's period."""
    principal, fields = form
    ctx = request.app.state.ctx
    values = simulations.period_values(fields, ctx)
    try:
        job_id = await simulations.simulate(ctx, service.fields_campaign(ctx, campaign_id, fields), values,
                                            _author(principal))
    except AppError as error:
        if error.status != 422:
            raise
        campaign = campaigns.find(ctx.programs.current, campaign_id)
        errors = error.extra.get("errors") or [{"path": "(form)", "message": error.detail}]
        return http.html(pages.campaign(campaign_id, service.as_yaml(campaign), {**fields, **values},
                                        http.token(request, principal), values, errors), 422)
    return _started(job_id)


@router.get("/simulations", response_class=HTMLResponse, include_in_schema=False)
async def simulations_page(request: Request, cursor: Annotated[str | None, Query(max_length=32)] = None,
                           _: Principal = Depends(marketer)) -> HTMLResponse:
    listing = await simulations_api.page(request.app.state.ctx, _LIST_PAGE, cursor)
    return http.html(simulation_pages.simulations(listing))


@router.get("/simulations/{simulation_id}", response_class=HTMLResponse, include_in_schema=False)
async def simulation_page(simulation_id: SimulationPath, request: Request,
                          principal: Principal = Depends(marketer)) -> HTMLResponse:
    """Progress (reloading itself) until done, then the results; the draft to publish or edit again."""
    draft = await simulations.draft(request.app.state.ctx, simulation_id)
    changed = [(campaign, service.as_yaml(campaign)) for campaign in draft.changed]
    return http.html(simulation_pages.simulation(draft.job, changed, draft.removed, http.token(request, principal)))


@router.get("/simulations/{simulation_id}/campaigns/{campaign_id}", response_class=HTMLResponse,
            include_in_schema=False)
async def draft_editor(simulation_id: SimulationPath, campaign_id: CampaignIdPath, request: Request,
                       principal: Principal = Depends(marketer)) -> HTMLResponse:
    """A campaign of the simulation's draft back in the editor, over the simulation's period and baseline."""
    draft = await simulations.draft(request.app.state.ctx, simulation_id)
    campaign = draft.campaign(campaign_id)
    if campaign is None:
        raise not_found("campaign_not_found", f"simulation {simulation_id}'s draft does not change {campaign_id!r}")
    notice = (f"The draft of simulation {simulation_id}. Publishing adds it to the active program as it is now, "
              "or replaces the campaign of its id there.")
    return http.html(pages.editor(f"Draft {campaign_id}", service.as_yaml(campaign), http.token(request, principal),
                                  simulations.values_of(draft.job), notice=notice))
