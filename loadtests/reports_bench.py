"""The report benchmark: every report over HTTP on a year of history, and confirms with and without reports.

    python -m loadtests.reports_bench [--accounts 1000000] [--receipts 10000000] [--seconds 20]
                                      [--keep-database NAME | --reuse-database NAME [--rebuild]] [--explain PATH]
                                      [--reports-only]

In one run: a fresh database on the machine's PostgreSQL (DATABASE_URL's server, default
postgresql://postgres@127.0.0.1:5432; Redis from REDIS_URL with a key prefix of its own), migrated, seeded
with loadtests.seed_history, the example program loaded, `bonus-engine report rebuild` timed (the one-off cost
of upgrading a database that has a history), VACUUM ANALYZE, then `bonus-engine serve --workers 2` and:
1. each report over HTTP, the first request after the server started ("cold") and `--runs` more ("warm"):
   program, campaigns, stores and customers (each ranking, a second page, the inactive list) for 30 days
   and a year, ABC (categories and SKUs by each measure, a year; one store's SKUs), segments, the uplift of
   the seeded control group (30 days, a year), and the page;
   the members CSV of the biggest segment and the customers CSV of 30 days: time to the first byte, total,
   rows per second;
2. the register mix alone, then with a "marketer" who requests the program, campaigns (both for a year) and
   segments reports back to back, one at a time, `--rounds` times, then alone once more: confirm throughput
   and p50/p99, the median of each kind of phase side by side;
3. EXPLAIN (ANALYZE, BUFFERS) of every SQL statement of app.reports.repository: each one's execution time
   (the plans go to `--explain PATH`).
`--reports-only` skips step 2. It prints a table on stderr and one JSON line on stdout. `--reuse-database`
skips seeding (and the rebuild unless `--rebuild`) and never drops that database; `--keep-database` names the
new database and keeps it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import yaml

from app.core.db import asyncpg_dsn
from app.reports import repository
from rules import parse_program

from ._sql import drop_database
from .bench import CONFIRMS, KEY, Stats, _with_database, drive, new_database, start_serve, wait_ready
from .scenarios import register_mix
from .seed import card_of
from .seed_history import HOLDOUT_CAMPAIGN, seed_history

ROOT = Path(__file__).resolve().parents[1]
RUN_ID = secrets.token_hex(4)  # receipts of an earlier run on a reused database would be replays
PROGRAM = ROOT / "rules" / "examples" / "program.yaml"


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cli(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run `bonus-engine ARGS` on the database; (seconds, its output)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": url, **(env or {})})
    if done.returncode:
        raise RuntimeError(f"bonus-engine {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started, done.stdout + done.stderr


async def create(admin_url: str, database: str, args: argparse.Namespace, out: dict[str, Any]) -> str:
    """A new database with the history seeded, the program loaded and the summaries rebuilt."""
    url = await new_database(asyncpg_dsn(admin_url), database)
    cli(url, "program", "load", str(PROGRAM))
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        print(f"seeding {args.accounts:,} accounts and {args.receipts:,} receipts", file=sys.stderr)
        out["seed_steps_s"] = await seed_history(conn, args.accounts, args.receipts,
                                                 lambda line: print(line, file=sys.stderr, flush=True))
        out["seed_s"] = round(time.perf_counter() - started, 1)
    finally:
        await conn.close()
    return url


async def rebuild_and_vacuum(url: str, out: dict[str, Any], rebuild: bool) -> None:
    if rebuild:
        seconds, output = await asyncio.to_thread(cli, url, "report", "rebuild")
        print(output, end="", file=sys.stderr)
        out["rebuild_s"] = round(seconds, 1)
        out["rebuild_steps_s"] = {m[0]: float(m[1]) for m in re.findall(r"^  (\w+): ([\d.]+) s$", output, re.M)}
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        out["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
        out["database_bytes"] = await conn.fetchval("SELECT pg_database_size(current_database())")
        out["rows"] = {table: await conn.fetchval(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'")
                       for table in ("accounts", "receipts", "ledger", "lot_moves", "report_members",
                                     "report_accounts", "report_sales", "report_campaigns", "report_items",
                                     "report_store_items")}
        out["standing_receipts_year"] = await conn.fetchval(  # what program_year must count, before confirms
            "SELECT count(*) FROM receipts WHERE status IN ('confirmed', 'partially_refunded')"
            " AND issued_at >= (now() AT TIME ZONE 'UTC')::date - 364")
    finally:
        await conn.close()


def report_paths() -> dict[str, str]:
    """The reports a marketer opens: the default 30 days, a whole year, one store (`s1`, the biggest)."""
    today = datetime.now(UTC).date()
    year = f"from={today - timedelta(days=364)}&to={today}"
    return {"program_30d": "/v1/reports/program", "program_year": f"/v1/reports/program?{year}",
            "program_30d_store": "/v1/reports/program?store=s1",
            "program_year_store": f"/v1/reports/program?{year}&store=s1",
            "campaigns_30d": "/v1/reports/campaigns", "campaigns_year": f"/v1/reports/campaigns?{year}",
            "segments": "/v1/reports/segments",
            "uplift_30d": f"/v1/reports/campaigns/{HOLDOUT_CAMPAIGN}/uplift",
            "uplift_year": f"/v1/reports/campaigns/{HOLDOUT_CAMPAIGN}/uplift?{year}",
            "stores_30d": "/v1/reports/stores", "stores_year": f"/v1/reports/stores?{year}",
            "stores_30d_store": "/v1/reports/stores?store=s1",
            **{f"customers_{order}_30d": f"/v1/reports/customers?order={order}"
               for order in ("ltv", "receipts", "amount", "items")},
            "customers_amount_year": f"/v1/reports/customers?order=amount&{year}",
            "customers_amount_30d_store": "/v1/reports/customers?order=amount&store=s1",
            "customers_inactive_90": "/v1/reports/customers?inactive_days=90",
            "customers_inactive_90_amount": "/v1/reports/customers?inactive_days=90&order=amount",
            "abc_category_revenue_30d": "/v1/reports/abc",
            "abc_category_revenue_year": f"/v1/reports/abc?{year}",
            **{f"abc_sku_{measure}_year": f"/v1/reports/abc?by=sku&measure={measure}&{year}"
               for measure in ("revenue", "quantity", "receipts")},
            "abc_sku_revenue_year_store": f"/v1/reports/abc?by=sku&{year}&store=s1",
            "page_30d": "/reports"}


FAILURES: dict[str, int] = {}  # path: requests that did not answer 200 (a report over the statement timeout)


async def get(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.get(path)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        FAILURES[path] = FAILURES.get(path, 0) + 1
        print(f"{path}: {response.status_code} {response.text[:300]}", file=sys.stderr)
    return seconds, response


def summary_ms(cold: float, warm: list[float]) -> dict[str, float]:
    return {"cold_ms": round(cold * 1000, 1), "warm_median_ms": round(statistics.median(warm) * 1000, 1),
            "warm_max_ms": round(max(warm) * 1000, 1)}


async def time_reports(client: httpx.AsyncClient, runs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each report's first request after the server started, then `runs` more; and the answers, for sanity."""
    paths = report_paths()
    cold: dict[str, float] = {}
    answers: dict[str, Any] = {}
    for name, path in paths.items():
        cold[name], response = await get(client, path)
        answers[name] = response.json() if response.status_code == 200 and not name.startswith("page") else None
    if answers["customers_amount_30d"] and answers["customers_amount_30d"]["next_cursor"]:  # the second page
        paths["customers_amount_30d_page_2"] = f"{paths['customers_amount_30d']}&cursor=" \
                                               f"{answers['customers_amount_30d']['next_cursor']}"
        cold["customers_amount_30d_page_2"] = (await get(client, paths["customers_amount_30d_page_2"]))[0]
    warm: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):
        for name, path in paths.items():
            warm[name].append((await get(client, path))[0])
    return {name: summary_ms(cold[name], warm[name]) for name in paths}, answers


async def members_csv(client: httpx.AsyncClient, segment: str) -> dict[str, float]:
    """One download of a segment's members: time to the first byte of the body, total, rows."""
    return await download(client, f"/v1/reports/segments/{segment}/members")


async def download(client: httpx.AsyncClient, path: str) -> dict[str, float]:
    """One CSV download: time to the first byte of the body, total, rows."""
    started = time.perf_counter()
    first = 0.0
    newlines = 0
    async with client.stream("GET", path, headers={"Accept": "text/csv"}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
        async for chunk in response.aiter_raw():
            first = first or time.perf_counter() - started
            newlines += chunk.count(b"\n")
    total = time.perf_counter() - started
    return {"first_byte_s": first, "total_s": total, "rows": newlines - 1}


async def time_members(client: httpx.AsyncClient, segment: str, runs: int) -> dict[str, Any]:
    return {"segment": segment, **await time_download(client, f"/v1/reports/segments/{segment}/members", runs)}


async def time_download(client: httpx.AsyncClient, path: str, runs: int) -> dict[str, Any]:
    downloads = [await download(client, path) for _ in range(1 + runs)]
    warm = downloads[1:]
    return {"rows": downloads[0]["rows"],
            "first_byte": summary_ms(downloads[0]["first_byte_s"], [d["first_byte_s"] for d in warm]),
            "total": summary_ms(downloads[0]["total_s"], [d["total_s"] for d in warm]),
            "rows_per_s": round(downloads[0]["rows"] / statistics.median(d["total_s"] for d in warm))}


async def marketer(client: httpx.AsyncClient, stop: asyncio.Event) -> dict[str, list[float]]:
    """Program and campaigns for a year, then segments, back to back, one at a time, until told to stop."""
    paths = report_paths()
    seconds: dict[str, list[float]] = {}
    names = itertools.cycle(("program_year", "campaigns_year", "segments"))
    while not stop.is_set():
        name = next(names)
        seconds.setdefault(name, []).append((await get(client, paths[name]))[0])
    return seconds


def confirm_figures(stats: Stats, load: tuple[float, float]) -> dict[str, Any]:
    return {"confirm_rps": round(stats.rps(*CONFIRMS), 1),
            "confirm_p50_ms": round(stats.percentile_ms(50, *CONFIRMS), 1),
            "confirm_p99_ms": round(stats.percentile_ms(99, *CONFIRMS), 1),
            "errors": stats.errors, "load_average_before_after": load}


async def one_phase(port: int, client: httpx.AsyncClient, cards: list[str], args: argparse.Namespace,
                    name: str, seed: int, marketing: bool) -> dict[str, Any]:
    steps = register_mix(200_000, cards, seed=seed, run_id=f"{RUN_ID}-{name}-{seed}")
    before = load_average()
    if not marketing:
        return confirm_figures(await drive(port, steps, args.concurrency, args.seconds), (before, load_average()))
    stop = asyncio.Event()
    reading = asyncio.create_task(marketer(client, stop))
    stats = await drive(port, steps, args.concurrency, args.seconds)
    stop.set()
    seconds = await reading
    figures = confirm_figures(stats, (before, load_average()))
    figures["marketer"] = {name: [round(value * 1000) for value in values] for name, values in seconds.items()}
    return figures


async def confirm_phases(port: int, client: httpx.AsyncClient, cards: list[str], args: argparse.Namespace
                         ) -> dict[str, Any]:
    """The register mix alone and with the marketer, alternating `--rounds` times, then alone once more: on a
    machine others use, only medians over alternating phases separate the reports' cost from the noise."""
    await drive(port, register_mix(400, cards, seed=0, run_id=f"{RUN_ID}-warm"), args.concurrency, 5)
    rounds: list[dict[str, Any]] = []
    for index in range(args.rounds):
        rounds.append({"alone": await one_phase(port, client, cards, args, "alone", 2 * index + 1, False),
                       "with_reports": await one_phase(port, client, cards, args, "with", 2 * index + 2, True)})
    last = await one_phase(port, client, cards, args, "alone", 0, False)
    alone = [r["alone"] for r in rounds] + [last]
    loaded = [r["with_reports"] for r in rounds]
    summary = {}
    for name, phases in (("alone", alone), ("with_reports", loaded)):
        summary[name] = {key: round(statistics.median(p[key] for p in phases), 1)
                         for key in ("confirm_rps", "confirm_p50_ms", "confirm_p99_ms")}
        summary[name]["errors"] = sum(sum(p["errors"].values()) for p in phases)
    marketing = [seconds for p in loaded for seconds in p["marketer"].items()]
    summary["marketer"] = {name: {"requests": sum(len(v) for n, v in marketing if n == name),
                                  "median_ms": statistics.median(x for n, v in marketing if n == name for x in v),
                                  "max_ms": max(x for n, v in marketing if n == name for x in v)}
                           for name in ("program_year", "campaigns_year", "segments")
                           if any(n == name for n, _ in marketing)}
    return {**summary, "rounds": rounds, "last_alone": last}


class Explaining:
    """Stands in for the connection app.reports.repository gets: runs EXPLAIN (ANALYZE, BUFFERS) of each
    statement instead (the very SQL the service sends) and keeps the plan of the last; the functions get empty
    answers, but for single rows."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn
        self.plan = ""

    async def _explain(self, query: str, *args: Any) -> None:
        rows = await self.conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
        self.plan = "\n".join(row[0] for row in rows)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        if not query.startswith("FETCH"):  # a FETCH from a cursor declared below returns nothing more
            await self._explain(query, *args)
        return []

    async def execute(self, query: str, *args: Any) -> str:
        """A `DECLARE name CURSOR FOR query`: the plan of its query (EXPLAIN ANALYZE takes no DECLARE); a SET
        is run as it is."""
        if not query.startswith("DECLARE"):
            return str(await self.conn.execute(query, *args))
        await self._explain(query.split(" FOR ", 1)[1], *args)
        return ""

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """The real row too: a report may decide how to read by one (`repository.mostly_inside`)."""
        await self._explain(query, *args)
        return await self.conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> int:
        await self._explain(query, *args)
        return 0

    async def _no_rows(self, query: str, args: tuple[Any, ...]) -> Any:
        await self._explain(query, *args)
        for row in ():
            yield row

    def cursor(self, query: str, *args: Any, prefetch: int = 0) -> Any:
        return self._no_rows(query, args)


def ranking(order: str, start: Any, end: Any) -> Any:
    """The first page of the customers report in one order, for `report_statements`."""
    return lambda c: repository.customers(c, order, start, end, None, None, None, 51)


def report_statements(biggest: str) -> dict[str, Any]:
    """Every statement the reports send, for a year (and 30 days where the period drives the cost)."""
    now = datetime.now(UTC)
    end = now.date()
    start, month = end - timedelta(days=364), end - timedelta(days=29)
    bounds = (datetime.combine(start, datetime.min.time(), UTC), datetime.combine(end + timedelta(days=1),
                                                                                  datetime.min.time(), UTC))
    settings = parse_program(yaml.safe_load(PROGRAM.read_text())).segments
    return {
        "sales_year": lambda c: repository.sales(c, start, end, None),
        "points_year": lambda c: repository.points(c, start, end, None),
        "active_members_30d": lambda c: repository.active_members(c, month, end, None),
        "active_members_year": lambda c: repository.active_members(c, start, end, None),
        "active_members_year_store": lambda c: repository.active_members(c, start, end, "s1"),
        "members_year": lambda c: repository.members(c, *bounds),
        "liability": lambda c: repository.liability(c, end),
        "campaigns_year": lambda c: repository.campaigns(c, start, end, None),
        "segments": lambda c: repository.segments(c, now, settings),
        "store_sales_year": lambda c: repository.store_sales(c, start, end, None),
        "store_members_30d": lambda c: repository.store_members(c, month, end, None),
        "store_members_year": lambda c: repository.store_members(c, start, end, None),
        "registrations_year": lambda c: repository.registrations(c, *bounds, "UTC", None),
        "segment_flows_year": lambda c: repository.segment_flows(c, *bounds, now, settings),
        **{f"customers_{order}_30d": ranking(order, month, end) for order in repository.CUSTOMER_ORDERS},
        "customers_amount_year": lambda c: repository.customers(c, "amount", start, end, None, None, None, 51),
        "customers_inactive_90_30d": lambda c: repository.customers(c, "ltv", month, end, None,
                                                                    bounds[1] - timedelta(days=90), None, 51),
        "account_count": lambda c: repository.account_count(c),
        "rfm": lambda c: repository.rfm(c),
        f"segment_members_{biggest}": lambda c: repository.segment_members(c, biggest, now, settings),
        "items_sku_30d": lambda c: repository.items(c, "sku", month, end, None),
        "items_sku_year": lambda c: repository.items(c, "sku", start, end, None),
        "items_category_year": lambda c: repository.items(c, "category", start, end, None),
        "items_sku_year_store": lambda c: repository.items(c, "sku", start, end, "s1"),
        "holdout_groups_year": lambda c: repository.holdout_groups(c, HOLDOUT_CAMPAIGN, start, end),
    }


async def explain_all(url: str, biggest: str, path: str | None) -> dict[str, float]:
    """Each statement's execution time in ms (EXPLAIN ANALYZE's own, timing overhead included)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    explaining = Explaining(conn)
    times: dict[str, float] = {}
    plans = []
    try:
        for name, call in report_statements(biggest).items():
            result = call(explaining)
            if hasattr(result, "__aiter__"):
                async for _ in result:
                    pass
            else:
                await result
            times[name] = float(re.findall(r"Execution Time: ([\d.]+) ms", explaining.plan)[0])
            plans.append(f"== {name}: {times[name]:.1f} ms\n{explaining.plan}\n")
    finally:
        await conn.close()
    if path:
        Path(path).write_text("\n".join(plans))
    return times


async def measure(url: str, redis_url: str, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Reports, then confirms with and without reports, on `bonus-engine serve --workers N`."""
    with socket.socket() as probe:  # a port nobody listens on: other test suites run servers on this machine
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = start_serve(url, redis_url, args.workers, port)  # its own Redis key prefix, the admin key KEY
    try:
        await wait_ready(port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600,
                                     headers={"Authorization": f"Bearer {KEY}"}) as client:
            out["load_average_reports"] = load_average()
            out["reports"], answers = await time_reports(client, args.runs)
            if answers["program_year"] and answers["campaigns_year"]:
                out["sanity"] = sanity(answers, out.get("standing_receipts_year"))
            cvm = answers["segments"]["cvm"]
            out["segments_cvm"] = {row["segment"]: row["members"] for row in cvm}
            biggest = max(cvm, key=lambda row: row["members"])["segment"]
            out["members_csv"] = await time_members(client, biggest, max(1, args.runs // 2))
            out["customers_csv"] = await time_download(client, "/v1/reports/customers?order=amount",
                                                       max(1, args.runs // 2))
            if not args.reports_only:
                cards = [card_of(i) for i in range(1, args.accounts + 1)]
                out["confirms"] = await confirm_phases(port, client, cards, args)
            out["failed_requests"] = FAILURES
    finally:
        process.terminate()
        process.wait(30)


def sanity(answers: dict[str, Any], standing: int | None) -> dict[str, Any]:
    """What the year's reports say next to what was seeded (the register mix adds a few receipts later)."""
    year = answers["program_year"]
    return {"year_receipts": year["receipts"]["total"], "standing_receipts_seeded_in_that_year": standing,
            "year_identified_share": year["receipts"]["identified_share"],
            "year_active_members": year["members"]["active"], "members_total": year["members"]["total"],
            "year_members_new": year["members"]["new"], "year_average_check": year["average_check"]["all"],
            "liability": year["liability"], "points": year["points"],
            "campaigns_year_receipts": answers["campaigns_year"]["receipts"]["total"],
            **uplift_sanity(answers), **stores_and_customers(answers)}


def uplift_sanity(answers: dict[str, Any]) -> dict[str, Any]:
    """The year's uplift of the seeded control group: about a tenth of the members held out."""
    uplift = answers.get("uplift_year")
    if not uplift:
        return {}
    return {"uplift_year_members": {group: uplift[group]["eligible_members"] for group in ("treated", "held_out")},
            "uplift_year_conclusion": uplift["conclusion"]}


def stores_and_customers(answers: dict[str, Any]) -> dict[str, Any]:
    """The new reports of the same year and 30 days, next to the program report's figures they repeat."""
    stores, month = answers.get("stores_year"), answers.get("program_30d")
    customers = answers.get("customers_amount_30d")
    if not (stores and month and customers):
        return {}
    return {"stores_year_total": stores["total"], "stores_year_stores": len(stores["stores"]),
            "program_30d_kpis": {k: v for k, v in month["kpis"].items() if k != "segments"},
            "customers_30d_top_amount": customers["customers"][0]["amount"] if customers["customers"] else None,
            **abc_sanity(answers)}


def abc_sanity(answers: dict[str, Any]) -> dict[str, Any]:
    """The year's ABC next to the program report: every seeded line is goods, so the revenue of all the
    categories is the year's revenue; and how many SKUs each class holds."""
    categories, skus, year = (answers.get(name) for name in ("abc_category_revenue_year", "abc_sku_revenue_year",
                                                             "program_year"))
    if not (categories and skus and year):
        return {}
    return {"abc_year_category_revenue": categories["total"], "program_year_revenue": year["revenue"]["total"],
            "abc_year_sku_classes": {c["class"]: (c["keys"], c["share"]) for c in skus["classes"]}}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin_url = _with_database(server, "postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    database = args.reuse_database or args.keep_database or f"reports_{secrets.token_hex(4)}"
    url = _with_database(admin_url, database)
    out: dict[str, Any] = {"accounts": args.accounts, "receipts": args.receipts, "database": database,
                           "cores": os.cpu_count(), "load_average_start": load_average()}
    try:
        if not args.reuse_database:
            await create(admin_url, database, args, out)
        await rebuild_and_vacuum(url, out, rebuild=not args.reuse_database or args.rebuild)
        await measure(url, redis_url, args, out)
        out["statements_ms"] = await explain_all(url, out["members_csv"]["segment"], args.explain)
    finally:
        if not (args.reuse_database or args.keep_database):
            await drop_database(admin_url, database)
    out["load_average_end"] = load_average()
    return out


def table(out: dict[str, Any]) -> str:
    lines = [f"database {out['database']}: {out.get('database_bytes', 0) / 2**30:.1f} GiB; seed "
             f"{out.get('seed_s', '-')} s, rebuild {out.get('rebuild_s', '-')} s, VACUUM ANALYZE "
             f"{out['vacuum_analyze_s']} s; load average {out['load_average_start']} at start",
             f"{'report':<30}{'cold ms':>10}{'warm median':>13}{'warm max':>10}"]
    for name, figures in out["reports"].items():
        lines.append(f"{name:<30}{figures['cold_ms']:>10}{figures['warm_median_ms']:>13}{figures['warm_max_ms']:>10}")
    for name, csv in (("members " + out["members_csv"]["segment"], out["members_csv"]),
                      ("customers 30d", out["customers_csv"])):
        for part in ("first_byte", "total"):
            lines.append(f"{name + ' ' + part:<30}{csv[part]['cold_ms']:>10}"
                         f"{csv[part]['warm_median_ms']:>13}{csv[part]['warm_max_ms']:>10}")
        lines.append(f"  {csv['rows']:,} rows, {csv['rows_per_s']:,} rows/s")
    if "confirms" in out:
        lines += confirm_lines(out["confirms"])
    lines += [f"  {name}: {ms:.1f} ms" for name, ms in out["statements_ms"].items()]
    return "\n".join(lines)


def confirm_lines(confirms: dict[str, Any]) -> list[str]:
    lines = []
    lines.append(f"{'confirms':<22}{'rps':>10}{'p50 ms':>13}{'p99 ms':>10}  load average")
    phases = [(f"round {i + 1} {name}", r[name]) for i, r in enumerate(confirms["rounds"])
              for name in ("alone", "with_reports")]
    for name, c in [*phases, ("last alone", confirms["last_alone"])]:
        lines.append(f"{name:<22}{c['confirm_rps']:>10}{c['confirm_p50_ms']:>13}{c['confirm_p99_ms']:>10}"
                     f"  {c['load_average_before_after']}")
    for name in ("alone", "with_reports"):
        c = confirms[name]
        lines.append(f"{'median ' + name:<22}{c['confirm_rps']:>10}{c['confirm_p50_ms']:>13}{c['confirm_p99_ms']:>10}")
    lines.append(f"marketer under load: {confirms['marketer']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.reports_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--receipts", type=int, default=10_000_000)
    parser.add_argument("--keep-database", metavar="NAME", help="create the database under this name and keep it")
    parser.add_argument("--reuse-database", metavar="NAME", help="an already seeded database: no seeding")
    parser.add_argument("--rebuild", action="store_true", help="with --reuse-database: rebuild the summaries too")
    parser.add_argument("--explain", metavar="PATH", help="write the plans of every report statement here")
    parser.add_argument("--runs", type=int, default=5, help="warm requests of each report")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20, help="each confirm phase")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of confirm phases: alone, with reports")
    parser.add_argument("--reports-only", action="store_true", help="time the reports only, no confirm phases")
    args = parser.parse_args()
    if args.keep_database and args.reuse_database:
        parser.error("--keep-database and --reuse-database exclude each other")
    out = asyncio.run(run(args))
    print(table(out), file=sys.stderr)
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
