"""Micro-benchmark of the pure engine: one 20-line receipt against 10, 100 and 1,000 active campaigns.

    python -m loadtests.bench_rules [--seconds 1.0] [--repeat 5] [--sizes 10,100,1000]

Every program holds the same few campaigns that touch the receipt (a receipt discount, a quantity
discount, 2-for-1, an accrual multiplier, a receipt bonus and a redemption rule, on the receipt's
categories and skus) and fills up to its size with active campaigns of every type whose `items` name
skus and categories that are not on the receipt. The compiled program indexes campaigns by sku and
category, so those never reach the receipt and the cost per evaluation should not grow with the size.

Prints one JSON line per size (evaluations/s and µs per evaluation, best of `--repeat` timed runs of
about `--seconds` each, time.perf_counter) and then the ratio of the largest size's µs to the smallest's.
This is a command that prints numbers, not a test.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

import rules
from rules import AccountState, CompiledProgram, Outcome, Receipt, compile_program, evaluate, parse_program

from .scenarios import register_mix

EXAMPLES = Path(__file__).resolve().parents[1] / "rules" / "examples"

ISSUED = "2026-11-24T10:15:00+03:00"  # a Tuesday
ACTIVE = {"from": "2026-11-01T00:00:00+03:00", "to": "2027-01-01T00:00:00+03:00"}
LINES = 20
CATEGORIES = ["shoes/winter", "shoes/summer", "care", "bags", "socks"]


def build_receipt() -> Receipt:
    lines = [
        {"line_id": str(i + 1), "sku": f"SKU-{i:03d}", "category": CATEGORIES[i % len(CATEGORIES)],
         "quantity": str(1 + i % 3), "price": 10_000 + 1_000 * i, "amount": (10_000 + 1_000 * i) * (1 + i % 3)}
        for i in range(LINES)
    ]
    return Receipt.model_validate({
        "receipt_id": "bench-1", "store_id": "s17", "channel": "pos", "issued_at": ISSUED, "card": "2900000000001",
        "lines": lines, "redeem_points": 50_000,
    })


def touching() -> list[dict[str, Any]]:
    """The campaigns that act on the receipt: the same in every program."""
    return [
        {"id": "t-winter", "name": "winter check", "type": "receipt_discount", "priority": 10, "active": ACTIVE,
         "items": {"categories": ["shoes"]},
         "thresholds": [{"min_amount": 50_000, "percent": 5}, {"min_amount": 100_000, "percent": 10}]},
        {"id": "t-socks", "name": "3+ socks", "type": "quantity_discount", "priority": 20,
         "items": {"categories": ["socks"]}, "thresholds": [{"min_quantity": 3, "percent": 15}]},
        {"id": "t-bags", "name": "2 for 1 bags", "type": "n_for_m", "priority": 30, "items": {"categories": ["bags"]},
         "buy": 2, "pay": 1},
        {"id": "t-care", "name": "double points on care", "type": "accrual", "priority": 40,
         "items": {"categories": ["care"]}, "multiplier": 2},
        {"id": "t-bonus", "name": "bonus on shoes", "type": "bonus", "priority": 50, "trigger": "receipt",
         "items": {"skus": ["SKU-000", "SKU-005"]}, "points": 10_000, "min_amount": 1_000},
        {"id": "t-redeem", "name": "points on care only 30 %", "type": "redemption", "priority": 60,
         "items": {"categories": ["care"]}, "max_percent": 30},
    ]


def elsewhere(i: int) -> dict[str, Any]:
    """An active campaign of one of every type, scoped to a sku or category that is not on the receipt."""
    base: dict[str, Any] = {"id": f"c-{i:05d}", "name": f"campaign {i}", "priority": 100 + i % 500, "active": ACTIVE}
    items = {"skus": [f"OTHER-{i}", f"OTHER-{i}-B"]} if i % 2 else {"categories": [f"dept-{i % 97}/shelf-{i}"]}
    kind = i % 7
    if kind == 0:
        return {**base, "type": "receipt_discount", "items": items, "thresholds": [{"min_amount": 0, "percent": 3}]}
    if kind == 1:
        return {**base, "type": "quantity_discount", "items": items, "thresholds": [{"min_quantity": 2, "percent": 5}]}
    if kind == 2:
        return {**base, "type": "n_for_m", "items": items, "buy": 3, "pay": 2}
    if kind == 3:
        return {**base, "type": "accrual", "items": items, "percent": 10, "mode": "replace"}
    if kind == 4:
        return {**base, "type": "bonus", "trigger": "receipt", "items": items, "points": 5_000}
    if kind == 5:
        return {**base, "type": "redemption", "items": items, "max_percent": 20}
    return {**base, "type": "coupon", "items": items, "code": f"CODE-{i}", "percent": 10}


def build_program(size: int) -> CompiledProgram:
    campaigns = touching()
    campaigns += [elsewhere(i) for i in range(size - len(campaigns))]
    document = {
        "points": {"rounding": "minor", "pending_days": 14, "expire_days": 365, "max_redeem_percent": 50},
        "tiers": {"window_days": 365, "levels": [
            {"id": "base", "min_purchases": 0, "accrual_percent": 3},
            {"id": "silver", "min_purchases": 1_500_000, "accrual_percent": 5},
        ]},
        "campaigns": campaigns,
    }
    return compile_program(parse_program(document), 1)


def time_size(size: int, receipt: Receipt, account: AccountState, now: datetime, seconds: float,
              repeat: int) -> tuple[dict[str, Any], Outcome]:
    started = time.perf_counter()
    program = build_program(size)
    compile_ms = (time.perf_counter() - started) * 1000
    outcome = evaluate(receipt, account, program, now)
    # calibrate: enough iterations for about `seconds` per timed run
    iterations, elapsed = 1, 0.0
    while elapsed < 0.2:
        iterations *= 2
        started = time.perf_counter()
        for _ in range(iterations):
            evaluate(receipt, account, program, now)
        elapsed = time.perf_counter() - started
    iterations = max(1, int(iterations * seconds / elapsed))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(iterations):
            evaluate(receipt, account, program, now)
        best = min(best, time.perf_counter() - started)
    per_evaluation = best / iterations
    line = {
        "campaigns": size, "lines": len(receipt.lines), "iterations": iterations, "repeat": repeat,
        "evaluations_per_s": round(1 / per_evaluation), "us_per_evaluation": round(per_evaluation * 1e6, 1),
        "compile_ms": round(compile_ms, 1),
        "discount": outcome.total("discount"), "points_accrued": outcome.total("points_accrued"),
        "touching_campaigns": sorted(effect.id for effect in outcome.campaigns),
    }
    return line, outcome


def time_register_mix(account: AccountState, repeat: int) -> dict[str, Any]:
    """The example program on the benchmark's register-mix card receipts (5 to 30 lines): best of `repeat`
    passes over all of them."""
    program = compile_program(parse_program(yaml.safe_load((EXAMPLES / "program.yaml").read_text())), 1)
    steps = register_mix(3000, ["0"], seed=1, run_id="rules")
    receipts = [Receipt.model_validate_json(step.body) for step in steps if step.kind in ("confirm", "calculate")]
    now = receipts[0].issued_at
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for receipt in receipts:
            evaluate(receipt, account, program, now)
        best = min(best, time.perf_counter() - started)
    return {"register_mix_receipts": len(receipts),
            "average_lines": round(sum(len(r.lines) for r in receipts) / len(receipts), 1),
            "us_per_evaluation": round(best / len(receipts) * 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_rules", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timed run per size")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per size; the best counts")
    parser.add_argument("--sizes", default="10,100,1000", help="campaign counts, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    receipt = build_receipt()
    now = receipt.issued_at
    account = AccountState("ok", tier_purchases=200_000, first_purchase_at=datetime.fromisoformat(
        "2026-01-10T12:00:00+03:00"), last_purchase_at=datetime.fromisoformat("2026-11-01T12:00:00+03:00"),
        available_points=100_000)
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        line, _ = time_size(size, receipt, account, now, args.seconds, args.repeat)
        results[size] = line
        print(json.dumps(line), flush=True)
    print(json.dumps(time_register_mix(account, args.repeat)), flush=True)
    first, last = results[sizes[0]], results[sizes[-1]]
    same = all((r["discount"], r["points_accrued"]) == (first["discount"], first["points_accrued"])
               for r in results.values())
    print(json.dumps({
        f"ratio_{sizes[-1]}_to_{sizes[0]}": round(last["us_per_evaluation"] / first["us_per_evaluation"], 2),
        "same_outcome_at_every_size": same, "python": platform.python_version(), "engine_compiled": rules.COMPILED,
    }), flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
