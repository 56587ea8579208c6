"""HTTP for simulations: submit a draft (202), follow a job, list jobs. Marketer and admin keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.http import PROBLEM_RESPONSES, json_response, read_model

from . import service
from .schemas import REQUEST_BODY, Accepted, Simulation, SimulationPage, SimulationRequest

router = APIRouter(prefix="/v1/simulations", tags=["simulations"], responses=PROBLEM_RESPONSES)
_POST: dict[int | str, dict[str, Any]] = {
    202: {"model": Accepted, "description": "queued; follow the Location",
          "headers": {"Location": {"description": "/v1/simulations/{id}", "schema": {"type": "string"}}}},
    404: {**PROBLEM_RESPONSES[404], "description": "`program_version_not_found`: no such baseline version"},
    409: {**PROBLEM_RESPONSES[409], "description": "`too_many_simulations`: the queue is full"},
    422: {**PROBLEM_RESPONSES[422], "description": "`validation_error`, `invalid_period`, or `invalid_program` with "
                                                   "`errors: [{path, message}]` (paths in the request)"},
}
_GET: dict[int | str, dict[str, Any]] = {
    404: {**PROBLEM_RESPONSES[404], "description": "`simulation_not_found`"}}


@router.post("", status_code=202, openapi_extra=REQUEST_BODY, responses=_POST,
             summary="Simulate a draft program (or campaign changes) on the stored receipts of a period")
async def post_simulation(request: Request, principal: Principal = Depends(auth.marketer)) -> Response:
    body = await read_model(request, SimulationRequest)
    job_id = await service.submit(request.app.state.ctx, body, f"key:{principal.key_id}")
    return json_response({"id": job_id, "status": "queued"}, 202, {"Location": f"/v1/simulations/{job_id}"})


@router.get("", response_model=SimulationPage, summary="Simulations, newest first, cursor-paged (no results)")
async def list_simulations(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    _: Principal = Depends(auth.marketer),
) -> Response:
    return json_response(await service.page(request.app.state.ctx, limit, cursor))


@router.get("/{simulation_id}", response_model=Simulation, responses=_GET,
            summary="A simulation: status, progress, and its result once done")
async def get_simulation(simulation_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request,
                         _: Principal = Depends(auth.marketer)) -> Response:
    return json_response(await service.get(request.app.state.ctx, simulation_id))
