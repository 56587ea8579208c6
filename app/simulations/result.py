"""A run's result as JSON-ready data (what `bonus-engine simulate --format json` prints, and what the tables and
CSV are made from): what was read of the input, each program's figures and, with a baseline, the difference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import TOTAL_KEYS, Simulation

MAX_REPORTED_PROBLEMS = 1000  # kept for the JSON output; stderr shows the first 20
METRICS = (("receipts", False), ("discount", True), ("points", True))


@dataclass
class Input:
    lines: int = 0
    receipts: int = 0
    invalid: int = 0
    duplicates: int = 0
    bytes_read: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append({"line": line, "error": message})


def campaign_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Campaigns of the program and, with a baseline, those of the baseline too, each with both figures."""
    draft = {c["id"]: c for c in result["program"]["campaigns"]}
    base = {c["id"]: c for c in result["baseline"]["campaigns"]} if result.get("baseline") else None
    ids = list(draft) + [i for i in (base or {}) if i not in draft]
    rows = []
    for campaign_id in ids:
        mine = draft.get(campaign_id)
        theirs = base.get(campaign_id) if base is not None else None
        name = (mine or theirs or {}).get("name", campaign_id)
        row: dict[str, Any] = {"id": campaign_id, "name": name}
        for metric, _ in METRICS:
            row[metric] = mine[metric] if mine else 0
            if base is not None:
                row[f"baseline_{metric}"] = theirs[metric] if theirs else 0
        rows.append(row)
    return rows


def result_of(runs: Sequence[Simulation], seen: Input) -> dict[str, Any]:
    """The JSON-ready result of a run (`runs[1]`, if there, the baseline), whatever its receipts came from."""
    result: dict[str, Any] = {
        "currency": runs[0].program.program.currency,
        "input": {"lines": seen.lines, "receipts": seen.receipts, "invalid": seen.invalid,
                  "duplicates": seen.duplicates, "problems": seen.problems},
        "program": runs[0].report(),
        "baseline": runs[1].report() if len(runs) > 1 else None,
    }
    if len(runs) > 1:
        result["difference"] = {
            "campaigns": [{"id": r["id"], **{m: r[m] - r[f"baseline_{m}"] for m, _ in METRICS}}
                          for r in campaign_rows(result)],
            "totals": {k: result["program"]["totals"][k] - result["baseline"]["totals"][k] for k in TOTAL_KEYS},
        }
    return result
