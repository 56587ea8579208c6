"""`bonus-engine simulate --receipts FILE`: what a draft program would have cost on past receipts. No database, no
network.

Every receipt of a JSONL file (one receipt body a line, as `POST /v1/receipts` takes it) goes through
`rules.evaluate` in file order, with `now` = the receipt's `issued_at`, as if it were confirmed. With
`--baseline FILE` the same receipts also go through a second program (each program with its own
accounts and coupon uses), so a marketer sees what a change costs before launching it. The in-memory model
(accounts, points, coupons) is model.py's; `--accounts FILE.jsonl` opens accounts (accounts.py).

Invalid lines (bad JSON, a receipt the API would refuse with 422) and repeated `receipt_id`s (the
service would answer a replay) are skipped, counted and reported with their line number; blank lines
are ignored. `max_receipt_age_days` and the 5-minute future check are not applied: past receipts are
the point.

Output per campaign (every campaign of the program, in priority order, plus registration bonuses):
receipts touched, discount given and points granted (what an accrual campaign added over the tier's
own rate, which may be negative; a bonus's or a coupon's points), then totals: receipts, amount,
discount, points accrued, points redeemed, registration bonus points. Money and points are minor units;
tables add a column in major units (output.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from rules import CompiledProgram, Program, Receipt, compile_program

from .accounts import AccountRecord
from .output import RENDERERS
from .progress import Progress
from .result import Input, result_of
from .runs import Runs

__all__ = ["SimulationError", "main", "read_accounts", "receipts_of", "simulate"]


class SimulationError(Exception):
    """Input the simulation cannot start with (an unreadable file, an invalid accounts line)."""


def read_accounts(path: Path) -> dict[str, AccountRecord]:
    records: dict[str, AccountRecord] = {}
    with _open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = AccountRecord.model_validate_json(raw)
            except ValidationError as error:
                raise SimulationError(f"{path}:{number}: {_describe(error)}") from None
            if record.card in records:
                raise SimulationError(f"{path}:{number}: card {record.card} is given twice")
            records[record.card] = record
    return records


def _open(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8", newline="\n")
    except OSError as error:
        raise SimulationError(f"{path}: {error.strerror or error}") from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def receipts_of(path: Path, seen: Input) -> Iterator[Receipt]:
    """Valid receipts in file order; invalid and repeated ones are counted in `seen`."""
    first_line: dict[str, int] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            seen.bytes_read += len(raw)
            if not raw.strip():
                continue
            seen.lines += 1
            try:
                receipt = Receipt.model_validate_json(raw)
            except ValidationError as error:
                seen.invalid += 1
                seen.problem(number, _describe(error))
                continue
            if receipt.receipt_id in first_line:
                seen.duplicates += 1
                seen.problem(number, f"receipt_id {receipt.receipt_id} repeats line {first_line[receipt.receipt_id]}"
                                     " (skipped, as the service would replay it)")
                continue
            first_line[receipt.receipt_id] = number
            seen.receipts += 1
            yield receipt


def simulate(
    program: CompiledProgram,
    receipts: Path,
    *,
    baseline: CompiledProgram | None = None,
    accounts: dict[str, AccountRecord] | None = None,
    progress: bool = False,
    stderr: TextIO = sys.stderr,
    time_zone: str = "UTC",
) -> tuple[dict[str, Any], Input]:
    """Run the receipts through the program (and the baseline); the result as JSON-ready data."""
    try:
        size = os.stat(receipts).st_size
    except OSError as error:
        raise SimulationError(f"{receipts}: {error.strerror or error}") from None
    runs = Runs(program, baseline, accounts or {}, ZoneInfo(time_zone))
    seen = Input()
    bar = Progress(size, progress, stderr)
    try:
        for receipt in receipts_of(receipts, seen):
            runs.run(receipt)
            bar.update(seen.bytes_read, seen.receipts)
    except OSError as error:
        raise SimulationError(f"{receipts}: {error.strerror or error}") from None
    bar.finish(seen.receipts)
    return result_of(runs.runs, seen), seen


def main(
    program: Program,
    program_file: str,
    receipts_file: str,
    *,
    baseline: Program | None = None,
    baseline_file: str | None = None,
    accounts_file: str | None = None,
    output_format: str = "table",
    progress: bool | None = None,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    time_zone: str = "UTC",
) -> int:
    """The command: 0 when the run finished (even with skipped lines), 1 when its input was unusable."""
    try:
        accounts = read_accounts(Path(accounts_file)) if accounts_file else {}
        result, seen = simulate(
            compile_program(program, 0), Path(receipts_file),
            baseline=compile_program(baseline, 0) if baseline is not None else None, accounts=accounts,
            progress=stderr.isatty() if progress is None else progress, stderr=stderr, time_zone=time_zone,
        )
    except SimulationError as error:
        print(f"simulate: {error}", file=stderr)
        return 1
    for problem in seen.problems[:20]:
        print(f"{receipts_file}:{problem['line']}: {problem['error']}", file=stderr)
    skipped = seen.invalid + seen.duplicates
    if skipped > 20:
        print(f"… and {skipped - 20} more skipped lines", file=stderr)
    if skipped:
        print(f"simulate: {seen.invalid} invalid and {seen.duplicates} repeated lines skipped", file=stderr)
    result = {"program_file": program_file, "receipts_file": receipts_file, "baseline_file": baseline_file,
              "accounts_file": accounts_file, **result}
    stdout.write(RENDERERS[output_format](result))
    return 0
