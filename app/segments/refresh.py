"""The refresh: every custom segment evaluated in SQL in one pass over the accounts, and the membership
written on the account rows (`accounts.segments`), where confirm reads it with the locked row for free.

Membership is "as of a refresh". The background loop of `serve` (beside the report roll-up) refreshes when
the oldest segment's refresh is older than `segment_refresh_s`, on the roll-up's figures of that moment, so
a campaign steered by a custom segment sees membership at most `max_age` old (docs/contract.md, Custom
segments). A change of a segment's document refreshes at once; `bonus-engine segments refresh` does too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.core import metrics
from app.core.context import utcnow
from app.core.db import Database
from app.core.settings import Settings
from app.program.service import ProgramHolder
from app.reports.rollup import REQUEST_SPAN_XIDS, refresh_rfm_bounds, roll_up
from rules import Program

from . import repository
from .filters import Compiler
from .schemas import SegmentDocument

log = logging.getLogger("bonus_engine.segments")

APPLY_IDS = 10_000  # accounts per transaction when membership is written: a confirm waits for one at most


# The age a confirm's membership can have in `serve`: segment_refresh_s, plus the loop's interval twice (once
# for the check that finds it stale, once for the roll-up whose figures it reads), plus the refresh's own run,
# which should stay below this; a longer one is logged. It does not yet at scale: about 200 s for 20 segments
# at 1 M accounts and 4 M receipts on a loaded 2-core machine (loadtests/RESULTS.md, Custom segments)
REFRESH_RUN_S = 60


@dataclass(frozen=True, slots=True)
class Refreshed:
    segments: int
    changed: int  # account rows whose membership changed
    seconds: float


async def refresh(db: Database, program: Program, time_zone: str, *, wait: bool = True,
                  roll: bool = True) -> Refreshed | None:
    """Evaluate every segment now and write who is in each; None when another refresh holds the lock and
    `wait` is False. `roll`: fold the newest receipts into the roll-up's figures first (within a request's
    span: a wider window is the background roll-up's)."""
    started = time.perf_counter()
    if roll:
        await roll_up(db, time_zone, max_span=REQUEST_SPAN_XIDS)
        await refresh_rfm_bounds(db)
    async with db.connection() as conn:
        if not await repository.try_lock_refresh(conn, wait):
            return None
        try:
            now = utcnow()
            rows = await repository.all_segments(conn)
            compiler = Compiler(now, now.astimezone(ZoneInfo(time_zone)).date(), time_zone, program)
            filters = [(row["id"], SegmentDocument.model_validate(row["document"]).filter) for row in rows]
            select, params = compiler.membership(filters)
            await repository.stage(conn, select, params)
            low, high = await repository.id_range(conn)
            changed = 0
            for start in range(low, high + 1, APPLY_IDS):
                changed += await repository.apply(conn, start, start + APPLY_IDS)
            await repository.record_counts(conn, {row["id"]: row["updated_at"] for row in rows}, now)
        finally:
            await repository.unlock_refresh(conn)
    done = Refreshed(len(rows), changed, time.perf_counter() - started)
    metrics.SEGMENT_REFRESHES.inc()
    metrics.SEGMENT_REFRESH_SECONDS.observe(done.seconds)
    return done


async def refresh_if_stale(db: Database, program: Program, time_zone: str, older_than_s: float,
                           now: datetime | None = None) -> Refreshed | None:
    """The loop's step: refresh when a segment was never refreshed or its refresh is older than
    `older_than_s`; None when none is (or another worker is refreshing)."""
    async with db.connection() as conn:
        defined, oldest = await repository.oldest_refresh(conn)
    if not defined or (oldest is not None and (now or utcnow()) - oldest <= timedelta(seconds=older_than_s)):
        return None
    done = await refresh(db, program, time_zone, wait=False, roll=False)  # the loop has just rolled up
    if done is not None and done.seconds > REFRESH_RUN_S:
        log.warning("custom segments took %.1f s to refresh, over the %s s their stated age allows",
                    done.seconds, REFRESH_RUN_S)
    elif done is not None:
        log.info("custom segments refreshed: %s segments, %s accounts changed, %.1f s",
                 done.segments, done.changed, done.seconds)
    return done


async def refresh_forever(db: Database, programs: ProgramHolder, settings: Settings) -> None:
    """The loop inside `serve`, beside the roll-up: every report interval, refresh when older than
    `segment_refresh_s`. Safe in every worker at once (one holds the lock, the others skip)."""
    interval_s, time_zone = settings.report_interval_s, settings.report_time_zone
    while True:
        await asyncio.sleep(interval_s)
        program = programs.loaded
        if program is None:
            continue
        try:
            await refresh_if_stale(db, program.program, time_zone, settings.segment_refresh_s)
        except Exception as error:  # a database outage must not end the loop
            log.warning("custom segment refresh failed: %s", error)
