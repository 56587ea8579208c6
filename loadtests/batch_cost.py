"""CPU per confirm of group-commit batches by their size: in this process and in its PostgreSQL backend.

    python -m loadtests.batch_cost [--sizes 1,4,16] [--rounds 100] [--warm 150] [--accounts 20000] [--citus]

Without HTTP and without the load generator, so that the two halves of a confirm's cost can be told apart
on a busy machine: it times CPU (this process's, and its one PostgreSQL backend's from /proc), not the
clock. On a fresh database (DATABASE_URL's server, or an embedded PostgreSQL; Redis from REDIS_URL, or
an embedded Valkey) with the example program and `--accounts` seeded accounts, it first writes `--warm`
batches of 16 register-mix receipts and runs ANALYZE (the statistics of a database that has run a while),
then, twice over, `--rounds` batches of each size through the group commit's own transaction
(`app/receipts/batch.py`, `_commit`), each receipt validated and fingerprinted as a request's would be.
Prints one JSON line per size and round: milliseconds of CPU per confirm, service and PostgreSQL.
A batch costs a fixed part and a part per receipt: the sizes tell them apart. Not a test.

With `--citus` the database is on a Citus cluster it starts on this machine (a coordinator and two workers,
../shared/citus/cluster.sh; Redis as above), and PostgreSQL's CPU is counted per node, every process of
each node's server (a coordinator's statement runs on the workers over connections of their own), as
`node_cpu_ms_per_confirm`, the coordinator first; with the wall time a batch took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import psutil
import yaml

from app.core.auth import Principal
from app.core.idempotency import fingerprint
from app.receipts.batch import _commit, _Confirm
from rules import Receipt, compile_program, parse_program
from tests.inprocess import app_context

from ._sql import drop_database
from .bench import ROOT, database_servers, prepare
from .cluster import Cluster
from .scenarios import Step, register_mix
from .seed import card_of

PRINCIPAL = Principal("batch-cost", "admin", None)


async def run(args: argparse.Namespace) -> None:
    sizes = [int(size) for size in args.sizes.split(",")]
    program = compile_program(parse_program(yaml.safe_load((ROOT / "rules/examples/program.yaml").read_text())), 1)
    cards = [card_of(i) for i in range(1, args.accounts + 1)]
    needed = 16 * args.warm + 2 * args.rounds * sum(sizes)
    steps = iter([s for s in register_mix(2 * needed, cards, 3, "cost") if s.kind in ("confirm", "cardless",
                                                                                       "calculate")])
    async with database_servers("cost") as (admin_url, redis_url):
        cluster = await asyncio.to_thread(Cluster, 2) if args.citus else None
        database = f"cost_{secrets.token_hex(4)}"
        try:
            url = await prepare(cluster.coordinator_url if cluster else admin_url, database, args.accounts, 0, 0,
                                cluster=cluster)
            async with app_context(url, redis_url, f"{database}:", program, pool_max=1) as ctx:
                async with ctx.db.connection() as conn:
                    backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
                for _ in range(args.warm):
                    await _commit(ctx, _batch(steps, 16))
                async with ctx.db.connection() as conn:
                    await conn.execute("ANALYZE")
                for round_ in (1, 2):
                    for size in sizes:
                        service_before, database_before = time.process_time(), _cpu(backend)
                        nodes_before, wall_before = _nodes_cpu(cluster), time.perf_counter()
                        for _ in range(args.rounds):
                            await _commit(ctx, _batch(steps, size))
                        confirms = size * args.rounds
                        figures = {
                            "batch": size, "round": round_,
                            "service_cpu_ms_per_confirm": round(
                                (time.process_time() - service_before) / confirms * 1000, 3),
                            "postgres_cpu_ms_per_confirm": round(
                                (_cpu(backend) - database_before) / confirms * 1000, 3),
                        }
                        if cluster is not None:
                            figures |= {
                                "node_cpu_ms_per_confirm": [round((after - before) / confirms * 1000, 2) for
                                                            before, after in zip(nodes_before, _nodes_cpu(cluster),
                                                                                 strict=True)],
                                "wall_ms_per_batch": round((time.perf_counter() - wall_before) / args.rounds * 1000, 1),
                            }
                        print(orjson.dumps(figures).decode(), flush=True)
        finally:
            if cluster is None:
                await drop_database(admin_url, database)
            else:
                await asyncio.to_thread(cluster.stop)


def _batch(steps: Iterator[Step], size: int) -> list[_Confirm]:
    """The next `size` receipts as the fast write hands them over: validated, fingerprinted."""
    batch = []
    for _ in range(size):
        receipt = Receipt.model_validate_json(next(steps).body)
        batch.append(_Confirm(receipt, PRINCIPAL, fingerprint(receipt)))
    return batch


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _nodes_cpu(cluster: Cluster | None) -> list[float]:
    """CPU so far of each node's server: its postmaster and every process it runs (those gone included, as
    the postmaster's children's times), the coordinator first."""
    if cluster is None:
        return []
    seconds = []
    for port in cluster.ports:
        postmaster = psutil.Process(int(Path(cluster.node_data(port), "postmaster.pid").read_text().split()[0]))
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            with contextlib.suppress(psutil.NoSuchProcess):  # it ended: its time is in the postmaster's now
                total += _cpu(child)
        seconds.append(total)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.batch_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4,16", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=100, help="batches of each size per round")
    parser.add_argument("--warm", type=int, default=150, help="batches of 16 written before, then ANALYZE")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--citus", action="store_true", help="on a Citus cluster of a coordinator and two workers")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
