"""The accounts whose membership can differ from what the last refresh found: the only ones an incremental
refresh evaluates again (docs/contract.md, Custom segments; migration 0016).

An account's membership is a function of its rows (receipts and refunds, the roll-up's figures made from
them, its profile and birth date), of the refresh's clock (now and today) and of what all accounts share
(the program's tier and CVM settings, the RFM boundaries, the segments' documents). So between two
refreshes it can change only for:
- the accounts with a receipt or refund written since: `change_xid` at or above the last refresh's
  `since_xid` (below it, every transaction had finished and was seen, and the roll-up had folded it in);
- the accounts opened, or whose profile or birth date changed, since (`segment_changes`, from triggers);
- the accounts a passing clock moves across a boundary of a time-based condition (`Edges`), found by range
  over indexes: a purchase leaving a `within_days` or tier window, the last purchase crossing a
  `days_since_last` bound or the CVM segment's days, the registration leaving `registered_within_days`;
- when the RFM boundaries were computed again, the buyers whose value lies between an old and a new one.

A change of what all accounts share otherwise (the program's settings, the time zone) makes the refresh a
full one; a new or changed document is evaluated alone over every account (refresh.py). The ranges of instants
are a minute wider each side: an account found too many is evaluated for nothing, one missed would keep a
wrong membership, so each range errs wide; calendar days are exact, in the report time zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules import Program

from .filters import Edges

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Bounds:
    """The RFM boundaries a refresh scored against (report_rfm), None where none were stored."""

    recency: list[datetime] | None
    frequency: list[int] | None
    monetary: list[int] | None


@dataclass(frozen=True, slots=True)
class Seen:
    """What a refresh of every segment evaluated against (the row of segment_state)."""

    evaluated_at: datetime
    today: date
    time_zone: str
    since_xid: int
    program_key: str
    rfm: Bounds


def program_key(program: Program) -> str:
    """The program settings the filters read (tiers for `tier`, the CVM days for `segment`), as JSON."""
    return json.dumps({"tiers": program.tiers.model_dump(mode="json"),
                       "segments": program.segments.model_dump(mode="json")}, sort_keys=True)


@dataclass
class Candidates:
    """Builds one SELECT of account ids (repeats and NULLs possible) over the reasons above."""

    seen: Seen
    now: datetime
    today: date
    program: Program
    rfm: Bounds
    params: list[Any]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.seen.time_zone)  # the refresh's own: a different one makes it a full refresh

    def value(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}{cast}"

    def instants(self, column: str, age: timedelta, pad: timedelta) -> str:
        """`column` passed `age` ago between the two refreshes: its age crossed `age` (either way: a clock
        set back moves ages back)."""
        earlier, later = sorted((self.seen.evaluated_at, self.now))
        return (f"{column} BETWEEN {self.value(earlier - age - pad, '::timestamptz')}"
                f" AND {self.value(later - age + pad, '::timestamptz')}")

    def issued(self, age: timedelta) -> str:
        """The buyers of a receipt whose age crossed `age` between the two refreshes (receipts_issued)."""
        return ("SELECT account_id FROM receipts WHERE account_id IS NOT NULL AND "
                + self.instants("issued_at", age, MINUTE))

    def days(self, first: date, last: date, stores: tuple[str, ...]) -> str:
        """The buyers in `stores` on a report day from `first` to `last`."""
        return (f"SELECT account_id FROM report_members WHERE day BETWEEN {self.value(first, '::date')}"
                f" AND {self.value(last, '::date')} AND store_id = ANY({self.value(list(stores), '::text[]')})")

    def last_purchase_on(self, first: date, last: date) -> str:
        """The buyers whose last purchase falls on a day from `first` to `last` in the report time zone (an
        hour wider each side: a day that starts in a daylight-saving change)."""
        start, end = (datetime.combine(day, time(), self.zone) for day in (first, last + DAY))
        start, end = start - HOUR, end + HOUR
        return (f"SELECT account_id FROM report_accounts WHERE last_purchase_at >= {self.value(start, '::timestamptz')}"
                f" AND last_purchase_at < {self.value(end, '::timestamptz')}")

    def select(self, edges: Edges) -> str:
        since = self.value(self.seen.since_xid, "::bigint")
        parts = [f"SELECT account_id FROM receipts WHERE change_xid >= {since} AND account_id IS NOT NULL",
                 "SELECT r.account_id FROM refunds f JOIN receipts r ON r.owner_id = f.owner_id"
                 f" AND r.receipt_id = f.receipt_id WHERE f.change_xid >= {since} AND r.account_id IS NOT NULL",
                 f"SELECT account_id FROM segment_changes WHERE change_xid >= {since}"]
        new_day = self.today != self.seen.today
        for within in sorted(edges.bought_within):  # a purchase left the window [now - within, ∞)
            parts.append(self.issued(timedelta(days=within)))
        if edges.tier:  # the window [now - window_days, now]: a purchase left it, or one dated ahead entered it
            if self.program.tiers.window_days:
                parts.append(self.issued(timedelta(days=self.program.tiers.window_days)))
            parts.append(self.issued(timedelta(0)))
        earlier, later = sorted((self.seen.today, self.today))
        for within, stores in sorted(edges.store_within) if new_day else ():
            # report days from today - within on: the days between the two such days changed sides
            parts.append(self.days(earlier - timedelta(days=within), later - timedelta(days=within) - DAY, stores))
        for bound in sorted(edges.days_since_last) if new_day else ():
            # "day(last) <= today - bound" changes for day(last) from earlier - bound + 1 to later - bound
            parts.append(self.last_purchase_on(earlier - timedelta(days=bound) + DAY, later - timedelta(days=bound)))
        if edges.cvm:
            settings = self.program.segments
            for days in (settings.pre_churn_days, settings.churn_days):
                parts.append("SELECT account_id FROM report_accounts WHERE " +
                             self.instants("last_purchase_at", timedelta(days=days), MINUTE))
            parts.append("SELECT account_id FROM report_accounts WHERE " +
                         self.instants("first_purchase_at", timedelta(days=settings.newcomer_days), MINUTE))
        for within in sorted(edges.registered_within):
            parts.append("SELECT id FROM accounts WHERE " +
                         self.instants("created_at", timedelta(days=within), MINUTE))
        if edges.rfm and self.rfm != self.seen.rfm:
            parts.append(self._rescored())
        return " UNION ALL ".join(parts)

    def _rescored(self) -> str:
        """The buyers whose score can differ between the old and the new boundaries: a score is one plus the
        boundaries below the value, so it moves only for a value between an old boundary and its new one."""
        old, new = self.seen.rfm, self.rfm
        pairs = (("last_purchase_at", old.recency, new.recency, "timestamptz[]"),
                 ("receipts", old.frequency, new.frequency, "bigint[]"),
                 ("revenue", old.monetary, new.monetary, "bigint[]"))
        if any(before is None or after is None or len(before) != len(after) for _, before, after, _ in pairs):
            return "SELECT account_id FROM report_accounts"  # no boundaries before, or a different number
        tests = [f"EXISTS (SELECT FROM unnest({self.value(before, '::' + cast)}, {self.value(after, '::' + cast)})"
                 f" AS b(before, after) WHERE {column} BETWEEN SYMMETRIC b.before AND b.after)"
                 for column, before, after, cast in pairs if before != after]
        return f"SELECT account_id FROM report_accounts WHERE {' OR '.join(tests) or 'false'}"
