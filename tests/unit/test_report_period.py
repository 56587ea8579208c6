"""A report period's instants at the ends of the calendar, in the zones farthest east and west of UTC."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from types import SimpleNamespace

import pytest

from app.reports.service import MAX_PERIOD_DAYS, Period, parse_period


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14, UTC-11
@pytest.mark.parametrize(("start", "end"), [(date.min, date.min), (date.min, date(1, 1, 30)),
                                            (date(9999, 12, 1), date.max), (date.max, date.max)])
def test_instants_stay_in_the_calendar(zone: str, start: date, end: date) -> None:
    period = Period(start, end, None, zone)
    start_at, end_at = period.bounds()
    assert start_at < end_at
    # what asyncpg does with them: to UTC; and the inactive cut-off, up to MAX_PERIOD_DAYS before the end
    assert start_at.astimezone(UTC) <= end_at.astimezone(UTC)
    assert (end_at - timedelta(days=MAX_PERIOD_DAYS)).astimezone(UTC).year >= 1


def test_instants_of_an_ordinary_period_are_its_days() -> None:
    start_at, end_at = Period(date(2026, 11, 1), date(2026, 11, 30), None, "Europe/Moscow").bounds()
    assert (start_at.isoformat(), end_at.isoformat()) == ("2026-11-01T00:00:00+03:00", "2026-12-01T00:00:00+03:00")


@pytest.mark.parametrize(("to", "start"), [("0001-01-01", date.min), ("0001-01-29", date.min),
                                           ("0001-01-30", date.min), ("0001-01-31", date(1, 1, 2))])
def test_the_default_from_stops_at_the_first_day(to: str, start: date) -> None:
    sources = SimpleNamespace(settings=SimpleNamespace(report_time_zone="UTC"))
    period = parse_period(sources, None, to)  # type: ignore[arg-type]
    assert (period.start, period.end) == (start, date.fromisoformat(to))
