"""What control groups cost a confirm (issue 15): 10 campaigns that apply to every receipt, without a control
group and with `control_percent: 10`, measured alternately on the same machine.

    python -m loadtests.holdout_cost [--accounts 20000] [--workers 2] [--concurrency 32] [--seconds 15]
                                     [--rounds 3] [--engine-only]

1. The pure engine: the register mix's card receipts (5 to 30 lines, 1,000 cards) through `evaluate` and the
   result document, best of 5 passes, µs per receipt for each program (process CPU time).
2. The service: both programs served at once (each its own fresh database, seeded alike), then the register
   mix at full speed (closed loop) against one, then the other, `--rounds` times, the order swapped each
   round; the service's CPU (its processes, user + system) per confirm of each phase. Prints one JSON line
   per phase and a summary with the medians and their ratio. This is a command that prints numbers, not a
   test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from app.receipts.result import build
from rules import AccountState, Receipt, compile_program, evaluate, parse_program

from .bench import database_servers, measure_peak, serving
from .scenarios import register_mix
from .seed import card_of

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
CAMPAIGNS = 10


def everywhere(control_percent: int | None) -> list[dict[str, Any]]:
    """Campaigns that every receipt is eligible for: 1 % off from 1.00, each its own id and priority."""
    campaigns = []
    for i in range(CAMPAIGNS):
        campaign: dict[str, Any] = {"id": f"holdout-{i}", "name": f"everywhere {i}", "type": "receipt_discount",
                                    "priority": 200 + i, "thresholds": [{"min_amount": 100, "percent": 1}]}
        if control_percent is not None:
            campaign["control_percent"] = control_percent
        campaigns.append(campaign)
    return campaigns


def engine(repeat: int = 5) -> dict[str, Any]:
    cards = [card_of(i) for i in range(1, 1001)]
    steps = register_mix(3000, cards, seed=1, run_id="holdout")
    receipts = [Receipt.model_validate_json(step.body) for step in steps if step.kind in ("confirm", "calculate")]
    now = receipts[0].issued_at
    account = AccountState("ok", 200_000, available_points=100_000)
    figures: dict[str, Any] = {"receipts": len(receipts)}
    for name, control in (("plain", None), ("holdout", 10)) * 2:
        document = yaml.safe_load(EXAMPLE.read_text())
        document["campaigns"] += everywhere(control)
        program = compile_program(parse_program(document), 1)
        best = float("inf")
        held = 0
        for _ in range(repeat):
            started = time.process_time()
            for receipt in receipts:
                outcome = evaluate(receipt, account, program, now)
                build(receipt, outcome, "confirmed", 1, None)
            best = min(best, time.process_time() - started)
        for receipt in receipts:
            held += len(evaluate(receipt, account, program, now).holdout_held_out)
        figures[f"{name}_us_per_receipt"] = min(figures.get(f"{name}_us_per_receipt", float("inf")),
                                                round(best / len(receipts) * 1e6, 1))
        figures[f"{name}_held_out_share"] = round(held / (len(receipts) * CAMPAIGNS), 4)
    figures["holdout_to_plain"] = round(figures["holdout_us_per_receipt"] / figures["plain_us_per_receipt"], 3)
    return figures


async def service(args: argparse.Namespace) -> dict[str, Any]:
    per_confirm: dict[str, list[float]] = {"plain": [], "holdout": []}
    async with database_servers("holdout") as servers, \
            serving("plain", args.accounts, 0, 0, args.workers, servers=servers,
                    extra_campaigns=everywhere(None)) as plain, \
            serving("holdout", args.accounts, 0, 0, args.workers, servers=servers,
                    extra_campaigns=everywhere(10)) as held:
        for round_ in range(args.rounds):
            order = [("plain", plain), ("holdout", held)]
            for name, served in order if round_ % 2 == 0 else order[::-1]:
                steps = register_mix(200_000, served.cards, seed=round_, run_id=f"{name}{round_}")
                peak = await measure_peak(served, steps, args.concurrency, args.seconds)
                per_confirm[name].append(peak.service_ms_per_confirm)
                print(json.dumps({"round": round_, "program": name, "confirms": peak.stats.count("confirm"),
                                  "service_cpu_ms_per_confirm": peak.service_ms_per_confirm,
                                  "database_cpu_ms_per_confirm": peak.database_ms_per_confirm,
                                  "errors": peak.stats.errors}), flush=True)
    plain_ms, holdout_ms = (statistics.median(per_confirm[n]) for n in ("plain", "holdout"))
    return {"plain_service_cpu_ms_per_confirm": plain_ms, "holdout_service_cpu_ms_per_confirm": holdout_ms,
            "holdout_to_plain": round(holdout_ms / plain_ms, 3), "rounds": args.rounds, "seconds": args.seconds}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.holdout_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine-only", action="store_true")
    args = parser.parse_args()
    print(json.dumps({"engine": engine()}), flush=True)
    if not args.engine_only:
        print(json.dumps({"service": asyncio.run(service(args))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
