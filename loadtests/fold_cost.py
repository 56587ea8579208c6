"""What one report roll-up costs: its steps timed on seconds of the register mix at full speed.

    python -m loadtests.fold_cost [--seconds 10] [--rounds 4] [--baseline REF]

Same servers, seed and service as `loadtests.bench` (DATABASE_URL/REDIS_URL or embedded ones), served with
the background roll-up off (`BONUS_ENGINE_REPORT_INTERVAL_S=0`) after the warm-up's fold. The register mix runs
`--seconds` at 32 connections; then the fold of everything since is run `--rounds` times, each in a REPEATABLE
READ transaction rolled back, so every round folds the same window. With `--baseline`, the roll-up statements
of that commit (`app/reports/rollup.py` as it was there) alternate with this tree's on the same window, and
each must write the same summary rows as this tree's. Prints the milliseconds of each step and of the fold,
per round and the median, and the receipts in the window.

This is a command that prints numbers, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import types
from typing import Any

import asyncpg
import orjson

from app.core.db import asyncpg_dsn
from app.reports import rollup

from .bench import ROOT, drive, serving
from .scenarios import register_mix

Steps = list[tuple[str, str, bool]]


def steps_at(ref: str) -> tuple[Steps, bool]:
    """The roll-up's steps at `ref` and whether that commit turned JIT off for a fold."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:app/reports/rollup.py"], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("app.reports._rollup_baseline")
    module.__package__ = "app.reports"
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    exec(compile(source, f"{ref}:app/reports/rollup.py", "exec"), module.__dict__)
    return list(module._STEPS), "jit = off" in source


async def fold_once(conn: asyncpg.Connection, steps: Steps, jit_off: bool,
                    read_summaries: bool = False) -> tuple[dict[str, float], int, list[Any]]:
    """Every step over the window since the last roll-up, rolled back: ms per step, receipts in the window, and
    with `read_summaries` every summary row the fold left (before the rollback)."""
    transaction = conn.transaction(isolation="repeatable_read")
    await transaction.start()
    try:
        state = await conn.fetchrow(rollup._STATE)
        window = (state["watermark"], state["horizon"])
        receipts = await conn.fetchval("SELECT count(*) FROM receipts WHERE change_xid >= $1 AND change_xid < $2",
                                       *window)
        if jit_off:
            await conn.execute("SET LOCAL jit = off")
        took = {}
        for name, statement, zoned in steps:
            started = time.perf_counter()
            await conn.execute(statement, *window, *([state["time_zone"]] if zoned else []))
            took[name] = round((time.perf_counter() - started) * 1000, 1)
        took["fold"] = round(sum(took.values()), 1)
        rows = ([sorted((tuple(row) for row in await conn.fetch(f"SELECT * FROM {table}")), key=repr)
                 for table in rollup.SUMMARIES] if read_summaries else [])
        return took, int(receipts), rows
    finally:
        await transaction.rollback()


async def run(args: argparse.Namespace) -> None:
    trees: list[tuple[str, Steps, bool]] = [("this tree", list(rollup._STEPS), True)]
    if args.baseline:
        trees.append((args.baseline, *steps_at(args.baseline)))
    os.environ["BONUS_ENGINE_REPORT_INTERVAL_S"] = "0"
    async with serving("fold_cost", args.accounts, 0, 0, args.workers) as served:
        await drive(served.port, register_mix(200_000, served.cards, seed=1, run_id="fold"), 32, args.seconds)
        conn = await asyncpg.connect(asyncpg_dsn(served.url))
        try:
            written = [(await fold_once(conn, steps, jit_off, read_summaries=True))[2] for _, steps, jit_off in trees]
            if any(rows != written[0] for rows in written[1:]):
                sys.exit("the baseline's fold writes other summary rows than this tree's")
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in trees}
            receipts = 0
            for _ in range(args.rounds):
                for name, steps, jit_off in trees:
                    took, receipts, _ = await fold_once(conn, steps, jit_off)
                    rounds[name].append(took)
                    print(orjson.dumps({"tree": name, **took}).decode(), flush=True)
        finally:
            await conn.close()
    for name, taken in rounds.items():
        median = {step: statistics.median(r[step] for r in taken) for step in taken[0]}
        print(orjson.dumps({"tree": name, "median_ms": median, "receipts": receipts,
                            "fold_us_per_receipt": round(median["fold"] * 1000 / max(receipts, 1), 1)}).decode())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.fold_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", help="a commit whose roll-up statements to time beside this tree's")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
