"""`bonus-engine simulate`: what a draft program would have cost on past receipts. No database, no network.

Every receipt of a JSONL file (one receipt body a line, as `POST /v1/receipts` takes it) goes through
`rules.evaluate` in file order, with `now` = the receipt's `issued_at`, as if it were confirmed. With
`--baseline FILE` the same receipts also go through a second program (each program with its own
accounts and coupon uses), so a marketer sees what a change costs before launching it.

The in-memory model (deliberately small; the service's ledger has more detail):

- Accounts start empty: a card seen for the first time is auto-enrolled when the program's
  `points.auto_enroll` is on (its registration bonuses fire then, those active at the receipt's
  `issued_at` whatever their `when`, as points available at once, and count as that campaign's points),
  and is `unknown` otherwise (discounts only, nothing remembered). A receipt without a card is `none`.
  `--accounts FILE.jsonl` opens accounts before the first receipt:
  `{"card", "tier_purchases"?, "available_points"?, "first_purchase_at"?, "last_purchase_at"?,
  "blocked"?, "segments"?}`; their opening `tier_purchases` count for the whole run (they never leave the
  tier window), their opening points are available and never expire, and no registration bonus fires.
  `segments` lists the custom segments the account is in for the whole run (a custom segment's filter
  needs the database: its membership is given, as the service holds it between refreshes); a card not in
  the file is in none.
- After each receipt of an enrolled (or blocked) card, its `purchase_amount` (final amounts,
  certificate sales excluded) joins the tier purchases and the receipt becomes the last purchase (the
  first one too, if it is the card's first). Tier purchases are those in
  [issued_at − window_days, issued_at]; the file is taken to be in time order per card (as an export
  of confirmed receipts is): a receipt sees what the lines before it left.
- Points live in lots: redeemed points come out of the available lots that expire first; accrued
  points (coupon points included) become a lot available at `issued_at + pending_days` that expires
  `expire_days` after that; receipt bonuses are available at once with their own expiry. A lot counts
  from the first later receipt whose `issued_at` reaches its `available_at`. Blocked cards earn and
  spend nothing.
- Coupons: a shared code (a coupon campaign's `code`) counts its applied uses in memory against
  `max_uses` and `max_uses_per_account`; a use is never released (refunds are not simulated). Batch
  codes have no store without a database, so every other code is rejected as `unknown`.
- Gift certificates have no store either: every certificate payment is rejected as `unknown`. This
  changes no discount and no points (certificates are paid after both and do not lower the accrual
  base), only what is left to pay, which the simulation does not report.
- Invalid lines (bad JSON, a receipt the API would refuse with 422) and repeated `receipt_id`s (the
  service would answer a replay) are skipped, counted and reported with their line number; blank lines
  are ignored. `max_receipt_age_days` and the 5-minute future check are not applied: past receipts are
  the point.

Output per campaign (every campaign of the program, in priority order, plus registration bonuses):
receipts touched, discount given and points granted (what an accrual campaign added over the tier's
own rate, which may be negative; a bonus's or a coupon's points), then totals: receipts, amount,
discount, points accrued, points redeemed, registration bonus points. Money and points are minor units;
tables add a column in major units.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from app.core import text
from app.customers.schemas import BirthDate
from rules import (
    CUSTOM_SEGMENT_PATTERN,
    AccountState,
    Bonus,
    CompiledProgram,
    CouponFact,
    Line,
    Lot,
    Outcome,
    Program,
    Receipt,
    ReceiptFacts,
    balances,
    birthday_holds,
    birthdays_around,
    compile_program,
    evaluate,
    not_active_reason,
    take,
)

__all__ = ["AccountRecord", "Opening", "Runs", "Simulation", "main", "read_accounts", "result_of", "simulate"]

MAX_REPORTED_PROBLEMS = 1000  # kept for the JSON output; stderr shows the first 20
OPENING = datetime(1970, 1, 1, tzinfo=UTC)  # when an account's opening points became available
Card = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]  # as in a receipt
Minor = Annotated[int, Field(strict=True, ge=0, le=10**13)]  # money and points: JSON integers only
TOTAL_KEYS = ("receipts", "amount", "discount", "points_accrued", "points_redeemed", "registration_points",
              "birthday_points")


class SimulationError(Exception):
    """Input the simulation cannot start with (an unreadable file, an invalid accounts line)."""


class AccountRecord(BaseModel):
    """One line of `--accounts`: the state an account opens the simulation with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card: Card
    tier_purchases: Minor = 0
    available_points: Minor = 0
    first_purchase_at: AwareDatetime | None = None
    last_purchase_at: AwareDatetime | None = None
    blocked: bool = Field(default=False, strict=True)
    # the custom segments the account is in, for the whole run: filters are not evaluated without a database,
    # and in the service membership also stays as it is between refreshes
    segments: Annotated[list[Annotated[str, Field(pattern=CUSTOM_SEGMENT_PATTERN)]], Field(max_length=200)] = []
    birth_date: BirthDate | None = None  # birthday bonuses need it; receipts never carry one


@dataclass(frozen=True)
class Opening:
    """An account's state at the start of a period, read from the ledger (app/simulations/repository.py).

    Richer than an `--accounts` line: its tier purchases are dated, so they leave the window as the run goes
    on, and its points are lots with their own `available_at` and `expires_at`, so they ripen and expire."""

    card: str
    purchases: tuple[tuple[datetime, int], ...] = ()  # in the tier window before the period, in time order
    lots: tuple[tuple[int, datetime, datetime | None], ...] = ()  # (remaining, available_at, expires_at)
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    blocked: bool = False
    segments: frozenset[str] = frozenset()
    birth_date: date | None = None


# ------------------------------------------------------------------------------------------- accounts


@dataclass
class _Account:
    blocked: bool = False
    opening_purchases: int = 0
    purchases: deque[tuple[datetime, int]] = field(default_factory=deque)  # this run's, in file order
    purchases_sum: int = 0  # of `purchases`
    first: datetime | None = None
    last: datetime | None = None
    lots: list[Lot] = field(default_factory=list)
    lots_made: int = 0
    segments: frozenset[str] = frozenset()  # custom segments, from --accounts

    def tier_purchases(self, at: datetime, window_days: int) -> int:
        """Opening purchases plus this run's in [at − window, at] (dropping those no later receipt needs)."""
        total = self.purchases_sum
        if window_days:
            since = at - timedelta(days=window_days)
            while self.purchases and self.purchases[0][0] < since:
                self.purchases_sum -= self.purchases.popleft()[1]
            total = self.purchases_sum
        for moment, amount in reversed(self.purchases):  # receipts out of time order: none in the usual case
            if moment <= at:
                break
            total -= amount
        return self.opening_purchases + total

    def record_purchase(self, at: datetime, amount: int) -> None:
        self.purchases.append((at, amount))
        self.purchases_sum += amount
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last

    def available(self, at: datetime) -> int:
        self.lots = [lot for lot in self.lots if lot.remaining > 0 and not lot.is_expired(at)]
        return balances(self.lots, 0, at)[0]

    def grant(self, points: int, available_at: datetime, expires_at: datetime | None) -> None:
        if points > 0:
            self.lots_made += 1
            self.lots.append(Lot(self.lots_made, points, available_at, expires_at))


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


# ----------------------------------------------------------------------------------------- simulation


@dataclass
class CampaignStats:
    id: str
    name: str
    receipts: int = 0
    discount: int = 0
    points: int = 0
    held_out: int = 0  # receipts on which a held-out member was eligible (control_percent)
    # kept for the database simulations' report (app/simulations/report.py), not in the command's output
    coupon_uses: int = 0
    revenue: int = 0  # purchase amounts of the receipts it touched


CAMPAIGN_KEYS = ("id", "name", "receipts", "discount", "points", "held_out")


def _opened(record: Opening) -> _Account:
    account = _Account(blocked=record.blocked, first=record.first_purchase_at, last=record.last_purchase_at,
                       segments=record.segments)
    for at, amount in record.purchases:
        account.purchases.append((at, amount))
        account.purchases_sum += amount
    for remaining, available_at, expires_at in record.lots:
        account.grant(remaining, available_at, expires_at)
    return account


@dataclass(frozen=True, slots=True)
class Prepared:
    """A receipt's inputs to the engine in one run: its account (None without one), the state it gives the
    engine, and the facts of the receipt's coupons."""

    account: _Account | None
    state: AccountState
    facts: ReceiptFacts


@dataclass
class Simulation:
    """One program over the receipts: accounts, coupon uses and the running figures."""

    program: CompiledProgram
    opening: dict[str, AccountRecord] | dict[str, Opening]
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # the chain's days, for birthdays
    accounts: dict[str, _Account] = field(default_factory=dict)
    campaigns: dict[str, CampaignStats] = field(default_factory=dict)
    totals: Counter[str] = field(default_factory=Counter)
    cards: Counter[str] = field(default_factory=Counter)  # receipts by card_status
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared_uses: Counter[str] = field(default_factory=Counter)
    account_uses: Counter[tuple[str, str]] = field(default_factory=Counter)
    swept: date | None = None  # the last day the birthday sweep has run for
    born: dict[tuple[int, int], list[tuple[str, date]]] = field(default_factory=dict)  # (month, day): cards
    birthdays: set[tuple[str, str, int]] = field(default_factory=set)  # (card, campaign, year) granted

    def __post_init__(self) -> None:
        for campaign in sorted(self.program.program.campaigns, key=lambda c: (c.priority, c.id)):
            self.campaigns[campaign.id] = CampaignStats(campaign.id, campaign.name)
        for key in TOTAL_KEYS:
            self.totals[key] = 0
        for record in self.opening.values():
            if record.birth_date is not None:
                birth = record.birth_date
                self.born.setdefault((birth.month, birth.day), []).append((record.card, birth))

    def run(self, receipt: Receipt) -> Outcome:
        prepared = self.prepare(receipt)
        outcome = evaluate(receipt, prepared.state, self.program, receipt.issued_at, prepared.facts)
        self.record(receipt, prepared, outcome)
        return outcome

    def prepare(self, receipt: Receipt) -> Prepared:
        """What the engine needs besides the receipt and the program, with the day's birthdays granted first."""
        at = receipt.issued_at
        self._sweep_birthdays(at)
        account = self._account(receipt.card, at)
        return Prepared(account, self._state(receipt.card, account, at), self._facts(receipt))

    def record(self, receipt: Receipt, prepared: Prepared, outcome: Outcome) -> None:
        """The receipt's outcome counted and applied to its account."""
        self._count(receipt, outcome)
        if prepared.account is not None:
            self._after(prepared.account, receipt, outcome)

    def _account(self, card: str | None, at: datetime) -> _Account | None:
        if card is None:
            return None
        account = self.accounts.get(card)
        if account is not None:
            return account
        record = self.opening.get(card)
        if isinstance(record, Opening):
            account = _opened(record)
        elif record is not None:
            account = _Account(blocked=record.blocked, opening_purchases=record.tier_purchases,
                               first=record.first_purchase_at, last=record.last_purchase_at,
                               segments=frozenset(record.segments))
            account.grant(record.available_points, OPENING, None)
        elif self.program.program.points.auto_enroll:
            account = _Account()
            self._registration_bonuses(account, at)
        else:
            return None  # unknown: not registered, not enrolled, nothing to remember
        self.accounts[card] = account
        return account

    def _registration_bonuses(self, account: _Account, at: datetime) -> None:
        """Auto-enrolment fires the registration bonuses active at `at`: only their period applies, their
        `when` (facts of a receipt) is not judged, as in the service (app.accounts.service)."""
        default_days = self.program.program.points.expire_days
        for bonus in self.program.registration_bonuses:
            if not_active_reason(bonus, at) is not None:
                continue
            account.grant(bonus.points, at, bonus.expires_at(at, default_days))
            stats = self.campaigns[bonus.id]
            stats.receipts += 1
            stats.points += bonus.points
            self.totals["registration_points"] += bonus.points

    def _sweep_birthdays(self, at: datetime) -> None:
        """The birthday sweep of every day from the first receipt's (or the day after the last swept) to
        `at`'s, each at its start (00:00 in the zone), before that day's receipts, as the service's sweep
        grants a birthday bonus as the window opens."""
        if not self.program.birthday_bonuses or not self.born:
            return
        today = at.astimezone(self.zone).date()
        day = today if self.swept is None else self.swept + timedelta(days=1)
        while day <= today:
            start = datetime(day.year, day.month, day.day, tzinfo=self.zone)
            for bonus in self.program.birthday_bonuses:
                if not_active_reason(bonus, start) is None:
                    self._birthday_bonus(bonus, day, start)
            day += timedelta(days=1)
        self.swept = today

    def _birthday_bonus(self, bonus: Bonus, day: date, start: datetime) -> None:
        """`bonus` for each card whose window holds `day`: once per birthday year, not for blocked cards, when
        its tiers and segments hold at `start` (app/customers/birthdays.py)."""
        settings = self.program.program
        for key in birthdays_around(day, bonus):
            for card, birth in self.born.get((key.month, key.day), ()):
                if birth.year >= key.year or (card, bonus.id, key.year) in self.birthdays:
                    continue
                account = self._account(card, start)
                assert account is not None  # opened from its --accounts line
                if account.blocked or not birthday_holds(
                        bonus, settings, start, account.tier_purchases(start, settings.tiers.window_days),
                        account.first, account.last, account.segments):
                    continue
                self.birthdays.add((card, bonus.id, key.year))
                account.grant(bonus.points, start, bonus.expires_at(start, settings.points.expire_days))
                stats = self.campaigns[bonus.id]
                stats.receipts += 1
                stats.points += bonus.points
                self.totals["birthday_points"] += bonus.points

    def _state(self, card: str | None, account: _Account | None, at: datetime) -> AccountState:
        if account is None:
            return AccountState("none" if card is None else "unknown")
        if account.blocked:
            return AccountState("blocked")
        window = self.program.program.tiers.window_days
        return AccountState("ok", account.tier_purchases(at, window), account.first, account.last,
                            account.available(at), account.segments)

    def _facts(self, receipt: Receipt) -> ReceiptFacts:
        coupons: dict[str, CouponFact] = {}
        for code in receipt.coupons:
            campaign = self.program.shared_codes.get(code)
            if campaign is not None:
                account_uses = self.account_uses[(code, receipt.card)] if receipt.card else 0
                coupons[code] = CouponFact(campaign.id, uses=self.shared_uses[code], account_uses=account_uses)
        return ReceiptFacts(coupons=coupons)

    def _count(self, receipt: Receipt, outcome: Outcome) -> None:
        self.totals["receipts"] += 1
        self.totals["amount"] += outcome.total("amount")
        self.totals["revenue"] += outcome.purchase_amount
        self.totals["discount"] += outcome.total("discount")
        self.totals["points_accrued"] += outcome.total("points_accrued")
        self.totals["points_redeemed"] += outcome.total("points_redeemed")
        self.cards[outcome.card_status] += 1
        for effect in outcome.campaigns:
            stats = self.campaigns.get(effect.id)
            if stats is None:
                stats = self.campaigns[effect.id] = CampaignStats(effect.id, effect.name)
            stats.receipts += 1
            stats.discount += effect.discount
            stats.points += effect.points
            stats.revenue += outcome.purchase_amount
        for campaign_id in outcome.holdout_held_out:
            self.campaigns[campaign_id].held_out += 1
        for verdict in outcome.coupons:
            shared = verdict.code in self.program.shared_codes
            key = verdict.code if shared else "(other codes)"
            entry = self.coupons.setdefault(key, {"campaign": verdict.campaign_id if shared else None,
                                                  "applied": 0, "rejected": {}})
            if verdict.status == "applied":
                entry["applied"] += 1
                used = self.campaigns.get(verdict.campaign_id or "")
                if used is not None:
                    used.coupon_uses += 1
                if shared:
                    self.shared_uses[verdict.code] += 1
                    if receipt.card:
                        self.account_uses[(verdict.code, receipt.card)] += 1
            else:
                reason = verdict.reason or "rejected"
                entry["rejected"][reason] = entry["rejected"].get(reason, 0) + 1

    def _after(self, account: _Account, receipt: Receipt, outcome: Outcome) -> None:
        at = receipt.issued_at
        account.record_purchase(at, outcome.purchase_amount)
        if account.blocked or outcome.card_status != "ok":
            return
        redeemed = outcome.total("points_redeemed")
        if redeemed:
            take(account.lots, redeemed, at)  # never more than available: the engine caps it
        account.grant(outcome.total("accrual_points"), outcome.accrual_available_at, outcome.accrual_expires_at)
        for grant in outcome.bonus_grants:
            account.grant(grant.points, at, grant.expires_at)

    def report(self) -> dict[str, Any]:
        return {
            "campaigns": [{key: getattr(stats, key) for key in CAMPAIGN_KEYS} for stats in self.campaigns.values()],
            "totals": {key: self.totals[key] for key in TOTAL_KEYS},
            "card_status": {status: self.cards[status] for status in ("ok", "none", "unknown", "blocked")},
            "coupons": self.coupons,
        }


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
            outcome = evaluate(receipt, prepared[0].state, self.runs[0].program, receipt.issued_at,
                               prepared[0].facts)
            self.shared += 1
            for run, inputs in zip(self.runs, prepared, strict=True):
                run.record(receipt, inputs, outcome)
            return
        for run, inputs in zip(self.runs, prepared, strict=True):
            run.record(receipt, inputs, evaluate(receipt, inputs.state, run.program, receipt.issued_at,
                                                 inputs.facts))

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


# ---------------------------------------------------------------------------------------------- input


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


class Progress:
    """A plain-text progress line on stderr: every 1 % of the file or every 2 s, whichever comes first."""

    def __init__(self, total_bytes: int, enabled: bool, stream: TextIO) -> None:
        self.total = max(total_bytes, 1)
        self.enabled = enabled
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.next_percent = 1
        self.next_time = self.started + 2.0
        self.last: tuple[int, int] | None = None  # (percent, receipts) shown last

    def update(self, done: int, receipts: int) -> None:
        if not self.enabled:
            return
        percent = done * 100 // self.total
        now = time.monotonic()
        if percent < self.next_percent and now < self.next_time:
            return
        self.next_percent = percent + 1
        self.next_time = now + 2.0
        self._show(percent, receipts, now)

    def finish(self, receipts: int) -> None:
        if self.enabled:
            if self.last != (100, receipts):
                self._show(100, receipts, time.monotonic())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def _show(self, percent: int, receipts: int, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        bar = "#" * (percent // 5) + "." * (20 - percent // 5)
        text = f"simulate [{bar}] {percent:3d}%  {receipts:,} receipts  {receipts / elapsed:,.0f}/s  {elapsed:.1f}s"
        self.stream.write(f"\r{text}" if self.tty else f"{text}\n")
        self.stream.flush()
        self.last = (percent, receipts)


# --------------------------------------------------------------------------------------------- output


METRICS = (("receipts", False), ("discount", True), ("points", True))
TOTAL_LABELS = {
    "receipts": "receipts",
    "amount": "amount",
    "discount": "discount",
    "points_accrued": "points accrued",
    "points_redeemed": "points redeemed",
    "registration_points": "registration bonus points",
    "birthday_points": "birthday bonus points",
}
MONEY_TOTALS = {"amount", "discount", "points_accrued", "points_redeemed", "registration_points", "birthday_points"}


def _campaign_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
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


def render_table(result: dict[str, Any]) -> str:
    currency = result["currency"]
    seen = result["input"]
    lines = [
        f"program {result['program_file']} on {result['receipts_file']}: {seen['receipts']:,} receipts"
        + (f", baseline {result['baseline_file']}" if result.get("baseline_file") else "")
        + (f" ({seen['invalid']} invalid, {seen['duplicates']} repeated lines skipped)"
           if seen["invalid"] or seen["duplicates"] else ""),
        "",
    ]
    rows = _campaign_rows(result)
    program_totals = result["program"]["totals"]
    if not result.get("baseline"):
        body = [[r["id"], str(r["receipts"]), str(r["discount"]), text.amount(r["discount"]), str(r["points"]),
                 text.amount(r["points"]), r["name"]] for r in rows]
        header = ["campaign", "receipts", "discount", f"discount {currency}", "points", "points (major)", "name"]
        lines += [text.table(header, body, left=(0, 6)), ""]
        totals = [[TOTAL_LABELS[k], str(program_totals[k]), text.amount(program_totals[k]) if k in MONEY_TOTALS else ""]
                  for k in TOTAL_KEYS]
        lines.append(text.table(["totals", "minor units", "major units"], totals, left=(0,)))
    else:
        baseline_totals = result["baseline"]["totals"]
        body = []
        for r in rows:
            for position, (metric, money) in enumerate(METRICS):
                diff = r[metric] - r[f"baseline_{metric}"]
                body.append([r["id"] if position == 0 else "", metric, str(r[metric]), str(r[f"baseline_{metric}"]),
                             text.signed(diff), text.signed_amount(diff) if money else "",
                             r["name"] if position == 0 else ""])
        header = ["campaign", "metric", "program", "baseline", "difference", "difference (major)", "name"]
        lines += [text.table(header, body, left=(0, 1, 6)), ""]
        totals = []
        for k in TOTAL_KEYS:
            diff = program_totals[k] - baseline_totals[k]
            totals.append([TOTAL_LABELS[k], str(program_totals[k]), str(baseline_totals[k]), text.signed(diff),
                           text.signed_amount(diff) if k in MONEY_TOTALS else ""])
        lines.append(text.table(["totals", "program", "baseline", "difference", "difference (major)"], totals,
                            left=(0,)))
    cards = result["program"]["card_status"]
    lines += ["", "card status: " + ", ".join(f"{status} {count:,}" for status, count in cards.items())]
    coupons = result["program"]["coupons"]
    if coupons:
        lines.append("coupons: " + "; ".join(
            f"{code} applied {entry['applied']}"
            + "".join(f", {reason} {count}" for reason, count in sorted(entry["rejected"].items()))
            for code, entry in coupons.items()))
    return "\n".join(lines) + "\n"


def render_csv(result: dict[str, Any]) -> str:
    """Long format: one row per figure (section, id, name, metric, value, value_major[, baseline…])."""
    baseline = bool(result.get("baseline"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["section", "id", "name", "metric", "value", "value_major"]
    if baseline:
        header += ["baseline", "baseline_major", "difference", "difference_major"]
    writer.writerow(header)

    def row(section: str, ident: str, name: str, metric: str, value: int, base: int | None, money: bool) -> None:
        cells: list[Any] = [section, ident, name, metric, value, text.amount(value, grouped=False) if money else ""]
        if baseline:
            assert base is not None
            cells += [base, text.amount(base, grouped=False) if money else "", value - base,
                      text.amount(value - base, grouped=False) if money else ""]
        writer.writerow(cells)

    for r in _campaign_rows(result):
        for metric, money in METRICS:
            row("campaign", r["id"], r["name"], metric, r[metric], r.get(f"baseline_{metric}"), money)
    base_totals = result["baseline"]["totals"] if baseline else {}
    for key in TOTAL_KEYS:
        row("total", "", "", key, result["program"]["totals"][key], base_totals.get(key), key in MONEY_TOTALS)
    return buffer.getvalue()


def render_json(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2) + "\n"


# ------------------------------------------------------------------------------------------------ run


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
                          for r in _campaign_rows(result)],
            "totals": {k: result["program"]["totals"][k] - result["baseline"]["totals"][k] for k in TOTAL_KEYS},
        }
    return result


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}


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
