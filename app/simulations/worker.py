"""In every `serve` worker: fail the jobs whose process died, and claim and start queued ones.

Each worker runs at most one job at a time, as a child process `bonus-engine simulations run ID` that lowers
its own priority (nice 19) before it reads anything, so confirms keep the CPU they need. The claim is one
UPDATE … WHERE status = 'queued': of two instances, one gets the job. A job whose process stops writing
(killed, or its instance restarted or lost) is failed once it has been silent for `simulation_stale_s`, by
whichever instance looks first; it is not taken over, since its half-done figures are lost with the process.
The child's exit without an answer fails its job at once. Stopping the instance stops its child and fails
its job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from app.core.db import Database
from app.core.settings import Settings

from . import repository
from .runner import runner_name

log = logging.getLogger("bonus_engine.simulations")


async def _run_child(db: Database, job_id: int) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "simulations", "run", str(job_id))
    try:
        code = await process.wait()
    except asyncio.CancelledError:  # the instance is stopping
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
        async with db.connection() as conn:
            await repository.fail(conn, job_id, "its instance stopped while it ran; submit it again")
        raise
    if code != 0:
        async with db.connection() as conn:  # a no-op when the process recorded its own failure
            await repository.fail(conn, job_id, f"its process exited with code {code}")


async def run_forever(db: Database, settings: Settings) -> None:
    child: asyncio.Task[None] | None = None
    try:
        while True:
            try:
                async with db.connection() as conn:
                    for stale_id in await repository.fail_stale(conn, settings.simulation_stale_s):
                        log.warning("simulation %s failed: its process stopped reporting", stale_id)
                    if child is not None and child.done():
                        if not child.cancelled() and child.exception() is not None:
                            log.error("running a simulation's process failed", exc_info=child.exception())
                        child = None
                    if child is None:
                        claimed = await repository.claim(conn, runner_name())
                        if claimed is not None:
                            child = asyncio.create_task(_run_child(db, claimed))
            except Exception:  # the database is away: try again at the next poll
                log.exception("simulation poll failed")
            await asyncio.sleep(settings.simulation_poll_s)
    finally:
        if child is not None and not child.done():
            child.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await child
