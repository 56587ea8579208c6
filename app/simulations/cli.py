"""The commands of simulations on stored receipts: `receipts export`, `simulate --from --to`, `simulations run`."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from app.core.db import connect
from app.core.settings import Settings
from app.program import repository as programs
from rules import CompiledProgram, Program, compile_program, parse_program

from . import repository
from .output import RENDERERS
from .progress import Progress
from .replay import Period, replay
from .result import result_of
from .runner import run_job


async def export(settings: Settings, period: Period, out: TextIO) -> int:
    """The period's stored request bodies, one a line, in confirm order; the number written."""
    conn = await connect(settings.database_url)
    written = 0
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            stored, bodiless = await repository.count_receipts(conn, period.start, period.end)
            async for body in repository.bodies(conn, period.start, period.end):
                out.write(body)
                out.write("\n")
                written += 1
    finally:
        await conn.close()
    if bodiless:
        print(f"receipts export: {bodiless} receipts of the period were confirmed before bodies were stored "
              "and are left out", file=sys.stderr)
    return written


def cmd_export(settings: Settings, first: date, last: date, out_file: str | None) -> int:
    period = Period(first, last, ZoneInfo(settings.report_time_zone))
    if out_file is None:
        written = asyncio.run(export(settings, period, sys.stdout))
    else:
        partial = Path(out_file).with_name(f".{Path(out_file).name}.{os.getpid()}.tmp")
        with partial.open("w", encoding="utf-8", newline="\n") as handle:
            written = asyncio.run(export(settings, period, handle))
        os.replace(partial, out_file)  # a file that is there is whole
    print(f"receipts export: {written} receipts", file=sys.stderr)
    return 0


async def _baseline(settings: Settings, spec: str) -> tuple[CompiledProgram | None, str]:
    """`active` or a version number from the database; anything else was a file, read by the caller."""
    conn = await connect(settings.database_url)
    try:
        row = await (programs.latest(conn) if spec == "active" else programs.by_version(conn, int(spec)))
    finally:
        await conn.close()
    if row is None:
        return None, "no program loaded" if spec == "active" else f"no program version {spec}"
    return compile_program(parse_program(row["document"]), row["version"]), f"version {row['version']}"


async def _simulate(settings: Settings, program: Program, baseline: CompiledProgram | None, period: Period,
                    progress: bool) -> dict[str, Any]:
    bar: Progress | None = None

    async def tick(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(total, progress, sys.stderr)
        bar.update(done, done)

    conn = await connect(settings.database_url)
    try:
        replayed = await replay(conn, compile_program(program, 0), baseline, period, tick)
    finally:
        await conn.close()
    if bar is not None:
        bar.finish(replayed.seen.receipts)
    result = result_of(replayed.runs, replayed.seen)
    result["input"]["not_replayable"] = replayed.bodiless
    if replayed.bodiless:
        print(f"simulate: {replayed.bodiless} receipts of the period were confirmed before bodies were stored and "
              "are not replayed", file=sys.stderr)
    return result


def cmd_simulate(settings: Settings, program: Program, program_file: str, baseline_spec: str | None,
                 baseline_program: Program | None, first: date, last: date, output_format: str,
                 progress: bool | None) -> int:
    baseline: CompiledProgram | None = None
    baseline_name = None
    if baseline_program is not None:
        baseline, baseline_name = compile_program(baseline_program, 0), baseline_spec
    elif baseline_spec is not None:
        baseline, found = asyncio.run(_baseline(settings, baseline_spec))
        if baseline is None:
            print(f"simulate: {found}", file=sys.stderr)
            return 1
        baseline_name = found
    period = Period(first, last, ZoneInfo(settings.report_time_zone))
    result = asyncio.run(_simulate(settings, program, baseline, period,
                                   sys.stderr.isatty() if progress is None else progress))
    result = {"program_file": program_file, "receipts_file": f"stored receipts {first}..{last}",
              "baseline_file": baseline_name, "accounts_file": None, **result}
    sys.stdout.write(RENDERERS[output_format](result))
    return 0


def cmd_run(settings: Settings, job_id: int) -> int:
    os.nice(19)  # before anything else: confirms keep the CPU they need (a nice level is never raised again)
    return asyncio.run(run_job(settings, job_id))
