"""What a simulation on stored receipts costs: the engine per receipt, then the whole database pipeline.

    python -m loadtests.simulate_bench [--receipts 200000] [--cards 50000] [--mix shoes|register]
                                       [--draft care|same|tier] [--engine-only | --parallel-only]

1. The engine alone, in this process, on both mixes of `_bodies` (the example program): stored bodies read
   back by `app.simulations.stored.receipt_of` and by full validation, and each receipt through
   `app.simulations.model.Simulation.run` (the engine and the in-memory accounts). Prints receipts/s.
2. The pipeline (needs DATABASE_URL, a server where it may create a database): a fresh database migrated to
   head, `--receipts` stored receipts of `--mix` spread over 30 days written straight into `receipts` (with
   their cards' accounts; the ledger is empty, so every account opens without points), then `replay` over the
   whole period with the draft alone, with a baseline, and with a baseline in one process per CPU, timed.
   The baseline is the example program, the draft that program changed as `--draft` says (`DRAFTS`); with
   each run, how many receipts were evaluated once for both (app/simulations/runs.py `Runs`).
   Prints receipts/s and the seconds 1M receipts would take at that rate. The database is dropped at the end.

This is a command that prints numbers, not a test. The machine's other load is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

import rules
from app.core.db import asyncpg_dsn, connect
from app.core.migrations import upgrade
from app.simulations.model import Simulation
from app.simulations.parallel import replay_parallel
from app.simulations.replay import Period, replay
from app.simulations.stored import receipt_of, validated
from rules import Receipt, compile_program, load_program, parse_program

from . import make_receipts
from ._sql import drop_database, execute
from .scenarios import receipt_body

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
DAYS = 30


def _bodies(mix: str, count: int, cards: int, start: datetime, days: int = DAYS, seed: int = 7) -> list[str]:
    """Stored bodies as confirm writes them, `issued_at` spread over `days` from `start`, in time order.

    `shoes`: loadtests/make_receipts.py's receipts (1 to 5 lines, the synthetic history of docs/programs.md);
    `register`: the HTTP benchmark's register mix (5 to 30 lines, 17.5 on average)."""
    if mix == "shoes":
        made = make_receipts.receipts(count, seed, cards, start, days)
    else:
        rng = random.Random(seed)
        step_s = days * 86400 / count
        made = []
        for index in range(count):
            at = (start + timedelta(seconds=index * step_s)).replace(microsecond=0).isoformat()
            made.append(receipt_body(f"r-{index}", f"29{rng.randrange(cards):011d}" if rng.random() < 0.8 else None,
                                     rng, at))
    return [Receipt.model_validate(body).model_dump_json(exclude_defaults=True) for body in made]


def _rate(count: int, seconds: float) -> dict[str, float]:
    return {"receipts_per_s": round(count / seconds), "us_per_receipt": round(seconds / count * 1e6, 1)}


def engine(mix: str, count: int) -> dict[str, Any]:
    program = compile_program(load_program(EXAMPLE.read_text(), "yaml"), 1)
    bodies = _bodies(mix, count, max(count // 4, 1), datetime.now(UTC) - timedelta(days=DAYS))
    figures: dict[str, Any] = {"mix": mix, "receipts": count, "lines_per_receipt": round(
        sum(len(orjson.loads(b)["lines"]) for b in bodies) / count, 1)}
    for name, read in (("validate", validated), ("receipt_of", receipt_of)):
        started = time.perf_counter()
        for body in bodies:
            read(body)
        figures[f"read_{name}"] = _rate(count, time.perf_counter() - started)
    receipts = [receipt_of(body) for body in bodies]
    simulation = Simulation(program, {})
    started = time.perf_counter()
    for receipt in receipts:
        simulation.run(receipt)
    figures["evaluate"] = _rate(count, time.perf_counter() - started)
    return figures


async def _seed(url: str, mix: str, count: int, cards: int, start: datetime) -> None:
    """The receipts a day at a time through COPY (no ledger, no result documents; created_at = issued_at, as if
    each was confirmed the moment it was issued), then the accounts of their cards, created before `start`."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        per_day = -(-count // DAYS)
        written = 0
        for day in range(DAYS):
            rows = []
            for body in _bodies(mix, min(per_day, count - written), cards, start + timedelta(days=day), 1, seed=day):
                document = orjson.loads(body)
                card = document.get("card")
                account_id = int(card[2:]) + 1 if card else None
                issued_at = datetime.fromisoformat(document["issued_at"])
                document["receipt_id"] = receipt_id = f"sim-{written}"
                written += 1
                rows.append((receipt_id, account_id or -written, account_id, b"", document["store_id"], issued_at,
                             "confirmed", 1, sum(line["amount"] for line in document["lines"]), "[]", "{}", "{}",
                             orjson.dumps(document).decode(), issued_at))
            await conn.copy_records_to_table(
                "receipts", records=rows, columns=["receipt_id", "owner_id", "account_id", "fingerprint", "store_id",
                                                   "issued_at", "status", "program_version", "purchase_amount",
                                                   "lines", "links", "result", "body", "created_at"])
            if written == count:
                break
        await conn.execute(
            "INSERT INTO accounts (id, card, created_at) SELECT DISTINCT account_id,"
            " '29' || lpad((account_id - 1)::text, 11, '0'), $1::timestamptz FROM receipts"
            " WHERE account_id IS NOT NULL", start - timedelta(days=1))
        await conn.execute("INSERT INTO cards (card, account_id) SELECT card, id FROM accounts")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# The draft of the pipeline's runs, the example program changed in one way: `same` changes nothing (every
# receipt without a code is evaluated once for both), `care` triples the points on shoe care (one category:
# the receipts with care lines, and the later ones of their accounts, are evaluated twice), `tier` raises
# the base tier's percent (every receipt twice: what any draft cost before `Runs`).
DRAFTS = ("same", "care", "tier")


def drafted(document: dict[str, Any], draft: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    if draft == "care":
        next(c for c in changed["campaigns"] if c["id"] == "care-double")["multiplier"] = 3
    elif draft == "tier":
        changed["tiers"]["levels"][0]["accrual_percent"] = 4
    return changed


async def pipeline(admin_url: str, mix: str, count: int, cards: int, parallel_only: bool = False,
                   draft: str = "care") -> dict[str, Any]:
    name = f"bonus_simbench_{secrets.token_hex(4)}"
    await execute(admin_url, f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        start = datetime.combine(date.today() - timedelta(days=DAYS + 1), datetime.min.time(), UTC)
        started = time.perf_counter()
        await _seed(url, mix, count, cards, start)
        figures: dict[str, Any] = {"mix": mix, "receipts": count, "cards": cards,
                                   "seed_s": round(time.perf_counter() - started)}
        text = EXAMPLE.read_text()
        document = drafted(load_program(text, "yaml").document(), draft)
        figures["draft"] = draft
        program = compile_program(parse_program(document), 2)
        period = Period(start.date(), start.date() + timedelta(days=DAYS), ZoneInfo("UTC"))
        active = compile_program(load_program(text, "yaml"), 1)
        for label, baseline in () if parallel_only else (("draft_alone", None), ("draft_and_baseline", active)):
            conn = await connect(url)
            try:
                started = time.perf_counter()
                replayed = await replay(conn, program, baseline, period)
                seconds = time.perf_counter() - started
            finally:
                await conn.close()
            assert replayed.seen.receipts == count, replayed.seen
            figures[label] = {**_rate(count, seconds), "seconds": round(seconds, 1),
                              "projected_1m_s": round(seconds * 1_000_000 / count), "evaluated_once": replayed.once}
        processes = os.cpu_count() or 1
        started = time.perf_counter()
        replayed = await replay_parallel(url, [(document, 2), (load_program(text, "yaml").document(), 1)], period,
                                         processes, count)
        seconds = time.perf_counter() - started
        assert replayed.seen.receipts == count, replayed.seen
        figures[f"draft_and_baseline_in_{processes}_processes"] = {
            **_rate(count, seconds), "seconds": round(seconds, 1), "projected_1m_s": round(seconds * 1_000_000 / count),
            "evaluated_once": replayed.once}
        return figures
    finally:
        await drop_database(admin_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine-receipts", type=int, default=5000)
    parser.add_argument("--receipts", type=int, default=200_000)
    parser.add_argument("--cards", type=int, default=50_000)
    parser.add_argument("--engine-only", action="store_true")
    parser.add_argument("--parallel-only", action="store_true",
                        help="the pipeline's draft and baseline in one process per CPU only (what a job runs)")
    parser.add_argument("--mix", choices=("shoes", "register"), default="shoes",
                        help="the stored receipts of the pipeline (the engine phase times both)")
    parser.add_argument("--draft", choices=DRAFTS, default="care",
                        help="the pipeline's draft against the example program as baseline (see DRAFTS)")
    args = parser.parse_args()
    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count(), "engine_compiled": rules.COMPILED}))
    for mix in ("shoes", "register"):
        print(json.dumps({"engine": engine(mix, args.engine_receipts)}))
    if not args.engine_only:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("DATABASE_URL is needed for the pipeline (or --engine-only)")
        print(json.dumps({"pipeline": asyncio.run(pipeline(url, args.mix, args.receipts, args.cards,
                                                                     args.parallel_only, args.draft))}))


if __name__ == "__main__":
    main()
