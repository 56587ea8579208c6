"""Birthday bonuses: whose birthday window holds a day, which year's birthday that is, and whether its
campaign's conditions hold. Pure: days are the chain's calendar days, worked out by the caller.

A birth date `b` has a birthday in each year Y after its own: b's month and day in Y, and 28 February
for a 29 February birth in a year without one. Its window is [birthday − days_before, birthday +
days_after], whole days. A window that crosses New Year belongs to the year of the birthday itself
(born 2 January, 5 days before: the window from 28 December 2026 is the 2027 birthday's). Windows are at
most 181 days long, so a day lies in at most one year's window.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ._account import segment_of, tier_for
from ._conditions import not_active_reason
from ._program import Bonus, Program

__all__ = ["BirthdayKey", "birthday_in", "birthday_holds", "birthday_year", "birthdays_around"]


@dataclass(frozen=True, slots=True, order=True)
class BirthdayKey:
    """Birth dates of this month and day have their year `year` birthday's window on the day asked."""

    month: int
    day: int
    year: int


def birthday_in(year: int, birth: date) -> date:
    """The birthday of `birth` in `year`: 28 February for 29 February when `year` has none."""
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birth.replace(year=year)


def _window(bonus: Bonus) -> tuple[int, int]:
    return bonus.days_before or 0, bonus.days_after or 0


def birthday_year(day: date, birth: date, bonus: Bonus) -> int | None:
    """The year whose birthday window holds `day`; None outside every window (and for the year of birth)."""
    before, after = _window(bonus)
    for year in (day.year - 1, day.year, day.year + 1):
        if year <= birth.year:
            continue
        birthday = birthday_in(year, birth)
        if birthday - timedelta(days=before) <= day <= birthday + timedelta(days=after):
            return year
    return None


def birthdays_around(day: date, bonus: Bonus) -> list[BirthdayKey]:
    """Every birth month and day whose window holds `day`, with that birthday's year: the days from
    `days_after` before `day` to `days_before` after it, and 29 February with a 28 February of a year that
    has none. What a sweep asks the accounts for (each match still needs `birthday_year`: the year of birth)."""
    before, after = _window(bonus)
    keys = set()
    for offset in range(-after, before + 1):
        birthday = day + timedelta(days=offset)
        keys.add(BirthdayKey(birthday.month, birthday.day, birthday.year))
        if birthday.month == 2 and birthday.day == 28 and not calendar.isleap(birthday.year):
            keys.add(BirthdayKey(2, 29, birthday.year))
    return sorted(keys)


def birthday_holds(bonus: Bonus, program: Program, at: datetime, tier_purchases: int,
                   first_purchase: datetime | None, last_purchase: datetime | None,
                   custom_segments: frozenset[str] = frozenset()) -> bool:
    """Whether a birthday bonus may be granted at `at`: inside its `active` period, and its `when.tiers` and
    `when.segments` hold for the account's tier, CVM segment at `at` and custom segments (as of their last
    refresh), as at a receipt: the only conditions it may name."""
    if not_active_reason(bonus, at) is not None:
        return False
    when = bonus.when
    if when is None:
        return True
    if when.tiers is not None and tier_for(program.tiers, tier_purchases).id not in when.tiers:
        return False
    if when.segments is None:
        return True
    segment = segment_of(first_purchase, last_purchase, at, program.segments)
    return segment in when.segments or not custom_segments.isdisjoint(when.segments)
