"""CPU per confirm of group-commit batches by their size: in this process and in its PostgreSQL backend.

    python -m loadtests.batch_cost [--sizes 1,4,16] [--rounds 100] [--warm 150] [--accounts 20000]

Without HTTP and without the load generator, so that the two halves of a confirm's cost can be told apart
on a busy machine: it times CPU (this process's, and its one PostgreSQL backend's from /proc), not the
clock. On a fresh database (DATABASE_URL's server, or an embedded PostgreSQL; Redis from REDIS_URL, or
an embedded Valkey) with the example program and `--accounts` seeded accounts, it first writes `--warm`
batches of 16 register-mix receipts and runs ANALYZE (the statistics of a database that has run a while),
then, twice over, `--rounds` batches of each size through the group commit's own transaction
(`app/receipts/batch.py`, `_commit`), each receipt validated and fingerprinted as a request's would be.
Prints one JSON line per size and round: milliseconds of CPU per confirm, service and PostgreSQL.
A batch costs a fixed part and a part per receipt: the sizes tell them apart. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Iterator

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
        database = f"cost_{secrets.token_hex(4)}"
        url = await prepare(admin_url, database, args.accounts, 0, 0)
        try:
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
                        for _ in range(args.rounds):
                            await _commit(ctx, _batch(steps, size))
                        confirms = size * args.rounds
                        print(orjson.dumps({
                            "batch": size, "round": round_,
                            "service_cpu_ms_per_confirm": round(
                                (time.process_time() - service_before) / confirms * 1000, 3),
                            "postgres_cpu_ms_per_confirm": round(
                                (_cpu(backend) - database_before) / confirms * 1000, 3),
                        }).decode(), flush=True)
        finally:
            await drop_database(admin_url, database)


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.batch_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4,16", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=100, help="batches of each size per round")
    parser.add_argument("--warm", type=int, default=150, help="batches of 16 written before, then ANALYZE")
    parser.add_argument("--accounts", type=int, default=20_000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
