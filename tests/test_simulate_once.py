"""A simulation with a baseline evaluates a receipt once when its outcome cannot differ (app/simulations/runs.py
`Runs`): the figures must be exactly those of two runs that evaluate every receipt under each program.

The receipts are loadtests/make_receipts.py's shoe chain (1 to 5 lines, 4 in 5 with one of 150 cards, so that
accounts come back and a draft's points change their later receipts), plus some with the example program's
WINTER10 code; the program is rules/examples/program.yaml, and each draft changes it in one way."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from app.simulations.model import Simulation
from app.simulations.result import Input, result_of
from app.simulations.runs import Runs
from loadtests import make_receipts
from rules import Receipt, compile_program, parse_program

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
ZONE = ZoneInfo("Europe/Moscow")


def _receipts() -> list[Receipt]:
    start = datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=3)))
    bodies = make_receipts.receipts(3000, 11, 150, start, 30)
    for body in bodies[::40]:  # the shared code's uses are facts across accounts: never evaluated once
        body["coupons"] = ["WINTER10"]
    return [Receipt.model_validate(body) for body in bodies]


RECEIPTS = _receipts()


def _campaign(document: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    return next(c for c in document["campaigns"] if c["id"] == campaign_id)


def _triple_care(document: dict[str, Any]) -> None:
    _campaign(document, "care-double")["multiplier"] = 3


def _bags_bonus(document: dict[str, Any]) -> None:
    document["campaigns"].append({"id": "bags-bonus", "name": "1,000 points on a bag", "type": "bonus",
                                  "priority": 70, "trigger": "receipt", "items": {"categories": ["bags"]},
                                  "points": 100_000})


def _no_gold_weekend(document: dict[str, Any]) -> None:
    document["campaigns"].remove(_campaign(document, "gold-weekend"))


def _bigger_welcome(document: dict[str, Any]) -> None:
    _campaign(document, "welcome")["points"] = 50_000


def _richer_tier(document: dict[str, Any]) -> None:
    document["tiers"]["levels"][0]["accrual_percent"] = 4


def _separately(program: Any, baseline: Any) -> dict[str, Any]:
    runs = [Simulation(program, {}, ZONE), Simulation(baseline, {}, ZONE)]
    for receipt in RECEIPTS:
        for run in runs:
            run.run(receipt)
    return result_of(runs, Input(receipts=len(RECEIPTS)))


# (the draft's change, whether some receipts are evaluated once)
DRAFTS: list[tuple[Callable[[dict[str, Any]], None], bool]] = [
    (_triple_care, True),  # care lines only, and the later receipts of their accounts
    (_bags_bonus, True),  # a new campaign on bags
    (_bigger_welcome, True),  # touches no receipt, but every enrolled account's points
    (_no_gold_weekend, False),  # no item filter: it may touch every receipt
    (_richer_tier, False),  # not a campaign: every receipt
]


@pytest.mark.parametrize(("change", "some_once"), DRAFTS, ids=[change.__name__ for change, _ in DRAFTS])
def test_evaluating_once_gives_what_two_evaluations_give(change: Callable[[dict[str, Any]], None],
                                                         some_once: bool) -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    draft_document = copy.deepcopy(document)
    change(draft_document)
    program = compile_program(parse_program(draft_document), 2)
    baseline = compile_program(parse_program(document), 1)
    runs = Runs(program, baseline, {}, ZONE)
    for receipt in RECEIPTS:
        runs.run(receipt)
    once = result_of(runs.runs, Input(receipts=len(RECEIPTS)))
    assert once == _separately(program, baseline)
    assert once["difference"]["totals"] != {key: 0 for key in once["difference"]["totals"]}  # the draft matters
    coupons = sum(1 for receipt in RECEIPTS if receipt.coupons)
    assert (runs.shared > 0) is some_once
    assert runs.shared <= len(RECEIPTS) - coupons


def test_a_baseline_equal_to_the_program_evaluates_every_receipt_without_a_code_once() -> None:
    program = compile_program(parse_program(yaml.safe_load(EXAMPLE.read_text())), 1)
    runs = Runs(program, program, {}, ZONE)
    for receipt in RECEIPTS:
        runs.run(receipt)
    assert runs.shared == sum(1 for receipt in RECEIPTS if not receipt.coupons)
    result = result_of(runs.runs, Input(receipts=len(RECEIPTS)))
    assert result["program"] == result["baseline"]
