"""Birthday windows, worked out by hand: which year's birthday a day belongs to, 29 February in other years,
windows across New Year, and the campaign document's rules for trigger: birthday."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from rules import (
    BirthdayKey,
    Bonus,
    ProgramError,
    birthday_holds,
    birthday_in,
    birthday_year,
    birthdays_around,
    parse_program,
)
from tests.unit._helpers import program_doc


def birthday(**fields: Any) -> dict[str, Any]:
    return {"id": "bday", "name": "Birthday", "type": "bonus", "trigger": "birthday", "priority": 1,
            "points": 50_000, **fields}


def bonus(**fields: Any) -> Bonus:
    campaign = parse_program(program_doc([birthday(**fields)])).campaigns[0]
    assert isinstance(campaign, Bonus)
    return campaign


def test_29_february_is_28_february_in_a_year_without_one() -> None:
    leap = date(2000, 2, 29)
    assert birthday_in(2027, leap) == date(2027, 2, 28)
    assert birthday_in(2028, leap) == date(2028, 2, 29)
    assert birthday_in(2027, date(1990, 3, 1)) == date(2027, 3, 1)


@pytest.mark.parametrize(("day", "birth", "before", "after", "year"), [
    # the birthday itself, no days around it
    (date(2026, 12, 6), date(1990, 12, 6), 0, 0, 2026),
    (date(2026, 12, 5), date(1990, 12, 6), 0, 0, None),
    (date(2026, 12, 7), date(1990, 12, 6), 0, 0, None),
    # [6 Dec − 3, 6 Dec + 2] = [3 Dec, 8 Dec]
    (date(2026, 12, 3), date(1990, 12, 6), 3, 2, 2026),
    (date(2026, 12, 2), date(1990, 12, 6), 3, 2, None),
    (date(2026, 12, 8), date(1990, 12, 6), 3, 2, 2026),
    (date(2026, 12, 9), date(1990, 12, 6), 3, 2, None),
    # born 2 January, 5 days before: 28 December 2026 .. 2 January 2027 is the 2027 birthday's window
    (date(2026, 12, 28), date(1985, 1, 2), 5, 0, 2027),
    (date(2026, 12, 27), date(1985, 1, 2), 5, 0, None),
    (date(2027, 1, 2), date(1985, 1, 2), 5, 0, 2027),
    # born 30 December, 4 days after: 30 Dec 2026 .. 3 Jan 2027 is still the 2026 birthday's window
    (date(2027, 1, 3), date(1985, 12, 30), 0, 4, 2026),
    (date(2027, 1, 4), date(1985, 12, 30), 0, 4, None),
    # 29 February: 28 February in 2027; 29 February in 2028 (28 February 2028 is not the day)
    (date(2027, 2, 28), date(2000, 2, 29), 0, 0, 2027),
    (date(2027, 3, 1), date(2000, 2, 29), 0, 0, None),
    (date(2028, 2, 28), date(2000, 2, 29), 0, 0, None),
    (date(2028, 2, 29), date(2000, 2, 29), 0, 0, 2028),
    (date(2027, 3, 2), date(2000, 2, 29), 0, 2, 2027),  # [28 Feb, 2 Mar] in 2027
    # the year of birth has no birthday: born today, or in this window
    (date(2026, 12, 6), date(2026, 12, 6), 0, 0, None),
    (date(2026, 12, 30), date(2027, 1, 2), 5, 0, None),
    # the widest window: 90 days each way, 181 days
    (date(2026, 9, 7), date(1990, 12, 6), 90, 90, 2026),
    (date(2026, 9, 6), date(1990, 12, 6), 90, 90, None),
    (date(2027, 3, 6), date(1990, 12, 6), 90, 90, 2026),
    (date(2027, 3, 7), date(1990, 12, 6), 90, 90, None),
])
def test_birthday_year_of_a_day(day: date, birth: date, before: int, after: int, year: int | None) -> None:
    assert birthday_year(day, birth, bonus(days_before=before, days_after=after)) == year


def test_birthdays_around_a_day_list_the_birth_days_to_look_for() -> None:
    # 30 December 2026, 2 days before and 1 after: birthdays from 29 December 2026 to 1 January 2027
    keys = birthdays_around(date(2026, 12, 30), bonus(days_before=2, days_after=1))
    assert keys == [BirthdayKey(1, 1, 2027), BirthdayKey(12, 29, 2026), BirthdayKey(12, 30, 2026),
                    BirthdayKey(12, 31, 2026)]
    # 28 February of a year without 29 February also stands for those born on 29 February
    assert birthdays_around(date(2027, 2, 28), bonus()) == [BirthdayKey(2, 28, 2027), BirthdayKey(2, 29, 2027)]
    assert birthdays_around(date(2028, 2, 28), bonus()) == [BirthdayKey(2, 28, 2028)]


def test_every_day_of_a_window_is_found_by_birthdays_around() -> None:
    """The sweep's look-up and the check under the lock agree, day by day over four years."""
    campaign = bonus(days_before=7, days_after=3)
    births = [date(2000, 2, 29), date(1990, 12, 30), date(1985, 1, 2), date(1970, 7, 15)]
    day = date(2026, 1, 1)
    while day < date(2030, 1, 1):
        keys = {(k.month, k.day): k.year for k in birthdays_around(day, campaign)}
        for birth in births:
            assert keys.get((birth.month, birth.day)) == birthday_year(day, birth, campaign), (day, birth)
        day = date.fromordinal(day.toordinal() + 1)


AT = datetime(2026, 12, 6, 9, tzinfo=UTC)


def test_birthday_holds_judges_active_tiers_and_segments() -> None:
    document = program_doc([birthday(when={"tiers": ["silver", "gold"], "segments": ["loyal"]})])
    program = parse_program(document)
    campaign = program.campaigns[0]
    assert isinstance(campaign, Bonus)
    first, last = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)  # loyal on 6 December
    assert birthday_holds(campaign, program, AT, 1_500_000, first, last)  # silver from 1,500,000
    assert not birthday_holds(campaign, program, AT, 1_499_999, first, last)  # base
    assert not birthday_holds(campaign, program, AT, 1_500_000, None, None)  # segment none
    ended = parse_program(program_doc([birthday(active={"to": "2026-12-06T09:00:00+00:00"})]))
    assert isinstance(ended.campaigns[0], Bonus)
    assert not birthday_holds(ended.campaigns[0], ended, AT, 0, None, None)  # [from, to): `to` is out


@pytest.mark.parametrize(("fields", "message"), [
    ({"when": {"channels": ["online"]}}, "when.channels does not apply to trigger: birthday"),
    ({"when": {"stores": ["s1"]}}, "when.stores does not apply to trigger: birthday"),
    ({"when": {"weekdays": [1]}}, "when.weekdays does not apply to trigger: birthday"),
    ({"when": {"hours": "08:00-10:00"}}, "when.hours does not apply to trigger: birthday"),
    ({"items": {"skus": ["A"]}}, "items does not apply to trigger: birthday"),
    ({"min_amount": 100}, "min_amount applies to trigger: receipt only"),
])
def test_a_birthday_bonus_names_no_receipt_fact(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ProgramError) as error:
        parse_program(program_doc([birthday(**fields)]))
    assert error.value.errors == [{"path": "campaigns[0]", "message": f"Value error, {message}"
                                   + (" (a birthday bonus has no receipt)" if message.startswith("items") else
                                      " (a birthday bonus has no receipt; its when may name tiers and segments)"
                                      if message.startswith("when") else "")}]


@pytest.mark.parametrize(("fields", "path"), [
    ({"days_before": 91}, "campaigns[0].days_before"),
    ({"days_after": -1}, "campaigns[0].days_after"),
    ({"days_after": "3"}, "campaigns[0].days_after"),
    ({"days_before": 2.0}, "campaigns[0].days_before"),
])
def test_window_days_are_whole_numbers_from_0_to_90(fields: dict[str, Any], path: str) -> None:
    with pytest.raises(ProgramError) as error:
        parse_program(program_doc([birthday(**fields)]))
    assert [e["path"] for e in error.value.errors] == [path]


@pytest.mark.parametrize("trigger", ["registration", "receipt"])
def test_window_days_belong_to_birthday_bonuses_only(trigger: str) -> None:
    with pytest.raises(ProgramError) as error:
        parse_program(program_doc([birthday(trigger=trigger, days_before=3)]))
    assert error.value.errors == [{"path": "campaigns[0]", "message":
                                   "Value error, days_before and days_after apply to trigger: birthday only"}]


def test_birthday_holds_takes_custom_segments_as_a_receipt_does() -> None:
    program = parse_program(program_doc([birthday(when={"segments": ["coffee-drifters"]})]))
    campaign = program.campaigns[0]
    assert isinstance(campaign, Bonus)
    assert birthday_holds(campaign, program, AT, 0, None, None, frozenset({"coffee-drifters"}))
    assert not birthday_holds(campaign, program, AT, 0, None, None, frozenset({"tea-lovers"}))
    assert not birthday_holds(campaign, program, AT, 0, None, None)
