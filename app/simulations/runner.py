"""A simulation job's own process: `bonus-engine simulations run ID`, started by the serving instance that
claimed the job (worker.py), at the lowest CPU priority.

It reads on one connection and writes progress on a second one (the reading transaction's writes would not
be seen before it ends): every PROGRESS_EVERY_RECEIPTS receipts, and a heartbeat every HEARTBEAT_S even while
a statement runs, so that a job whose process is gone is told apart from a slow one (worker.fail_stale)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from zoneinfo import ZoneInfo

import asyncpg

from app.core.db import connect
from app.core.settings import Settings
from rules import compile_program, parse_program

from . import repository
from .parallel import replay_parallel
from .replay import Period, replay
from .report import result

log = logging.getLogger("bonus_engine.simulations")

HEARTBEAT_S = 5.0  # well inside Settings.simulation_stale_s (60 s by default)
# below this a period is replayed in the job's process alone (spawning the parts costs about a second), unless
# BONUS_ENGINE_SIMULATION_PROCESSES asks for more than one
PARALLEL_FROM_RECEIPTS = 20_000


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _Reporter:
    """Progress and heartbeats on the job's row, one write at a time on their connection."""

    def __init__(self, conn: asyncpg.Connection, job_id: int):
        self.conn = conn
        self.job_id = job_id
        self.done = 0
        self.total: int | None = None
        self.lock = asyncio.Lock()

    async def tick(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        async with self.lock:
            await repository.progress(self.conn, self.job_id, done, total)

    async def beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            async with self.lock:
                await repository.progress(self.conn, self.job_id, self.done, self.total)


async def run_job(settings: Settings, job_id: int) -> int:
    """0 when the job is done; 1 when it is not this process's to run or it failed (the row says why)."""
    name = runner_name()
    beat = await connect(settings.database_url)
    work = await connect(settings.database_url)
    heartbeat: asyncio.Task[None] | None = None
    try:
        # claimed for it by its serving instance, or queued and run by hand
        if not (await repository.adopt(beat, job_id, name) or await repository.claim_one(beat, job_id, name)):
            log.warning("simulation %s is neither queued nor running: nothing to do", job_id)
            return 1
        row = await repository.job(beat, job_id, documents=True)
        assert row is not None
        reporter = _Reporter(beat, job_id)
        heartbeat = asyncio.create_task(reporter.beat_forever())
        try:
            program = compile_program(parse_program(row["program"]), 0)
            baseline = compile_program(parse_program(row["baseline"]), row["baseline_version"])
            period = Period(row["period_from"], row["period_to"], ZoneInfo(settings.report_time_zone))
            stored, _ = await repository.count_receipts(work, period.start, period.end)
            processes = settings.simulation_processes or (os.cpu_count() or 1)
            if processes > 1 and (settings.simulation_processes > 1 or stored >= PARALLEL_FROM_RECEIPTS):
                documents = [(row["program"], 0), (row["baseline"], row["baseline_version"])]
                replayed = await replay_parallel(settings.database_url, documents, period, processes, stored,
                                                 reporter.tick)
            else:
                replayed = await replay(work, program, baseline, period, reporter.tick)
        except Exception as error:
            log.exception("simulation %s failed", job_id)
            heartbeat.cancel()
            async with reporter.lock:
                await repository.fail(beat, job_id, f"{type(error).__name__}: {error}"[:1000])
            return 1
        heartbeat.cancel()
        async with reporter.lock:
            await repository.finish(beat, job_id, replayed.seen.lines, result(replayed))
        return 0
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await work.close()
        await beat.close()
