"""The console's simulations: a draft campaign from the editor or the fields form is simulated the way
`POST /v1/simulations` simulates campaign changes (app.simulations.service.submit: the same checks, the same
queue, the same worker), and the draft is read back from the job's own row to show, edit and publish: the
console keeps nothing of its own.

Errors come back at paths the console's forms show: relative to the campaign for the draft (as publishing
shows them), `period_from`, `period_to` and `baseline` for the simulation's own fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.core.context import AppContext
from app.core.errors import AppError
from app.reports import service as reports
from app.simulations import service as simulations
from app.simulations.schemas import SimulationRequest
from rules import ProgramError, parse_program

PERIOD_FIELDS = ("period_from", "period_to", "baseline")
_ACTIVE = "active"


def defaults(ctx: AppContext) -> dict[str, str]:
    """The period the forms offer: the last 30 days to today (the report time zone), against the active program."""
    period = reports.parse_period(ctx)
    return {"period_from": period.start.isoformat(), "period_to": period.end.isoformat(), "baseline": _ACTIVE}


def period_values(fields: dict[str, str], ctx: AppContext) -> dict[str, str]:
    """The simulation's fields as sent, a blank one taking its default: what the form shows again."""
    offered = defaults(ctx)
    return {name: fields.get(name, "").strip() or offered[name] for name in PERIOD_FIELDS}


def _day(text: str, path: str, errors: list[dict[str, str]]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append({"path": path, "message": f"a date, YYYY-MM-DD: {text!r}"})
        return None


def _baseline(text: str, errors: list[dict[str, str]]) -> str | int:
    if text.lower() == _ACTIVE:
        return _ACTIVE
    if text.isdigit() and 1 <= int(text) <= 2**31 - 1:
        return int(text)
    errors.append({"path": "baseline", "message": "'active' or a program version number"})
    return _ACTIVE


def _request(campaign: dict[str, Any], values: dict[str, str]) -> SimulationRequest:
    """The API's request for this draft, or 422 `invalid_period` with each bad field at its name."""
    errors: list[dict[str, str]] = []
    first = _day(values["period_from"], "period_from", errors)
    last = _day(values["period_to"], "period_to", errors)
    baseline = _baseline(values["baseline"], errors)
    if errors or first is None or last is None:
        raise AppError(422, "invalid_period", "the simulation's period or baseline is invalid", errors=errors)
    return SimulationRequest.model_validate({"campaigns": [campaign], "from": first, "to": last,
                                             "baseline": baseline})


def _campaign_path(error: dict[str, str]) -> dict[str, str]:
    """`campaigns[0].thresholds[0].percent` (the request's path of the one changed campaign) → relative to it,
    as publishing shows it; a problem elsewhere in the merged program keeps its `program.…` path."""
    path = error["path"]
    if path == "campaigns[0]":  # pydantic reports a missing or unknown `type` (the union's tag) at the campaign
        return {**error, "path": "type" if "'type'" in error["message"] else "(text)"}
    if path.startswith("campaigns[0]."):
        return {**error, "path": path[len("campaigns[0]."):]}
    return error


_FIELD_OF = {"from": "period_from", "to": "period_to"}


async def simulate(ctx: AppContext, campaign: dict[str, Any], values: dict[str, str], author: str) -> int:
    """Queue the active program with `campaign` added or replacing the one of its id, over the period, against
    the baseline; the job's id. 422 with the paths above, and nothing queued, when anything is wrong."""
    try:
        return await simulations.submit(ctx, _request(campaign, values), author)
    except AppError as error:
        errors = error.extra.get("errors") or []
        if error.code == "invalid_program":
            raise AppError(422, "invalid_campaign", "the campaign is invalid; paths are relative to it",
                           errors=[_campaign_path(e) for e in errors]) from None
        if error.code == "invalid_period":
            raise AppError(422, "invalid_period", error.detail,
                           errors=[{**e, "path": _FIELD_OF.get(e["path"], e["path"])} for e in errors]) from None
        if error.code == "program_version_not_found":
            raise AppError(422, "invalid_period", error.detail,
                           errors=[{"path": "baseline", "message": error.detail}]) from None
        raise


@dataclass(frozen=True, slots=True)
class Draft:
    """A simulation's job (as GET /v1/simulations/{id} answers it) and what its draft changes against its
    baseline: the campaigns it adds or changes (whole, to publish), and the ids of those it leaves out."""

    job: dict[str, Any]
    changed: list[dict[str, Any]]
    removed: list[str]

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        return next((c for c in self.changed if c.get("id") == campaign_id), None)


def _normalized(document: dict[str, Any]) -> dict[str, Any]:
    """A document as the draft is stored (parsed and dumped), so that an unchanged campaign compares equal."""
    try:
        return parse_program(document).document()
    except ProgramError:  # a version stored under older rules: compared as it is
        return document


def changes(draft: dict[str, Any], baseline: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The draft's campaigns that are not in the baseline as they are, and the baseline's ids the draft lacks."""
    theirs = {c.get("id"): c for c in _normalized(baseline).get("campaigns", [])}
    mine = draft.get("campaigns", [])
    ids = {c.get("id") for c in mine}
    return ([c for c in mine if theirs.get(c.get("id")) != c],
            [str(i) for i in theirs if i not in ids])


async def draft(ctx: AppContext, job_id: int) -> Draft:
    job, program, baseline = await simulations.get_with_documents(ctx, job_id)
    changed, removed = changes(program, baseline)
    return Draft(job, changed, removed)


def values_of(job: dict[str, Any]) -> dict[str, str]:
    """A job's period and baseline as the forms take them, to simulate an edited draft over the same again."""
    return {"period_from": job["from"], "period_to": job["to"], "baseline": str(job["baseline_version"])}

