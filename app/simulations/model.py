"""The in-memory model of a simulation: one program over receipts through `rules.evaluate`, with accounts and
coupon uses in memory and the running figures per campaign. `bonus-engine simulate` feeds it a file's receipts
(files.py), the stored-receipt simulations a period's (replay.py, parallel.py).

The model (deliberately small; the service's ledger has more detail):

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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules import (
    AccountState,
    Bonus,
    CompiledProgram,
    CouponFact,
    Outcome,
    Receipt,
    ReceiptFacts,
    birthday_holds,
    birthdays_around,
    evaluate,
    not_active_reason,
    take,
)

from .accounts import OPENING, Account, AccountRecord, Opening, opened

TOTAL_KEYS = ("receipts", "amount", "discount", "points_accrued", "points_redeemed", "registration_points",
              "birthday_points")


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


@dataclass(frozen=True, slots=True)
class Prepared:
    """A receipt's inputs to the engine in one run: its account (None without one), the state it gives the
    engine, and the facts of the receipt's coupons."""

    account: Account | None
    state: AccountState
    facts: ReceiptFacts


@dataclass
class Simulation:
    """One program over the receipts: accounts, coupon uses and the running figures."""

    program: CompiledProgram
    opening: dict[str, AccountRecord] | dict[str, Opening]
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # the chain's days, for birthdays
    accounts: dict[str, Account] = field(default_factory=dict)
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
        outcome = self.evaluate(receipt, prepared)
        self.record(receipt, prepared, outcome)
        return outcome

    def evaluate(self, receipt: Receipt, prepared: Prepared) -> Outcome:
        """The engine on the receipt, at its own time, with what `prepare` gave."""
        return evaluate(receipt, prepared.state, self.program, receipt.issued_at, prepared.facts)

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

    def _account(self, card: str | None, at: datetime) -> Account | None:
        if card is None:
            return None
        account = self.accounts.get(card)
        if account is not None:
            return account
        record = self.opening.get(card)
        if isinstance(record, Opening):
            account = opened(record)
        elif record is not None:
            account = Account(blocked=record.blocked, opening_purchases=record.tier_purchases,
                               first=record.first_purchase_at, last=record.last_purchase_at,
                               segments=frozenset(record.segments))
            account.grant(record.available_points, OPENING, None)
        elif self.program.program.points.auto_enroll:
            account = Account()
            self._registration_bonuses(account, at)
        else:
            return None  # unknown: not registered, not enrolled, nothing to remember
        self.accounts[card] = account
        return account

    def _registration_bonuses(self, account: Account, at: datetime) -> None:
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

    def _state(self, card: str | None, account: Account | None, at: datetime) -> AccountState:
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

    def _after(self, account: Account, receipt: Receipt, outcome: Outcome) -> None:
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
