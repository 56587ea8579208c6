"""`bonus-engine report ...`: the same reports as the API, printed as tables, JSON or CSV."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from app.core.db import Database
from app.core.errors import AppError
from app.core.settings import Settings
from app.program.service import ProgramHolder

from . import export, service
from .rollup import roll_up


@dataclass
class CliSources:
    settings: Settings
    db: Database
    programs: ProgramHolder


TABLES: dict[str, Callable[[dict[str, Any]], list[export.Table]]] = {
    "program": export.program_tables, "campaigns": export.campaigns_tables, "segments": export.segments_tables,
    "stores": export.stores_tables, "customers": export.customers_tables, "abc": export.abc_tables,
    "uplift": export.uplift_tables,
}


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except AppError as error:
        print(f"error: {error.detail} ({error.code})", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings)
    await db.connect()
    try:
        sources = CliSources(settings, db, ProgramHolder(db, settings.program_poll_ms))
        await sources.programs.refresh()
        if args.report == "rebuild":
            return await _rebuild(sources)
        if args.report == "members":
            await _write_csv(service.segment_members(sources, service.check_segment(args.segment)))
            return 0
        if args.report == "customers" and args.format == "csv":
            await _write_csv(service.customer_rows(sources, _customers_query(sources, args)))
            return 0
        report = await _report(sources, args)
        if args.format == "json":
            print(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            tables = TABLES[args.report](report)
            print(export.as_csv(tables) if args.format == "csv" else export.as_text(tables), end="")
        return 0
    finally:
        await db.close()


async def _report(sources: CliSources, args: argparse.Namespace) -> dict[str, Any]:
    if args.report == "segments":
        return await service.segments_report(sources)
    if args.report == "customers":
        return await service.customers_report(sources, _customers_query(sources, args))
    if args.report == "uplift":
        campaign_id = service.check_campaign_id(args.campaign)
        return await service.uplift_report(sources, campaign_id, service.parse_period(sources, args.from_, args.to))
    period = service.parse_period(sources, args.from_, args.to, args.store)
    if args.report == "program":
        return await service.program_report(sources, period)
    if args.report == "stores":
        return await service.stores_report(sources, period)
    if args.report == "abc":
        return await service.abc_report(sources, service.AbcQuery(period, args.by, args.measure))
    return await service.campaigns_report(sources, period)


def _customers_query(sources: CliSources, args: argparse.Namespace) -> service.CustomersQuery:
    """The API's checks of the customers query (argparse has checked the order already)."""
    period = service.parse_period(sources, args.from_, args.to, args.store)
    if not 1 <= args.limit <= service.MAX_CUSTOMERS_PAGE:
        raise AppError(422, "validation_error", f"--limit must be 1 to {service.MAX_CUSTOMERS_PAGE}")
    if args.inactive_days is not None and not 1 <= args.inactive_days <= service.MAX_PERIOD_DAYS:
        raise AppError(422, "validation_error", f"--inactive-days must be 1 to {service.MAX_PERIOD_DAYS}")
    return service.CustomersQuery(period, args.order, args.limit, args.cursor, args.inactive_days)


async def _rebuild(sources: CliSources) -> int:
    started = time.perf_counter()
    print(f"rebuilding the report summaries in {sources.settings.report_time_zone}", flush=True)
    window = await roll_up(sources.db, sources.settings.report_time_zone, rebuild=True, progress=True)
    if window is None:
        print("another roll-up was running; run again", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


async def _write_csv(rows: AsyncIterator[list[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    async for row in rows:
        writer.writerow(row)
