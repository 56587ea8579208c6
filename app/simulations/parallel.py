"""A long period replayed in several processes, each taking the receipts and accounts of one part of the owners
(`owner_id` modulo the number of processes: every receipt of an account in one part), then the parts' figures
summed. An account's receipts depend on each other (tiers, points), different accounts' do not, except through a
shared coupon code's `max_uses`: each part counts those uses apart, so a code near its limit may be applied a
few more times in total than one process would allow (`max_uses_per_account` is exact).

The processes are spawned (a fork of a process with a running event loop would inherit it), inherit the job's
nice 19, and report the receipts they have done through a shared array that the caller turns into progress."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from app.core.db import connect
from rules import CompiledProgram, compile_program, parse_program

from .model import CampaignStats, Simulation
from .replay import Period, Replayed, replay
from .result import Input

__all__ = ["replay_parallel"]

_SUMMED = ("receipts", "discount", "points", "held_out", "coupon_uses", "revenue")
_done: Any = None  # in a part's process: the shared array of receipts done, one slot per part


def _start(done: Any) -> None:
    global _done
    _done = done


def _summary(run: Simulation) -> dict[str, Any]:
    return {"campaigns": [vars(stats).copy() for stats in run.campaigns.values()], "totals": dict(run.totals),
            "cards": dict(run.cards), "coupons": run.coupons}


async def _part(url: str, documents: list[tuple[dict[str, Any], int]], first: date, last: date, zone: str,
                index: int, count: int) -> dict[str, Any]:
    programs = [compile_program(parse_program(document), version) for document, version in documents]
    conn = await connect(url)

    async def tick(done: int, total: int) -> None:
        _done[index] = done

    try:
        replayed = await replay(conn, programs[0], programs[1] if len(programs) > 1 else None,
                                Period(first, last, ZoneInfo(zone)), tick, (index, count))
    finally:
        await conn.close()
    seen = replayed.seen
    return {"runs": [_summary(run) for run in replayed.runs], "bodiless": replayed.bodiless, "once": replayed.once,
            "seen": {"lines": seen.lines, "receipts": seen.receipts, "invalid": seen.invalid,
                     "problems": seen.problems}}


def _run_part(*args: Any) -> dict[str, Any]:
    return asyncio.run(_part(*args))


def _add(run: Simulation, summary: dict[str, Any]) -> None:
    for stats in summary["campaigns"]:
        mine = run.campaigns.setdefault(stats["id"], CampaignStats(stats["id"], stats["name"]))
        for key in _SUMMED:
            setattr(mine, key, getattr(mine, key) + stats[key])
    run.totals.update(summary["totals"])
    run.cards.update(summary["cards"])
    for code, entry in summary["coupons"].items():
        mine_entry = run.coupons.setdefault(code, {"campaign": entry["campaign"], "applied": 0, "rejected": {}})
        mine_entry["applied"] += entry["applied"]
        for reason, times in entry["rejected"].items():
            mine_entry["rejected"][reason] = mine_entry["rejected"].get(reason, 0) + times


def _merged(programs: list[CompiledProgram], period: Period, parts: list[dict[str, Any]]) -> Replayed:
    runs = [Simulation(program, {}, period.zone) for program in programs]
    seen = Input()
    bodiless = once = 0
    for part in parts:
        for run, summary in zip(runs, part["runs"], strict=True):
            _add(run, summary)
        seen.lines += part["seen"]["lines"]
        seen.receipts += part["seen"]["receipts"]
        seen.invalid += part["seen"]["invalid"]
        seen.problems += part["seen"]["problems"]
        bodiless += part["bodiless"]
        once += part["once"]
    return Replayed(runs, seen, bodiless, once)


async def replay_parallel(url: str, documents: list[tuple[dict[str, Any], int]], period: Period, processes: int,
                          total: int, tick: Callable[[int, int], Awaitable[None]] | None = None) -> Replayed:
    """`replay` in `processes` parts; `documents` are (program document, version) of the draft and the
    baseline; `total` the receipts of the period, for progress."""
    context = multiprocessing.get_context("spawn")
    done = context.Array("q", processes, lock=False)  # one writer per slot
    loop = asyncio.get_running_loop()
    zone = str(period.zone.key)
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_start, initargs=(done,)) as pool:
        futures = [loop.run_in_executor(pool, _run_part, url, documents, period.first, period.last, zone, index,
                                        processes) for index in range(processes)]
        pending: set[asyncio.Future[dict[str, Any]]] = set(futures)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=1.0)
            if tick is not None:
                await tick(sum(done), total)
        parts = [future.result() for future in futures]
    programs = [compile_program(parse_program(document), version) for document, version in documents]
    return _merged(programs, period, parts)
