"""The refresh: custom segments evaluated in SQL, and the membership written on the account rows
(`accounts.segments`), where confirm reads it with the locked row for free.

A refresh is incremental: it evaluates every segment again only for the accounts whose membership can have
changed since the last one (changes.py: new receipts and refunds, profile changes, time-based conditions
crossing a boundary), so its cost is that of the changes, not of the accounts. A new or changed document is
evaluated alone over every account. A refresh of every segment over every account (one pass, as before)
runs only the first time, when the time zone or the program's tier and CVM settings changed, or on request.

Membership is "as of a refresh". The background loop of `serve` (beside the report roll-up) refreshes when
the oldest segment's refresh is older than `segment_refresh_s`, on the roll-up's figures of that moment, so
a campaign steered by a custom segment sees membership at most `max_age` old (docs/contract.md, Custom
segments). A change of a segment's document refreshes at once; `bonus-engine segments refresh` does too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from asyncpg import Connection
from pydantic import BaseModel

from app.core import metrics
from app.core.context import utcnow
from app.core.db import Database
from app.core.settings import Settings
from app.program.service import ProgramHolder
from app.reports.rollup import REQUEST_SPAN_XIDS, refresh_rfm_bounds, roll_up
from rules import Program

from . import repository
from .changes import Candidates, Seen, program_key
from .filters import Compiler
from .schemas import SegmentDocument

log = logging.getLogger("bonus_engine.segments")

APPLY_IDS = 10_000  # accounts per transaction when membership is written: a confirm waits for one at most


# The age a confirm's membership can have in `serve`: segment_refresh_s, plus the loop's interval twice (once
# for the check that finds it stale, once for the roll-up whose figures it reads), plus the refresh's own run,
# which should stay below this; a longer one is logged. An incremental refresh of 20 segments takes well under
# a second between two roll-ups, a few seconds when a day turns (loadtests/RESULTS.md, Custom segments); a
# refresh of every account (after a change of the program's tiers or CVM days) about a minute at 1 M accounts
REFRESH_RUN_S = 10


@dataclass(frozen=True, slots=True)
class Refreshed:
    segments: int
    changed: int  # account rows whose membership changed
    seconds: float
    evaluated: int | None = None  # accounts evaluated again by an incremental refresh; None: every account


async def refresh(db: Database, program: Program, time_zone: str, *, wait: bool = True, roll: bool = True,
                  full: bool = False, now: datetime | None = None) -> Refreshed | None:
    """Bring every segment's membership up to now; None when another refresh holds the lock and `wait` is
    False. `roll`: fold the newest receipts into the roll-up's figures first (within a request's span: a
    wider window is the background roll-up's). Incremental unless `full`, or unless what every account
    shares changed since the last refresh of every segment (time zone, the program's tier and CVM settings)
    or there was none: a segment not counted yet (new or changed document) is evaluated alone over every
    account, then the accounts whose membership can have changed (changes.py) are evaluated again.
    `now`: the refresh's clock (tests move it)."""
    started = time.perf_counter()
    if roll:
        await roll_up(db, time_zone, max_span=REQUEST_SPAN_XIDS)
        await refresh_rfm_bounds(db)
    async with db.connection() as conn:
        if not await repository.try_lock_refresh(conn, wait):
            return None
        try:
            at = now or utcnow()
            rows = await repository.all_segments(conn)
            filters = [(row["id"], SegmentDocument.model_validate(row["document"]).filter) for row in rows]
            updated = {row["id"]: row["updated_at"] for row in rows}
            seen = await repository.seen(conn)
            key = program_key(program)
            evaluated = None
            if full or seen is None or seen.time_zone != time_zone or seen.program_key != key:
                changed = await _everything(conn, program, time_zone, key, at, filters, updated)
            else:
                changed = 0
                for row in rows:
                    if row["members"] is None:
                        changed += await _one(conn, program, time_zone, at, row["id"], filters, updated)
                more, evaluated = await _changes(conn, program, time_zone, key, at, filters, updated, seen)
                changed += more
        finally:
            await repository.unlock_refresh(conn)
    done = Refreshed(len(rows), changed, time.perf_counter() - started, evaluated)
    metrics.SEGMENT_REFRESHES.inc()
    metrics.SEGMENT_REFRESH_SECONDS.observe(done.seconds)
    return done


def _compiler(program: Program, time_zone: str, at: datetime, only: str | None = None) -> Compiler:
    return Compiler(at, at.astimezone(ZoneInfo(time_zone)).date(), time_zone, program, only)


async def _everything(conn: Connection, program: Program, time_zone: str, key: str, at: datetime,
                      filters: Sequence[tuple[str, BaseModel]], updated: dict[str, datetime]) -> int:
    """Every segment over every account (one pass), written where it changed; remembered as what the next
    incremental refresh starts from."""
    compiler = _compiler(program, time_zone, at)
    select, params = compiler.membership(filters)
    async with conn.transaction(isolation="repeatable_read"):
        since, bounds = await repository.snapshot(conn)
        await repository.stage(conn, select, params)
    low, high = await repository.id_range(conn)
    changed, step = 0, repository.apply_ids(conn, APPLY_IDS)
    for start in range(low, high + 1, step):
        changed += await repository.apply(conn, start, start + step, APPLY_IDS)
    async with conn.transaction():
        await repository.record_counts(conn, updated, at)
        await repository.remember(conn, Seen(at, compiler.today, time_zone, since, key, bounds))
    return changed


async def _one(conn: Connection, program: Program, time_zone: str, at: datetime, segment_id: str,
               filters: Sequence[tuple[str, BaseModel]], updated: dict[str, datetime]) -> int:
    """One segment over every account (a new or changed document), its id added or removed where that
    changed, and counted. What the next incremental refresh starts from stays: it is older, so it finds at
    least the accounts this one's evaluation could have missed since."""
    compiler = _compiler(program, time_zone, at)
    select, params = compiler.membership([(i, node) for i, node in filters if i == segment_id])
    async with conn.transaction():
        await repository.stage(conn, select, params, table="segment_one")
    low, high = await repository.id_range(conn)
    changed, step = 0, repository.apply_ids(conn, APPLY_IDS)
    for start in range(low, high + 1, step):
        changed += await repository.apply_one(conn, segment_id, start, start + step, APPLY_IDS)
    await repository.count_one(conn, segment_id, updated[segment_id], at)
    return changed


async def _changes(conn: Connection, program: Program, time_zone: str, key: str, at: datetime,
                   filters: Sequence[tuple[str, BaseModel]], updated: dict[str, datetime],
                   seen: Seen) -> tuple[int, int]:
    """Every segment over the accounts whose membership can have changed since `seen` (changes.py), written
    where it changed with the counts moved alike; returns (rows changed, accounts evaluated)."""
    compiler = _compiler(program, time_zone, at, only="SELECT id FROM segment_candidates")
    select, params = compiler.membership(filters)
    async with conn.transaction(isolation="repeatable_read"):
        since, bounds = await repository.snapshot(conn)
        candidates = Candidates(seen, at, compiler.today, program, bounds, [])
        listed = candidates.select(compiler.edges)
        evaluated = await repository.stage_candidates(conn, listed, candidates.params, select, params)
    ids = await repository.staged_ids(conn)
    changed = 0
    for start in range(0, len(ids), APPLY_IDS):
        async with conn.transaction():
            changed += await repository.apply_counted(conn, ids[start:start + APPLY_IDS])
    async with conn.transaction():
        await repository.mark_refreshed(conn, updated, at)
        await repository.remember(conn, Seen(at, compiler.today, time_zone, since, key, bounds))
    await repository.drop_staged(conn)
    return changed, evaluated


async def refresh_if_stale(db: Database, program: Program, time_zone: str, older_than_s: float,
                           now: datetime | None = None) -> Refreshed | None:
    """The loop's step: refresh when a segment was never refreshed or its refresh is older than
    `older_than_s`; None when none is (or another worker is refreshing)."""
    async with db.connection() as conn:
        defined, oldest = await repository.oldest_refresh(conn)
    if not defined or (oldest is not None and (now or utcnow()) - oldest <= timedelta(seconds=older_than_s)):
        return None
    done = await refresh(db, program, time_zone, wait=False, roll=False)  # the loop has just rolled up
    evaluated = "every account" if done is None or done.evaluated is None else f"{done.evaluated} accounts"
    if done is not None and done.seconds > REFRESH_RUN_S:
        log.warning("custom segments took %.1f s to refresh (%s evaluated), over the %s s their stated age allows",
                    done.seconds, evaluated, REFRESH_RUN_S)
    elif done is not None:
        log.info("custom segments refreshed: %s segments, %s evaluated, %s accounts changed, %.1f s",
                 done.segments, evaluated, done.changed, done.seconds)
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
