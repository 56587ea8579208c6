"""The accounts of a simulation: the state each opens with (an `--accounts` line of `bonus-engine simulate`, or
the ledger's state at a period's start for the stored receipts) and the account the model keeps in memory."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.accounts.schemas import BirthDate
from rules import CUSTOM_SEGMENT_PATTERN, Lot, balances

OPENING = datetime(1970, 1, 1, tzinfo=UTC)  # when an account's opening points became available
Card = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]  # as in a receipt
Minor = Annotated[int, Field(strict=True, ge=0, le=10**13)]  # money and points: JSON integers only


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


@dataclass
class Account:
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


def opened(record: Opening) -> Account:
    account = Account(blocked=record.blocked, first=record.first_purchase_at, last=record.last_purchase_at,
                       segments=record.segments)
    for at, amount in record.purchases:
        account.purchases.append((at, amount))
        account.purchases_sum += amount
    for remaining, available_at, expires_at in record.lots:
        account.grant(remaining, available_at, expires_at)
    return account
