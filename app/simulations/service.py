"""Simulations: accept a draft (checked whole before anything is queued), read jobs, page through them."""

from __future__ import annotations

from typing import Any

from app.core.context import AppContext
from app.core.errors import AppError, not_found
from app.program import repository as programs
from rules import ProgramError, parse_program

from . import repository
from .schemas import MAX_PERIOD_DAYS, MAX_QUEUED, SimulationRequest


def _merged(active: dict[str, Any], changes: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[int, int]]:
    """The active document with `changes` replacing campaigns of the same id or added at the end; and where
    each changed campaign landed (its index in the document → its index in `changes`), for error paths."""
    campaigns = list(active.get("campaigns", []))
    at = {c.get("id"): i for i, c in enumerate(campaigns) if isinstance(c, dict)}
    landed: dict[int, int] = {}
    for index, change in enumerate(changes):
        place = at.get(change.get("id"))
        if place is None:
            place = at[change.get("id")] = len(campaigns)
            campaigns.append(change)
        else:
            campaigns[place] = change
        landed[place] = index
    return {**active, "campaigns": campaigns}, landed


def _draft_errors(error: ProgramError, landed: dict[int, int] | None) -> list[dict[str, str]]:
    """Paths in the request: `program.…`, or `campaigns[i].…` for a changed campaign (a problem elsewhere in the
    merged document, e.g. two campaigns with one code, is `program.…` of the merged document)."""
    errors = []
    for problem in error.errors:
        path = problem["path"]
        if landed is not None and path.startswith("campaigns["):
            index = int(path[len("campaigns["):path.index("]")])
            if index in landed:
                errors.append({"path": f"campaigns[{landed[index]}]{path[path.index(']') + 1:]}",
                               "message": problem["message"]})
                continue
        errors.append({"path": f"program.{path}" if path else "program", "message": problem["message"]})
    return errors


async def submit(ctx: AppContext, request: SimulationRequest, author: str) -> int:
    """The new job's id; 422 or 404 with nothing queued when the draft, the period or the baseline is wrong."""
    if request.period_from > request.period_to:
        raise AppError(422, "invalid_period", "from is after to",
                       errors=[{"path": "to", "message": "must not be before from"}])
    if (request.period_to - request.period_from).days + 1 > MAX_PERIOD_DAYS:
        raise AppError(422, "invalid_period", f"a simulation covers at most {MAX_PERIOD_DAYS} days",
                       errors=[{"path": "to", "message": f"at most {MAX_PERIOD_DAYS - 1} days after from"}])
    async with ctx.db.transaction() as conn:
        active = await programs.latest(conn)
        if active is None:
            raise AppError(503, "program_not_loaded", "no program is loaded: PUT /v1/program first",
                           headers={"Retry-After": "1"})
        if request.baseline == "active":
            baseline = active
        else:
            baseline = await programs.by_version(conn, request.baseline)
            if baseline is None:
                raise not_found("program_version_not_found", f"no program version {request.baseline}")
        landed = None
        if request.program is not None:
            document = request.program
        else:
            document, landed = _merged(dict(active["document"]), request.campaigns or [])
        try:
            draft = parse_program(document)
        except ProgramError as error:
            raise AppError(422, "invalid_program", "the draft program is invalid",
                           errors=_draft_errors(error, landed)) from None
        if await repository.queued_count(conn) >= MAX_QUEUED:
            raise AppError(409, "too_many_simulations", f"{MAX_QUEUED} simulations are waiting already; retry "
                                                        "when one has started")
        return await repository.insert_job(conn, request.period_from, request.period_to, draft.document(),
                                           dict(baseline["document"]), int(baseline["version"]), author)


def job_json(row: Any) -> dict[str, Any]:
    job = {
        "id": row["id"], "status": row["status"], "from": row["period_from"].isoformat(),
        "to": row["period_to"].isoformat(), "baseline_version": row["baseline_version"], "author": row["author"],
        "progress": {"receipts_done": row["receipts_done"], "receipts_total": row["receipts_total"]},
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }
    if row["status"] == "failed":
        job["error"] = row["error"]
    if row["status"] == "done" and row.get("result") is not None:
        job["result"] = row["result"]
    return job


async def get(ctx: AppContext, job_id: int) -> dict[str, Any]:
    async with ctx.db.connection() as conn:
        row = await repository.job(conn, job_id)
    if row is None:
        raise not_found("simulation_not_found", f"no simulation {job_id}")
    return job_json(row)


async def page(ctx: AppContext, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, without results (GET one for its result); `next_cursor` is the last id on the page."""
    before = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 19:
            raise AppError(422, "invalid_cursor", "the cursor is not one this service gave")
        before = int(cursor)
    async with ctx.db.connection() as conn:
        rows = await repository.jobs_page(conn, limit, before)
    chosen = rows[:limit]
    return {"simulations": [job_json(row) for row in chosen],
            "next_cursor": str(chosen[-1]["id"]) if len(rows) > limit else None}


async def get_with_documents(ctx: AppContext, job_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The job as `get` answers it, with the draft program and the baseline document it stores (the console
    shows and publishes the draft from there)."""
    async with ctx.db.connection() as conn:
        row = await repository.job(conn, job_id, documents=True)
    if row is None:
        raise not_found("simulation_not_found", f"no simulation {job_id}")
    return job_json(row), dict(row["program"]), dict(row["baseline"])
