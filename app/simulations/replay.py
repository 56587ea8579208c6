"""The database path of the simulation (model.py): the stored receipts of a period, with each account's state at the
period's start, through the same in-memory model (`Simulation`) the file path uses.

Used by `bonus-engine simulate --from --to` and by a simulation job's process (`runner.py`). Both read on one
connection inside one read-only REPEATABLE READ transaction, so the count, the accounts and the receipts are
of one snapshot; progress goes out through a callback, which the job writes on a second connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from rules import CompiledProgram

from . import repository
from .accounts import Opening
from .model import Simulation
from .result import Input
from .runs import Runs
from .stored import receipt_of

__all__ = ["Period", "Replayed", "replay"]

PROGRESS_EVERY_RECEIPTS = 5000

Tick = Callable[[int, int], Awaitable[None]]  # (receipts done, receipts in the period)


@dataclass(frozen=True)
class Period:
    """Calendar days `first`..`last` (both included) in the chain's time zone."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC)


@dataclass
class Replayed:
    runs: list[Simulation]  # the program's, then the baseline's if any
    seen: Input  # receipts replayed; `invalid` counts bodies that could not be read back
    bodiless: int  # receipts of the period confirmed before bodies were stored (migration 0015): not replayed
    once: int = 0  # receipts evaluated once for the program and the baseline (runs.py `Runs`)


def _window_start(at: datetime, window_days: int) -> datetime:
    return at - timedelta(days=window_days) if window_days else datetime.min.replace(tzinfo=UTC)


async def _openings(conn: asyncpg.Connection, period: Period, window_days: int,
                    part: repository.Part) -> dict[str, Opening]:
    found: dict[str, Opening] = {}
    async for row in repository.openings(conn, period.start, period.end, _window_start(period.start, window_days),
                                         part):
        lots = tuple(zip(row["remaining"], row["available_at"], row["expires_at"], strict=True)) \
            if row["remaining"] else ()
        purchases = tuple(zip(row["purchased_at"], row["purchased"], strict=True)) if row["purchased_at"] else ()
        found[row["card"]] = Opening(
            row["card"], purchases, lots, row["first_purchase"], row["last_purchase"], row["blocked"],
            frozenset(row["segments"] or ()), row["birth_date"])
    return found


async def replay(conn: asyncpg.Connection, program: CompiledProgram, baseline: CompiledProgram | None,
                 period: Period, tick: Tick | None = None, part: repository.Part = repository.WHOLE) -> Replayed:
    """Run the period's stored receipts through `program` (and `baseline`), in the order they were confirmed;
    with `part`, only the receipts and accounts of that part of the owners (parallel.py runs the parts).

    The tier window of the opening state is the longer of the two programs' windows (a purchase the shorter
    window does not want leaves it before the first receipt)."""
    windows = [p.program.tiers.window_days for p in (program, baseline) if p is not None]
    window_days = 0 if 0 in windows else max(windows)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        stored, bodiless = await repository.count_receipts(conn, period.start, period.end, part)
        if tick is not None:
            await tick(0, stored)
        opening = await _openings(conn, period, window_days, part)
        runs = Runs(program, baseline, opening, period.zone)
        seen = Input()
        async for body in repository.bodies(conn, period.start, period.end, part):
            seen.lines += 1
            try:
                receipt = receipt_of(body)
            except (KeyError, TypeError, ValueError) as error:  # orjson.JSONDecodeError is a ValueError
                seen.invalid += 1
                seen.problem(seen.lines, f"stored body not readable: {error}")
                continue
            seen.receipts += 1
            runs.run(receipt)
            if tick is not None and seen.lines % PROGRESS_EVERY_RECEIPTS == 0:
                await tick(seen.lines, stored)
    if tick is not None:
        await tick(seen.lines, stored)
    return Replayed(runs.runs, seen, bodiless, runs.shared)
