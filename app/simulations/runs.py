"""The program's run and the baseline's over the same receipts, each receipt evaluated once for both where
its outcome cannot differ between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from rules import CompiledProgram, Line, Program, Receipt

from .accounts import AccountRecord, Opening
from .model import Prepared, Simulation


class Runs:
    """The program's run and, when there is one, the baseline's, over the same receipts in the same order.

    A receipt is evaluated once for both when its outcome cannot differ between them: the two programs
    differ only in campaigns none of which may touch its lines (`CompiledProgram.may_touch`), it carries
    no coupon and no gift certificate (whose facts are shared across accounts), and its account gives the
    engine the same state in both runs. `evaluate` is a pure function of those inputs, so the outcome is
    the one two evaluations would give: a draft that changes one campaign costs a second evaluation only
    on the receipts that campaign may touch, and on the later receipts of accounts it changed."""

    def __init__(self, program: CompiledProgram, baseline: CompiledProgram | None,
                 opening: dict[str, AccountRecord] | dict[str, Opening], zone: ZoneInfo) -> None:
        self.runs = [Simulation(program, opening, zone)]
        self._touched: list[Callable[[Sequence[Line]], bool]] | None = None  # None: never evaluate once
        if baseline is not None:
            self.runs.append(Simulation(baseline, opening, zone))
            changed = _changed_campaigns(program.program, baseline.program)
            if changed is not None:
                self._touched = [program.may_touch(changed), baseline.may_touch(changed)]
        self.shared = 0  # receipts evaluated once for both runs

    def run(self, receipt: Receipt) -> None:
        prepared = [run.prepare(receipt) for run in self.runs]
        if self._evaluate_once(receipt, prepared):
            outcome = self.runs[0].evaluate(receipt, prepared[0])
            self.shared += 1
            for run, inputs in zip(self.runs, prepared, strict=True):
                run.record(receipt, inputs, outcome)
            return
        for run, inputs in zip(self.runs, prepared, strict=True):
            run.record(receipt, inputs, run.evaluate(receipt, inputs))

    def _evaluate_once(self, receipt: Receipt, prepared: list[Prepared]) -> bool:
        if self._touched is None or receipt.coupons or receipt.gift_certificates:
            return False
        if prepared[0].state != prepared[1].state:
            return False
        return not any(touched(receipt.lines) for touched in self._touched)


def _changed_campaigns(program: Program, baseline: Program) -> set[str] | None:
    """The ids of the campaigns added, removed or changed between two programs; None when anything else
    differs (tiers, points, segments …), which may change every receipt."""
    if program.model_dump(exclude={"campaigns"}) != baseline.model_dump(exclude={"campaigns"}):
        return None
    mine = {c.id: c for c in program.campaigns}
    theirs = {c.id: c for c in baseline.campaigns}
    return {i for i in mine.keys() | theirs.keys() if mine.get(i) != theirs.get(i)}
