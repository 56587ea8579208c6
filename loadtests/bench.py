"""The throughput benchmark: the engine against the physical ceilings of this machine, in one run.

    python -m loadtests.bench [--accounts 100000] [--ledger-rows 0] [--campaigns 0] [--workers 2]
                              [--concurrency 32] [--seconds 20] [--ceiling-seconds 8]
                              [--ceiling-scripts DIR] [--baseline REF]
    python -m loadtests.bench --citus [--citus-workers 2] [--accounts ...] [--workers ...] [--seconds ...]

It creates a fresh database (on DATABASE_URL's server, or an embedded PostgreSQL; Redis from REDIS_URL or
an embedded Valkey), migrates it, loads the example program (plus `--campaigns` campaigns scoped to
other skus), seeds the accounts, starts `bonus-engine serve --workers N`, and measures, one after the
other: the HTTP ceiling (/healthz), the register mix at full speed, the mix again at 80% of that rate
(open loop) for the latency goal and at 50% for the median, balance reads with a warm cache at full speed
and at 80% of that rate (open loop), and the SQL ceiling (raw asyncpg, the statements of one confirm).
Then, the service stopped and its database dropped, the fixed SQL ceiling in a database of its own on the
same server: shared/bench's pgbench scripts (found beside the repository, or in `--ceiling-scripts`; the
figures are null, with a warning, without them or without pgbench), the least work any points ledger
does per receipt, one a transaction (`minimal_tx_ceiling_rps`) and ten a transaction
(`batched_ceiling_rps`), the best of 2 runs of `--ceiling-seconds` (rounded up to whole seconds) each.

With `--baseline REF`, commit REF (a `git worktree` of it) is served too, on the same servers with its own
database, migrated by its own migrations and seeded the same way, and its register-mix peak is measured
with the same steps, concurrency and seconds right before this code's: `baseline_confirm_rps`,
`baseline_service_cpu_ms_per_confirm` and `confirm_to_baseline`.

With `--citus`, it measures only the register mix's peak (closed loop, `--concurrency`), first on one
PostgreSQL (as above), then on a Citus cluster it starts on this machine (a coordinator and
`--citus-workers` workers, ../shared/citus/cluster.sh; Citus built by ../shared/citus/build.sh): confirms/s,
p50 and p99, the service's, the databases' (every node's backends of the database) and the machine's CPU
per confirm, and the two-phase commits the coordinator made per confirm (a batch of confirms that writes on
two workers is one).

It prints one JSON line. The load generator is a plain asyncio HTTP/1.1 client in this process; its CPU
share of the machine is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import yaml

import rules
from app import embedded
from app.core.db import asyncpg_dsn
from rules import compile_program, parse_program

from . import cpu
from ._http import Connection, build
from ._sql import drop_database, execute
from .ceiling import STATEMENTS_PER_CONFIRM, sql_ceiling
from .cluster import Cluster
from .pgbench_ceiling import fixed_ceiling, scripts_dir
from .scenarios import Step, register_mix
from .seed import card_of, seed

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-" + secrets.token_hex(8)
CONFIRMS = ("confirm", "cardless", "calculate")


@dataclass
class Stats:
    latencies_s: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)  # the phase starts when its Stats is made
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the phase, latency)

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        self.latencies_s.setdefault(kind, []).append(seconds)
        if kind in CONFIRMS:
            self.timeline.append((time.perf_counter() - self.started, seconds))
        if not ok:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def count(self, *kinds: str) -> int:
        return sum(len(self.latencies_s.get(kind, [])) for kind in kinds)

    def rps(self, *kinds: str) -> float:
        return self.count(*kinds) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, percent: float, *kinds: str) -> float:
        values = sorted(v for kind in kinds for v in self.latencies_s.get(kind, []))
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(len(values) * percent / 100))] * 1000


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive(port: int, steps: list[Step], concurrency: int, seconds: float, rate: float | None = None) -> Stats:
    """Run the steps round-robin over `concurrency` connections for `seconds` (closed loop), or paced to
    `rate` requests per second in all (open loop)."""
    stats = Stats()
    confirmed: list[str] = []
    position = 0
    deadline = stats.started + seconds
    cpu_before = _cpu_s()

    async def one(conn: Connection, step: Step) -> None:
        if step.kind == "balance":
            t0 = time.perf_counter()
            status, _ = await conn.request(build("GET", f"/v1/accounts/{step.card}", KEY))
            stats.add("balance", time.perf_counter() - t0, status == 200)
            return
        if step.kind == "refund":
            if not confirmed:
                return
            receipt_id = confirmed.pop(random.randrange(len(confirmed)))
            t0 = time.perf_counter()
            status, _ = await conn.request(build("POST", f"/v1/receipts/{receipt_id}/refunds", KEY,
                                                 b'{"refund_id": "all"}'))
            stats.add("refund", time.perf_counter() - t0, status in (200, 201))
            return
        if step.kind == "calculate":
            t0 = time.perf_counter()
            status, _ = await conn.request(build("POST", "/v1/receipts/calculate", KEY, step.body))
            stats.add("calculate_only", time.perf_counter() - t0, status == 200)
        t0 = time.perf_counter()
        status, _ = await conn.request(build("POST", "/v1/receipts", KEY, step.body))
        stats.add(step.kind, time.perf_counter() - t0, status in (200, 201))
        if status in (200, 201):
            confirmed.append(step.receipt_id)

    async def worker(index: int) -> None:
        nonlocal position
        conn = Connection("127.0.0.1", port)
        interval = concurrency / rate if rate else 0.0
        next_at = time.perf_counter() + (interval * index / concurrency if rate else 0.0)
        try:
            while time.perf_counter() < deadline and position < len(steps):
                if rate:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                step = steps[position]
                position += 1
                await one(conn, step)
        finally:
            conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    stats.elapsed_s = time.perf_counter() - stats.started
    stats.cpu_s = _cpu_s() - cpu_before
    return stats


async def drive_healthz(port: int, concurrency: int, seconds: float) -> Stats:
    """The HTTP ceiling: the same server stack answering its most trivial endpoint."""
    stats = Stats()
    deadline = stats.started + seconds
    cpu_before = _cpu_s()
    raw = build("GET", "/healthz", KEY)

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            status, _ = await conn.request(raw)
            stats.add("healthz", time.perf_counter() - t0, status == 200)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.elapsed_s = time.perf_counter() - stats.started
    stats.cpu_s = _cpu_s() - cpu_before
    return stats


def filler_campaigns(count: int) -> list[dict[str, Any]]:
    """Active campaigns of every discount and points type, scoped to skus and categories not on the receipts."""
    campaigns = []
    for i in range(count):
        base: dict[str, Any] = {"id": f"filler-{i:05d}", "name": f"filler {i}", "priority": 100 + i % 500}
        items = {"skus": [f"OTHER-{i}"]} if i % 2 else {"categories": [f"dept-{i % 97}/shelf-{i}"]}
        kind = i % 5
        if kind == 0:
            campaigns.append({**base, "type": "receipt_discount", "items": items,
                              "thresholds": [{"min_amount": 0, "percent": 3}]})
        elif kind == 1:
            campaigns.append({**base, "type": "quantity_discount", "items": items,
                              "thresholds": [{"min_quantity": 2, "percent": 5}]})
        elif kind == 2:
            campaigns.append({**base, "type": "n_for_m", "items": items, "buy": 3, "pay": 2})
        elif kind == 3:
            campaigns.append({**base, "type": "accrual", "items": items, "percent": 10, "mode": "replace"})
        else:
            campaigns.append({**base, "type": "bonus", "trigger": "receipt", "items": items, "points": 5_000})
    return campaigns


def code_of(root: Path, database_url: str) -> dict[str, Any]:
    """subprocess.run/Popen arguments that make `python -m app.cli` the code of the checkout at `root`."""
    path = os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))
    return {"cwd": root, "env": {**os.environ, "PYTHONPATH": path, "DATABASE_URL": database_url}}


async def new_database(admin_url: str, database: str, root: Path = ROOT, cluster: Cluster | None = None) -> str:
    """Create a database on the server of `admin_url` (on every node of `cluster`, whose coordinator it is)
    and migrate it with the migrations of the checkout at `root`; returns its URL."""
    if cluster is not None:
        await asyncio.to_thread(cluster.create_database, database)
    else:
        await execute(admin_url, f'CREATE DATABASE "{database}"')
    url = _with_database(admin_url, database)
    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "app.cli", "migrate"], **code_of(root, url),
                            check=True, stdout=subprocess.DEVNULL)
    return url


async def prepare(admin_url: str, database: str, accounts: int, ledger_rows: int, campaigns: int,
                  root: Path = ROOT, cluster: Cluster | None = None,
                  extra_campaigns: Sequence[dict[str, Any]] = ()) -> str:
    url = await new_database(admin_url, database, root, cluster)
    document = yaml.safe_load((root / "rules" / "examples" / "program.yaml").read_text())
    document["campaigns"] += filler_campaigns(campaigns) + list(extra_campaigns)
    parse_program(document)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("INSERT INTO programs (version, document) VALUES (1, $1::jsonb)",
                           json.dumps(document, default=str))
        t0 = time.perf_counter()
        await seed(conn, accounts, ledger_rows)
        print(f"seeded {accounts:,} accounts and {ledger_rows:,} ledger rows in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        # what a database that has run for a while has had done: vacuumed (else autovacuum works through the
        # seeded rows during the measurement) and its history in the report summaries (else every worker's
        # roll-up starts folding all of it)
        t0 = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)", timeout=None)
    finally:
        await conn.close()
    subprocess.run([sys.executable, "-m", "app.cli", "report", "rebuild"], **code_of(root, url), check=True,
                   stdout=subprocess.DEVNULL)
    print(f"vacuumed and rolled up the reports in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return url


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def start_serve(database_url: str, redis_url: str, workers: int, port: int,
                root: Path = ROOT) -> subprocess.Popen[bytes]:
    """`serve` of the checkout at `root`, with a Redis prefix of its own."""
    code = code_of(root, database_url)
    code["env"] |= {"REDIS_URL": redis_url, "BONUS_ENGINE_BOOTSTRAP_ADMIN_KEY": KEY,
                    "BONUS_ENGINE_REDIS_PREFIX": f"bench-{port}-{secrets.token_hex(4)}:",
                    "BONUS_ENGINE_LOG_LEVEL": "ERROR", "BONUS_ENGINE_EXPIRE_INTERVAL_S": "0"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             "--workers", str(workers)], **code)


async def wait_ready(port: int, timeout_s: float = 60) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        try:
            conn = Connection("127.0.0.1", port)
            status, _ = await conn.request(build("GET", "/readyz", KEY))
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the service did not become ready")


@dataclass
class Served:
    url: str  # the fresh database's
    port: int
    process: subprocess.Popen[bytes]
    cards: list[str]  # of the seeded accounts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@asynccontextmanager
async def database_servers(name: str) -> AsyncIterator[tuple[str, str]]:
    """(admin URL, Redis URL): DATABASE_URL's server (or an embedded PostgreSQL, stopped afterwards) and
    REDIS_URL (or the embedded Valkey)."""
    if os.environ.get("DATABASE_URL"):
        yield _with_database(os.environ["DATABASE_URL"], "postgres"), os.environ.get("REDIS_URL", "")
        return
    tmp = tempfile.mkdtemp(prefix=f"bonus-{name}-")
    os.chmod(tmp, 0o755)
    servers = embedded.start(Path(tmp), persist=False)
    try:
        yield servers.database_url("postgres"), os.environ.get("REDIS_URL") or servers.redis_url
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@asynccontextmanager
async def serving(name: str, accounts: int, ledger_rows: int, campaigns: int, workers: int, *,
                  servers: tuple[str, str] | None = None, root: Path = ROOT,
                  cluster: Cluster | None = None,
                  extra_campaigns: Sequence[dict[str, Any]] = ()) -> AsyncIterator[Served]:
    """A fresh database `name_<random>` seeded on `servers` (admin URL, Redis URL; by default those of
    `database_servers`; with `cluster`, the admin URL is its coordinator's) and `serve` of the checkout at
    `root` on it, warmed up; all of it gone afterwards. `extra_campaigns` join the example program's
    (loadtests/holdout_cost.py)."""
    async with nullcontext(servers) if servers else database_servers(name) as (admin_url, redis_url):
        database = f"{name}_{secrets.token_hex(4)}"
        url = await prepare(admin_url, database, accounts, ledger_rows, campaigns, root, cluster, extra_campaigns)
        port = 18000 + random.randrange(1000)
        served = Served(url, port, start_serve(url, redis_url, workers, port, root),
                        [card_of(i) for i in range(1, accounts + 1)])
        try:
            await wait_ready(port)
            await drive(port, register_mix(400, served.cards, seed=0, run_id="warm"), 32, 5)
            # statistics that know the warm-up's receipts, lots and ledger rows, as autovacuum's ANALYZE would
            # have them on a server that has run a while (this machine's PostgreSQL runs without autovacuum:
            # plans made for empty tables would scan them as they grow)
            await execute(url, "ANALYZE")
            yield served
        finally:
            served.stop()
            if cluster is not None:
                await asyncio.to_thread(cluster.drop_database, database)
            else:
                await drop_database(admin_url, database)


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A detached checkout of `ref` in a temporary directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(path), ref], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


@dataclass
class Peak:
    stats: Stats
    service_s: float  # CPU of the service's processes
    machine_s: float | None  # busy CPU of the machine (None without /proc/stat)
    database_s: float  # CPU of the PostgreSQL backends of the service's database (0 on another machine)

    @property
    def service_ms_per_confirm(self) -> float:
        return round(self.service_s / self.stats.count(*CONFIRMS) * 1000, 2)

    @property
    def database_ms_per_confirm(self) -> float:
        return round(self.database_s / self.stats.count(*CONFIRMS) * 1000, 2)


async def measure_peak(served: Served, steps: list[Step], concurrency: int, seconds: float) -> Peak:
    """The register mix at full speed (closed loop), and the CPU it took."""
    database = urlsplit(served.url).path.lstrip("/")  # the URL may carry a query (sslmode=…)
    service_before, machine_before = cpu.service_seconds(served.process.pid), cpu.machine_seconds()
    database_before = cpu.database_seconds(database)
    stats = await drive(served.port, steps, concurrency, seconds)
    service_s = cpu.service_seconds(served.process.pid) - service_before
    database_s = cpu.database_seconds(database) - database_before
    machine_after = cpu.machine_seconds()
    machine_s = machine_after - machine_before if machine_after is not None and machine_before is not None else None
    return Peak(stats, service_s, machine_s, database_s)


async def baseline_peak(args: argparse.Namespace, servers: tuple[str, str], steps: list[Step]) -> dict[str, Any]:
    """The peak of commit `args.baseline` on the same servers: its own checkout, database (migrated by its
    own migrations, seeded the same way) and `serve`, driven by `steps`."""
    with worktree(args.baseline) as root:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        async with serving("baseline", args.accounts, args.ledger_rows, args.campaigns, args.workers,
                           servers=servers, root=root) as served:
            peak = await measure_peak(served, steps, args.concurrency, args.seconds)
    return {"baseline_ref": args.baseline, "baseline_commit": commit,
            "baseline_confirm_rps": round(peak.stats.rps(*CONFIRMS), 1),
            "baseline_service_cpu_ms_per_confirm": peak.service_ms_per_confirm,
            "baseline_database_cpu_ms_per_confirm": peak.database_ms_per_confirm,
            "baseline_errors": peak.stats.errors}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with database_servers("bench") as servers:
        result = await measure(args, servers)
        # after the service has stopped and its database is gone, like the SQL ceiling
        fixed = await fixed_ceiling(servers[0], args.ceiling_seconds, scripts_dir(args.ceiling_scripts))
    minimal = fixed["minimal_tx_ceiling_rps"]
    return result | {
        "minimal_tx_ceiling_rps": round(minimal, 1) if minimal is not None else None,
        "batched_ceiling_rps": (round(fixed["batched_ceiling_rps"], 1) if fixed["batched_ceiling_rps"] is not None
                                else None),
        "confirm_to_minimal_tx_ceiling": round(result["confirm_rps"] / minimal, 3) if minimal else None,
    }


async def measure(args: argparse.Namespace, servers: tuple[str, str]) -> dict[str, Any]:
    async with serving("bench", args.accounts, args.ledger_rows, args.campaigns, args.workers,
                       servers=servers) as served:
        port, cards = served.port, served.cards
        http = await drive_healthz(port, args.concurrency, args.ceiling_seconds)
        steps = register_mix(200_000, cards, seed=1, run_id="peak")  # the accounts' cards are the same in both
        # the baseline's peak right before this code's: the same steps, concurrency and seconds, on the same
        # servers, under the same machine conditions
        baseline = await baseline_peak(args, servers, steps) if args.baseline else None
        measured = await measure_peak(served, steps, args.concurrency, args.seconds)
        peak, service_s, machine_s = measured.stats, measured.service_s, measured.machine_s
        peak_rps = peak.rps(*CONFIRMS, "calculate_only", "refund", "balance")
        steps = register_mix(200_000, cards, seed=2, run_id="at80")
        at80 = await drive(port, steps, args.concurrency * 2, args.seconds, rate=0.8 * peak_rps)
        steps = register_mix(200_000, cards, seed=3, run_id="at50")
        at50 = await drive(port, steps, args.concurrency * 2, args.seconds, rate=0.5 * peak_rps)
        hot = cards[:1000]  # read over and over: cache hits after the first read
        reads = [Step("balance", card=hot[i % len(hot)]) for i in range(500_000)]
        balance = await drive(port, reads, args.concurrency, args.ceiling_seconds)
        # the latency of reads, as of confirms, at 80% of their peak (open loop): at the peak itself a closed
        # loop's latency is its connections over the rate, whatever the service does
        balance_at80 = await drive(port, reads[::-1], args.concurrency * 2, args.ceiling_seconds,
                                   rate=0.8 * balance.rps("balance"))
        # the service's background work (the report roll-up of the phases above) must not share the
        # database server with the ceiling
        served.stop()
        program = compile_program(parse_program(yaml.safe_load((ROOT / "rules" / "examples" /
                                                                "program.yaml").read_text())), 1)
        sql = await sql_ceiling(served.url, program, cards, args.ceiling_seconds)
    cores = os.cpu_count() or 1
    confirm_rps = peak.rps(*CONFIRMS)
    http_rps = http.rps("healthz")
    return {
        "accounts": args.accounts, "ledger_rows": args.ledger_rows, "campaigns": args.campaigns,
        "workers": args.workers, "concurrency": args.concurrency, "seconds": args.seconds,
        "engine_compiled": rules.COMPILED,  # the service's too: it inherits BONUS_ENGINE_COMPILED
        "confirm_rps": round(confirm_rps, 1),
        "confirm_p50_ms": round(peak.percentile_ms(50, *CONFIRMS), 2),
        "confirm_p99_ms": round(peak.percentile_ms(99, *CONFIRMS), 2),
        "mix_rps": round(peak_rps, 1),
        "at80_rate_rps": round(0.8 * peak_rps, 1),
        "at80_confirm_rps": round(at80.rps(*CONFIRMS), 1),
        "at80_confirm_p99_ms": round(at80.percentile_ms(99, *CONFIRMS), 2),
        "at50_rate_rps": round(0.5 * peak_rps, 1),
        "at50_confirm_p50_ms": round(at50.percentile_ms(50, *CONFIRMS), 2),
        "at50_confirm_p99_ms": round(at50.percentile_ms(99, *CONFIRMS), 2),
        "balance_rps": round(balance.rps("balance"), 1),
        "balance_p99_ms": round(balance.percentile_ms(99, "balance"), 2),
        "balance_at80_p50_ms": round(balance_at80.percentile_ms(50, "balance"), 2),
        "balance_at80_p99_ms": round(balance_at80.percentile_ms(99, "balance"), 2),
        "sql_ceiling_tps": round(sql["tps"], 1),
        "sql_ceiling_concurrency": sql.get("concurrency"),
        "sql_ceiling_small_documents_tps": round(sql["small_documents_tps"], 1),
        "sql_statements_per_confirm": STATEMENTS_PER_CONFIRM,
        "http_ceiling_rps": round(http_rps, 1),
        "confirm_to_sql_ceiling": round(confirm_rps / sql["tps"], 3) if sql["tps"] else None,
        "balance_to_http_ceiling": round(balance.rps("balance") / http_rps, 3) if http_rps else None,
        "errors": {**{f"peak_{k}": v for k, v in peak.errors.items()},
                   **{f"at80_{k}": v for k, v in at80.errors.items()},
                   **{f"at50_{k}": v for k, v in at50.errors.items()}},
        "loadgen_cpu_share": round(peak.cpu_s / (peak.elapsed_s * cores), 3),
        # CPU per confirm of the peak phase (the mix's other requests included): the service's processes,
        # and the rest of the machine (PostgreSQL, Redis, the kernel) when the servers are local
        "service_cpu_ms_per_confirm": measured.service_ms_per_confirm,
        # the service's own database backends: what PostgreSQL spent on it, whatever else the server did
        "database_cpu_ms_per_confirm": measured.database_ms_per_confirm,
        "other_cpu_ms_per_confirm": (round((machine_s - service_s - peak.cpu_s) / peak.count(*CONFIRMS) * 1000, 2)
                                     if machine_s is not None else None),
        # all of it: the service, the rest of the machine (its database backends included) and the load
        # generator; the "machine CPU per confirm"
        "machine_cpu_ms_per_confirm": (round(machine_s / peak.count(*CONFIRMS) * 1000, 2)
                                       if machine_s is not None else None),
        "cores": cores,
    } | ({} if baseline is None else baseline | {
        "confirm_to_baseline": (round(confirm_rps / baseline["baseline_confirm_rps"], 3)
                                if baseline["baseline_confirm_rps"] else None),
    })


# Two-phase commits the coordinator made: one pg_dist_transaction row per worker a transaction prepared on, its
# gid `citus_<group>_<pid>_<transaction number>_<connection>` (the recovery that deletes rows is off meanwhile)
_TWO_PHASE_COMMITS = ("SELECT count(DISTINCT split_part(gid, '_', 3) || '_' || split_part(gid, '_', 4))"
                      " FROM pg_dist_transaction")


def _figures(peak: Peak) -> dict[str, Any]:
    confirms = peak.stats.count(*CONFIRMS)
    return {"confirm_rps": round(peak.stats.rps(*CONFIRMS), 1),
            "confirm_p50_ms": round(peak.stats.percentile_ms(50, *CONFIRMS), 2),
            "confirm_p99_ms": round(peak.stats.percentile_ms(99, *CONFIRMS), 2),
            "service_cpu_ms_per_confirm": peak.service_ms_per_confirm,
            "database_cpu_ms_per_confirm": peak.database_ms_per_confirm,
            "machine_cpu_ms_per_confirm": (round(peak.machine_s / confirms * 1000, 2)
                                           if peak.machine_s is not None and confirms else None),
            "errors": peak.stats.errors}


async def compare_citus(args: argparse.Namespace) -> dict[str, Any]:
    """The register mix's peak on one PostgreSQL server, then on a Citus cluster of a coordinator and
    `--citus-workers` workers on this machine (its own servers, started and stopped here), same steps."""
    steps = register_mix(200_000, [card_of(i) for i in range(1, args.accounts + 1)], seed=1, run_id="peak")
    async with database_servers("bench") as servers:
        async with serving("plain", args.accounts, args.ledger_rows, args.campaigns, args.workers,
                           servers=servers) as served:
            plain = await measure_peak(served, steps, args.concurrency, args.seconds)
        cluster = await asyncio.to_thread(Cluster, args.citus_workers)
        try:
            await execute(cluster.coordinator_url, "ALTER SYSTEM SET citus.recover_2pc_interval TO -1")
            await execute(cluster.coordinator_url, "SELECT pg_reload_conf()")
            async with serving("citus", args.accounts, args.ledger_rows, args.campaigns, args.workers,
                               servers=(cluster.coordinator_url, servers[1]), cluster=cluster) as served:
                conn = await asyncpg.connect(served.url)
                try:
                    before = await conn.fetchval(_TWO_PHASE_COMMITS)
                    citus = await measure_peak(served, steps, args.concurrency, args.seconds)
                    two_phase = await conn.fetchval(_TWO_PHASE_COMMITS) - before
                finally:
                    await conn.close()
        finally:
            await asyncio.to_thread(cluster.stop)
    confirms = citus.stats.count(*CONFIRMS)
    return {"accounts": args.accounts, "workers": args.workers, "concurrency": args.concurrency,
            "seconds": args.seconds, "citus_workers": args.citus_workers,
            **{f"plain_{key}": value for key, value in _figures(plain).items()},
            **{f"citus_{key}": value for key, value in _figures(citus).items()},
            "citus_two_phase_commits": two_phase,
            "citus_two_phase_commits_per_confirm": round(two_phase / confirms, 3) if confirms else None,
            "citus_to_plain_confirm_rps": (round(citus.stats.rps(*CONFIRMS) / plain.stats.rps(*CONFIRMS), 3)
                                           if plain.stats.count(*CONFIRMS) else None)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--ledger-rows", type=int, default=0)
    parser.add_argument("--campaigns", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--ceiling-seconds", type=float, default=8)
    parser.add_argument("--ceiling-scripts", default=None, metavar="DIR",
                        help="the fixed ceiling's pgbench scripts (default: shared/bench beside the repository)")
    parser.add_argument("--baseline", default=None, metavar="REF",
                        help="also serve this git commit on the same servers and compare its confirm rate")
    parser.add_argument("--citus", action="store_true",
                        help="instead: the register mix's peak on one PostgreSQL and on a Citus cluster on this "
                             "machine (Citus built by ../shared/citus/build.sh), side by side")
    parser.add_argument("--citus-workers", type=int, default=2)
    args = parser.parse_args()
    print(orjson.dumps(asyncio.run(compare_citus(args) if args.citus else run(args))).decode())


if __name__ == "__main__":
    main()
