"""`bonus-engine`: dev, serve, migrate, program, keys, audit, expire, birthdays, simulate, simulations, receipts,
report.

Commands only translate."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from app.core.settings import get_settings
from app.keys.service import ROLES
from rules import ProgramError, dump_program, load_program

_T = TypeVar("_T")


def _format_of(path: str) -> str:
    return "json" if path.endswith(".json") else "yaml"


async def _with_conn(work: Callable[[asyncpg.Connection], Awaitable[_T]]) -> _T:
    from app.core.db import with_connection

    return await with_connection(get_settings().database_url, work)


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.core.distribution import distribute
    from app.core.migrations import upgrade

    upgrade(get_settings().database_url)
    print("migrations applied")
    for line in asyncio.run(_with_conn(distribute)):  # on a Citus coordinator: the tables not placed yet
        print(line)
    return 0


def _read_program(path: str) -> Any:
    try:
        return load_program(Path(path).read_text(encoding="utf-8"), _format_of(path))
    except ProgramError as error:
        for problem in error.errors:
            print(f"{path}: {problem['path']}: {problem['message']}", file=sys.stderr)
        return None


def cmd_program(args: argparse.Namespace) -> int:
    from app.program import repository, service
    from rules import ProgramError, parse_program

    if args.action == "export":
        async def export(conn: asyncpg.Connection) -> int:
            row = await repository.latest(conn)
            if row is None:
                print("no program loaded", file=sys.stderr)
                return 1
            print(dump_program(parse_program(row["document"]), args.format), end="")
            return 0
        return int(asyncio.run(_with_conn(export)))
    program = _read_program(args.file)
    if program is None:
        return 1
    if args.action == "check":
        print(f"{args.file}: valid, {len(program.campaigns)} campaigns")
        return 0

    async def load(conn: asyncpg.Connection) -> int:
        async with conn.transaction():
            # the custom segments its campaigns name must exist; no key, so no author
            return await service.save(conn, program, service.Publication(None, args.note or None))
    try:
        version = asyncio.run(_with_conn(load))
    except ProgramError as error:
        for problem in error.errors:
            print(f"{args.file}: {problem['path']}: {problem['message']}", file=sys.stderr)
        return 1
    print(f"program version {version} loaded ({len(program.campaigns)} campaigns)")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from app.keys.service import list_keys

    keys = asyncio.run(_with_conn(list_keys))
    if args.format == "json":
        for key in keys:
            print(json.dumps(key))
        return 0
    from app.core.text import table

    header = ("id", "role", "store", "created_at", "revoked_at")
    rows = [(str(k["id"]), k["role"], k["store_id"] or "-", k["created_at"], k["revoked_at"] or "-") for k in keys]
    print(table(header, rows, left=range(len(header))))
    return 0


def _key_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"not a key id: {text!r}")
    return int(text)


def _keys_revoke(args: argparse.Namespace) -> int:
    from app.keys.service import revoke_key

    found = asyncio.run(_with_conn(lambda conn: revoke_key(conn, args.id)))
    if found is None:
        print(f"no key with id {args.id}", file=sys.stderr)
        return 1
    key, was_revoked = found
    if was_revoked:
        print(f"key {key['id']} ({key['role']}) was already revoked at {key['revoked_at']}")
    else:
        print(f"key {key['id']} ({key['role']}) revoked at {key['revoked_at']}; running workers refuse it "
              "within 5 s (they cache keys that long)")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from app.keys.service import create_key

    if args.action == "list":
        return _keys_list(args)
    if args.action == "revoke":
        return _keys_revoke(args)
    if args.store and args.role != "pos":
        print("--store binds pos keys only", file=sys.stderr)
        return 2
    print(asyncio.run(_with_conn(lambda conn: create_key(conn, args.role, args.store))))
    return 0


def _write_audit_metrics(path: str, problems: int) -> None:
    """Prometheus text for node_exporter's textfile collector or a Pushgateway (deploy/prometheus/alerts.yml);
    written to a temporary file and renamed, so a scrape never reads half a file."""
    import time

    text = (
        "# HELP bonus_audit_problems disagreements found by the last bonus-engine audit\n"
        "# TYPE bonus_audit_problems gauge\n"
        f"bonus_audit_problems {problems}\n"
        "# HELP bonus_audit_last_run_timestamp_seconds when the last bonus-engine audit finished\n"
        "# TYPE bonus_audit_last_run_timestamp_seconds gauge\n"
        f"bonus_audit_last_run_timestamp_seconds {time.time():.3f}\n"
    )
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def cmd_audit(args: argparse.Namespace) -> int:
    from app.points.audit import audit

    problems = asyncio.run(_with_conn(audit))
    if args.metrics_file:
        _write_audit_metrics(args.metrics_file, len(problems))
    for problem in problems:
        print(json.dumps(problem, ensure_ascii=False))
    if problems:
        print(f"audit FAILED: {len({p['card'] for p in problems})} accounts disagree", file=sys.stderr)
        return 1
    print("audit clean: ledger, lot moves, lots and debt agree for every account, and every link checks out")
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    from app.accounts.expiry import sweep
    from app.core.context import utcnow
    from app.core.db import Database

    async def run() -> int:
        db = Database(get_settings())
        await db.connect()
        try:
            return await sweep(db, utcnow())
        finally:
            await db.close()
    print(f"expired {asyncio.run(run())} lots")
    return 0


def cmd_birthdays(args: argparse.Namespace) -> int:
    from app.customers.birthdays import sweep_once

    counts = asyncio.run(sweep_once(get_settings()))
    if counts is None:
        print("no program loaded", file=sys.stderr)
        return 1
    print(f"granted {counts.granted} birthday bonuses ({counts.due} accounts due, {counts.skipped} skipped, "
          f"{counts.campaigns} campaigns)")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from app.simulations import files

    from_database = args.from_ is not None or args.to is not None
    if from_database == (args.receipts is not None):
        print("simulate: give either --receipts FILE or --from D --to D (the stored receipts)", file=sys.stderr)
        return 2
    if from_database and (args.from_ is None or args.to is None or args.from_ > args.to):
        print("simulate: --from and --to are both needed, from not after to", file=sys.stderr)
        return 2
    if from_database and args.accounts:
        print("simulate: --accounts is for --receipts FILE; stored receipts open accounts from the ledger",
              file=sys.stderr)
        return 2
    program = _read_program(args.program)
    in_database = from_database and args.baseline is not None and (args.baseline == "active" or args.baseline.isdigit())
    baseline = _read_program(args.baseline) if args.baseline and not in_database else None
    if program is None or (args.baseline and not in_database and baseline is None):
        return 1
    if from_database:
        from app.simulations import cli as simulations

        return simulations.cmd_simulate(get_settings(), program, args.program, args.baseline, baseline, args.from_,
                                        args.to, args.format, True if args.progress else None)
    # the streams of now, not those of when app.simulations.files was imported (its defaults are bound then)
    return files.main(program, args.program, args.receipts, baseline=baseline, baseline_file=args.baseline,
                      accounts_file=args.accounts, output_format=args.format, stdout=sys.stdout, stderr=sys.stderr,
                      progress=True if args.progress else None,
                      time_zone=args.time_zone or get_settings().report_time_zone)


def cmd_simulations(args: argparse.Namespace) -> int:
    from app.simulations import cli as simulations

    return simulations.cmd_run(get_settings(), args.id)


def cmd_receipts(args: argparse.Namespace) -> int:
    from app.simulations import cli as simulations

    if args.from_ > args.to:
        print("receipts export: --from is after --to", file=sys.stderr)
        return 2
    return simulations.cmd_export(get_settings(), args.from_, args.to, args.out)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day: {text!r}; use YYYY-MM-DD") from None


def _time_zone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r}; use an IANA name such as Europe/Moscow") from None
    return text


def cmd_segments(args: argparse.Namespace) -> int:
    from app.core.db import Database
    from app.program.service import ProgramHolder
    from app.segments.refresh import refresh

    settings = get_settings()

    async def run() -> int:
        db = Database(settings)
        await db.connect()
        try:
            programs = ProgramHolder(db, settings.program_poll_ms)
            await programs.refresh()
            done = await refresh(db, programs.current.program, settings.report_time_zone, full=args.full)
            assert done is not None  # it waits for a refresh under way
            evaluated = "every account" if done.evaluated is None else f"{done.evaluated} accounts"
            print(f"{done.segments} custom segments refreshed, {evaluated} evaluated, {done.changed} accounts changed,"
                  f" {done.seconds:.1f} s")
            return 0
        finally:
            await db.close()
    return asyncio.run(run())


def cmd_report(args: argparse.Namespace) -> int:
    from app.reports import cli as reports_cli

    return reports_cli.run(args, get_settings())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bonus-engine-metrics-")
    if args.workers > 1 and not get_settings().console_secret:
        # one secret for this server's workers, so a console form loaded from one posts to another (app/console/csrf.py)
        os.environ["BONUS_ENGINE_CONSOLE_SECRET"] = secrets.token_urlsafe(32)
    uvicorn.run("app.main:app_from_env", factory=True, host=args.host, port=args.port, workers=args.workers,
                loop="uvloop", http="httptools", access_log=False, log_level="warning", lifespan="on")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from app.dev import run

    return run(Path(args.data), args.host, args.port)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="bonus-engine", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="embedded PostgreSQL and Redis, migrations, example program, keys, API")
    dev.add_argument("--data", default=".bonus-engine", help="where the embedded servers keep their data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="run the API (DATABASE_URL, REDIS_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    program = sub.add_parser("program", help="check, load or export the program document")
    program_sub = program.add_subparsers(dest="action", required=True)
    for action in ("check", "load"):
        p = program_sub.add_parser(action)
        p.add_argument("file", help="YAML or JSON (by extension)")
        if action == "load":
            p.add_argument("--note", default=None, help="why this version, shown in GET /v1/program/versions")
    export = program_sub.add_parser("export")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml")
    program.set_defaults(func=cmd_program)

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="print a new key (only its hash is stored)")
    create.add_argument("--role", choices=ROLES, required=True,
                        help="pos: the till; marketer: campaigns, program, templates, segments, reports; admin: all")
    create.add_argument("--store", default=None, help="bind a pos key to one store")
    listing = keys_sub.add_parser("list", help="every key: id, role, store, created_at, revoked_at (never the key)")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id; workers refuse it within 5 s")
    revoke.add_argument("id", type=_key_id, help="the id that `keys list` shows")
    keys.set_defaults(func=cmd_keys)

    audit = sub.add_parser("audit", help="prove the ledger, lots and balances agree")
    audit.add_argument("--metrics-file", default=None, metavar="PATH",
                       help="also write bonus_audit_problems and bonus_audit_last_run_timestamp_seconds "
                            "to PATH in Prometheus text format (textfile collector, Pushgateway)")
    audit.set_defaults(func=cmd_audit)
    sub.add_parser("expire", help="the expiry sweep").set_defaults(func=cmd_expire)
    segments = sub.add_parser("segments", help="custom segments")
    segments_sub = segments.add_subparsers(dest="action", required=True)
    segments_refresh = segments_sub.add_parser(
        "refresh", help="bring every custom segment's members up to now (the accounts that can have changed)")
    segments_refresh.add_argument("--full", action="store_true", help="evaluate every account, not only those")
    segments_refresh.set_defaults(func=cmd_segments)
    sub.add_parser("birthdays", help="the birthday sweep: grant the birthday bonuses due today "
                                     "(BONUS_ENGINE_REPORT_TIME_ZONE)").set_defaults(func=cmd_birthdays)

    simulate = sub.add_parser("simulate", help="what-if: a draft program's cost on past receipts, from a JSONL file "
                                               "(no database) or the stored receipts of a period")
    simulate.add_argument("--program", required=True, help="the draft program, YAML or JSON (by extension)")
    simulate.add_argument("--receipts", default=None, help="JSONL: one receipt body a line, as the API takes it")
    simulate.add_argument("--from", dest="from_", type=_day, default=None,
                          help="instead of --receipts: the stored receipts from this day (YYYY-MM-DD, "
                               "BONUS_ENGINE_REPORT_TIME_ZONE), accounts opened from the ledger")
    simulate.add_argument("--to", type=_day, default=None, help="with --from: the last day, included")
    simulate.add_argument("--accounts", default=None,
                          help="JSONL: {card, tier_purchases?, available_points?, first_purchase_at?, "
                               "last_purchase_at?, blocked?, birth_date?}; accounts start empty otherwise")
    simulate.add_argument("--time-zone", type=_time_zone, default=None,
                          help="the chain's days for birthday bonuses (default BONUS_ENGINE_REPORT_TIME_ZONE, "
                               "as the service)")
    simulate.add_argument("--baseline", default=None,
                          help="another program file to compare with; with --from also `active` or a version "
                               "number")
    simulate.add_argument("--format", choices=("table", "json", "csv"), default="table")
    simulate.add_argument("--progress", action="store_true",
                          help="progress on stderr even when it is not a terminal")
    simulate.set_defaults(func=cmd_simulate)

    simulations = sub.add_parser("simulations", help="simulation jobs (POST /v1/simulations)")
    simulations_sub = simulations.add_subparsers(dest="action", required=True)
    run = simulations_sub.add_parser("run", help="run a job in this process at nice 19 (what `serve` starts)")
    run.add_argument("id", type=_key_id, help="the job's id")
    simulations.set_defaults(func=cmd_simulations)

    receipts = sub.add_parser("receipts", help="stored receipts")
    receipts_sub = receipts.add_subparsers(dest="action", required=True)
    export_receipts = receipts_sub.add_parser(
        "export", help="the confirmed receipts of a period as JSONL (request bodies, in confirm order)")
    export_receipts.add_argument("--from", dest="from_", type=_day, required=True,
                                 help="the first day, YYYY-MM-DD (BONUS_ENGINE_REPORT_TIME_ZONE)")
    export_receipts.add_argument("--to", type=_day, required=True, help="the last day, included")
    export_receipts.add_argument("--out", default=None, help="the file to write (default: stdout)")
    receipts.set_defaults(func=cmd_receipts)

    report = sub.add_parser("report", help="program KPIs, campaign results and uplift, segments, stores, customers, "
                                           "ABC; rebuild the summaries")
    report_sub = report.add_subparsers(dest="report", required=True)
    for name in ("program", "campaigns", "stores", "customers", "abc"):
        one = report_sub.add_parser(name)
        one.add_argument("--from", dest="from_", default=None, help="first day, YYYY-MM-DD (default: 29 days "
                                                                     "before --to)")
        one.add_argument("--to", default=None, help="last day, included (default: today)")
        one.add_argument("--store", default=None)
        one.add_argument("--format", choices=("table", "json", "csv"), default="table",
                         help="csv of customers: every member from --cursor on" if name == "customers" else None)
    customers = report_sub.choices["customers"]
    customers.add_argument("--order", choices=("ltv", "receipts", "amount", "items"), default="ltv")
    customers.add_argument("--limit", type=int, default=50, help="rows of a page (table, json): 1 to 500")
    customers.add_argument("--cursor", default=None, help="the next_cursor of the page before")
    customers.add_argument("--inactive-days", type=int, default=None,
                           help="only members with no purchase in the last N days of the period")
    abc = report_sub.choices["abc"]
    abc.add_argument("--by", choices=("category", "sku"), default="category", help="what is ranked")
    abc.add_argument("--measure", choices=("revenue", "quantity", "receipts"), default="revenue")
    uplift = report_sub.add_parser("uplift", help="a campaign with a control group against its held-out members")
    uplift.add_argument("campaign", help="the campaign id")
    uplift.add_argument("--from", dest="from_", default=None, help="first day, YYYY-MM-DD (default: 29 days "
                                                                    "before --to)")
    uplift.add_argument("--to", default=None, help="last day, included (default: today)")
    uplift.add_argument("--format", choices=("table", "json", "csv"), default="table")
    report_sub.add_parser("segments").add_argument("--format", choices=("table", "json", "csv"), default="table")
    report_sub.add_parser("members", help="a CVM segment's members as CSV").add_argument("segment")
    report_sub.add_parser("rebuild", help="fold the whole history into the summaries again, with progress")
    report.set_defaults(func=cmd_report)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
