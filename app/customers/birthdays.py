"""The birthday sweep: each birthday bonus of the program, once per account and birthday year, on the days of
its window in the chain's time zone (BONUS_ENGINE_REPORT_TIME_ZONE).

`serve` runs it with the expiry sweep (every BONUS_ENGINE_EXPIRE_INTERVAL_S), `bonus-engine birthdays` on
demand; both are safe in any number at once. Each grant is one transaction under its account's lock (one
account, as expiry and adjustments take it; receipts lock several in id order), which checks the birth date
again (an erased profile gets nothing) and records (account, campaign, year) in `birthday_grants`, whose
primary key makes a second grant impossible, whoever tries it.

Profiles are personal data: the log line and the metric count accounts, never name one or its birth date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.accounts import repository as accounts
from app.accounts.write import AccountWrite
from app.core import metrics
from app.core.cache import Cache
from app.core.context import AppContext, utcnow
from app.core.db import Database
from app.core.lookups import FailedLookups
from app.core.settings import Settings
from app.program.service import ProgramHolder
from rules import Bonus, CompiledProgram, birthday_holds, birthday_year, birthdays_around, not_active_reason

from . import repository

BATCH = 500  # accounts found per query; each is granted in its own transaction
log = logging.getLogger("bonus_engine.birthdays")


@dataclass
class SweepCounts:
    campaigns: int = 0  # birthday bonuses of the program active now
    due: int = 0  # accounts found in a window without a grant for its year
    granted: int = 0
    skipped: int = 0  # found, but not granted: their tier or segment, a birth date erased or changed since, or
    # another sweeper granted it first


async def sweep(ctx: AppContext, now: datetime) -> SweepCounts:
    """Grant every birthday bonus due on the chain's day of `now`."""
    counts = SweepCounts()
    program = ctx.programs.loaded
    if program is None or not program.birthday_bonuses:
        return counts
    today = now.astimezone(ZoneInfo(ctx.settings.report_time_zone)).date()
    for bonus in program.birthday_bonuses:
        if not_active_reason(bonus, now) is not None:
            continue  # outside its active period: nothing to look for
        counts.campaigns += 1
        keys = [(key.month, key.day, key.year) for key in birthdays_around(today, bonus)]
        after_id = 0
        while True:
            async with ctx.db.connection() as conn:
                due = await repository.birthdays_due(conn, bonus.id, keys, after_id, BATCH)
            if not due:
                break
            after_id = due[-1]["id"]
            for row in due:
                counts.due += 1
                granted = await _grant(ctx, program, bonus, row["id"], today, now)
                counts.granted += granted
                counts.skipped += not granted
    log.info("birthday sweep for %s: %d campaigns, %d accounts due, %d granted, %d skipped",
             today.isoformat(), counts.campaigns, counts.due, counts.granted, counts.skipped)
    return counts


async def _grant(ctx: AppContext, program: CompiledProgram, bonus: Bonus, account_id: int, today: date,
                 now: datetime) -> bool:
    """One account's birthday bonus under its lock; False when it is not (or no longer) due."""
    settings = program.program
    async with AccountWrite.begin(ctx, clock=lambda: now) as write:
        conn = write.conn
        account = await write.lock_id(account_id)
        birth = account.birth_date
        year = birthday_year(today, birth, bonus) if birth is not None else None
        if year is None or not account.active:
            return False  # erased, changed or blocked since it was found
        if bonus.when is not None:  # its tiers and segments, as of now
            facts = await accounts.purchase_facts(conn, account_id, now, settings.tiers.window_days)
            if not birthday_holds(bonus, settings, now, facts["purchases"], facts["first_purchase"],
                                  facts["last_purchase"], account.segments):
                return False
        book = await write.open(account, settle=False)  # settled below, by the new points too
        entry_id, _ = await book.grant("bonus", bonus.points, now, bonus.expires_at(now, settings.points.expire_days),
                                       reason=f"birthday: {bonus.id}")
        if not await repository.claim_birthday(conn, account_id, bonus.id, year, entry_id):
            return False  # granted already: the book is dropped unwritten
        book.settle()  # the new points pay back debt first, as every points that become available do
        await write.flush()
        await write.view(account)
    metrics.BIRTHDAY_GRANTS.inc()
    metrics.POINTS.labels("bonus").inc(bonus.points)
    return True


async def sweep_once(settings: Settings) -> SweepCounts | None:
    """`bonus-engine birthdays`: one sweep now, with the service's database, cache and active program (the
    snapshots of the accounts it grants are replaced, as a worker's would be); None when no program is loaded."""
    db = Database(settings)
    await db.connect()
    cache = Cache(settings)
    try:
        programs = ProgramHolder(db, settings.program_poll_ms)
        await programs.refresh()
        if programs.loaded is None:
            return None
        cache.generation = int(await db.fetchval("SELECT generation FROM cache_state WHERE id = 1"))
        ctx = AppContext(settings, db, cache, programs, FailedLookups(cache, settings.failed_lookup_limit))
        return await sweep(ctx, utcnow())
    finally:
        await cache.close()
        await db.close()
