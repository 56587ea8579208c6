"""Birthday bonuses through the service: windows on the chain's calendar (Asia/Vladivostok, UTC+10, here),
their conditions, erasure, bad documents, and the log and metric of a sweep.

Windows worked out by hand (`bday`: 3 days before, 2 after; the days are Vladivostok's):
- born 10 December 1990: the 2026 window is 7–12 December 2026. At 13:59:59 UTC on 6 December it is still
  the 6th in Vladivostok (nothing); one second later it is 00:00 on the 7th (granted, year 2026).
- born 1 January 1985: the 2027 birthday's window is 29 December 2026 – 3 January 2027 (year 2027, granted
  on the 29th); on 3 January 2027 it is still the 2027 window: nothing more.
- born 29 February 2000: in 2027 the birthday is 28 February, its window 25 February – 2 March 2027; in 2028
  it is 29 February, its window 26 February – 2 March 2028: a grant on 2 March 2027 and one on 26 February
  2028, one for each year.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core import metrics
from app.customers.birthdays import SweepCounts, sweep
from rules import compile_program, load_program
from tests.inprocess import app_context
from tests.load import sql
from tests.programs import program
from tests.support import Service, account, assert_books, assert_problem, card, confirm, ledger, line, receipt

ZONE = "Asia/Vladivostok"


def birthday(campaign_id: str, points: int, **fields: Any) -> dict[str, Any]:
    return {"id": campaign_id, "name": campaign_id, "type": "bonus", "trigger": "birthday", "priority": 1,
            "points": points, **fields}


PROGRAM = program(expire_days=365, campaigns=[
    birthday("bday", 50_000, days_before=3, days_after=2, expire_days=30),
    birthday("bday-gold", 70_000, when={"tiers": ["gold"]}),  # on the birthday itself only
])


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    # no periodic sweep: each test sweeps when it means to
    return make_module_service(PROGRAM, BONUS_ENGINE_REPORT_TIME_ZONE=ZONE, BONUS_ENGINE_EXPIRE_INTERVAL_S="0")


def run_sweep(svc: Service, now: datetime) -> SweepCounts:
    """The sweep in this process at `now`, on the service's database, with the service's time zone."""
    async def go() -> SweepCounts:
        compiled = compile_program(load_program(PROGRAM, "yaml"), 1)
        async with app_context(svc.database_url, svc.env["REDIS_URL"], svc.env["BONUS_ENGINE_REDIS_PREFIX"],
                               compiled) as ctx:
            ctx.settings.report_time_zone = ZONE
            return await sweep(ctx, now)
    return asyncio.run(go())


def grants(svc: Service, number: str) -> list[tuple[str, int]]:
    rows = sql(svc.database_url, "SELECT g.campaign_id, g.year FROM birthday_grants g JOIN accounts a"
                                 " ON a.id = g.account_id WHERE a.card = $1 ORDER BY g.year, g.campaign_id", number)
    return [(row["campaign_id"], row["year"]) for row in rows]


def birthday_entries(client: Any, number: str) -> list[dict[str, Any]]:
    return [e for e in ledger(client, number) if e["kind"] == "bonus" and e["reason"].startswith("birthday: ")]


def vladivostok(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(ZONE))


def test_windows_on_the_chains_calendar(svc: Service) -> None:
    client = svc.client(svc.key("pos"))
    december, new_year, leap = card(), card(), card()
    for number, born in ((december, "1990-12-10"), (new_year, "1985-01-01"), (leap, "2000-02-29")):
        assert client.post("/v1/accounts", json={"card": number, "birth_date": born}).status_code == 201

    assert run_sweep(svc, datetime(2026, 12, 6, 13, 59, 59, tzinfo=UTC)).granted == 0  # the 6th there
    assert grants(svc, december) == []
    at = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)  # 00:00 on the 7th in Vladivostok
    first = run_sweep(svc, at)
    assert (first.granted, first.skipped) == (1, 0)
    assert grants(svc, december) == [("bday", 2026)]
    [entry] = birthday_entries(client, december)
    assert (entry["points"], entry["reason"]) == (50_000, "birthday: bday")
    assert datetime.fromisoformat(entry["available_at"]) == at
    assert datetime.fromisoformat(entry["expires_at"]) == at + timedelta(days=30)  # the campaign's expire_days
    assert run_sweep(svc, at + timedelta(hours=1)).granted == 0  # once a year, however many sweeps
    assert run_sweep(svc, vladivostok("2026-12-12T23:59:00")).granted == 0  # last day of the window

    assert run_sweep(svc, vladivostok("2026-12-28T23:59:59")).granted == 0
    assert run_sweep(svc, vladivostok("2026-12-29T00:00:00")).granted == 1
    assert grants(svc, new_year) == [("bday", 2027)]  # the year of the birthday, not of the grant
    assert run_sweep(svc, vladivostok("2027-01-03T12:00:00")).granted == 0

    assert run_sweep(svc, vladivostok("2027-02-24T23:00:00")).granted == 0
    assert run_sweep(svc, vladivostok("2027-03-02T08:00:00")).granted == 1
    assert run_sweep(svc, vladivostok("2027-03-03T00:00:00")).granted == 0
    assert run_sweep(svc, vladivostok("2028-02-26T00:00:00")).granted == 1
    assert grants(svc, leap) == [("bday", 2027), ("bday", 2028)]
    # `bday-gold` has no window around the day: none of these days was a birthday of a gold customer
    assert [g for number in (december, new_year, leap) for g in grants(svc, number) if g[0] == "bday-gold"] == []
    # one 50,000 entry per grant (lots dated in the future here, so balances are not compared), audit clean
    assert [len(birthday_entries(client, n)) for n in (december, new_year, leap)] == [1, 1, 2]
    audit = svc.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr


def local_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()


def born_today(years_ago: int = 30) -> str:
    today = local_today()
    return (today.replace(year=today.year - years_ago) if (today.month, today.day) != (2, 29)
            else date(today.year - 28, 2, 29)).isoformat()


def test_when_tiers_are_the_accounts_tier_at_the_sweep(svc: Service) -> None:
    """`bday-gold` names tiers: gold (500,000 of purchases in the test program) gets it, base does not; both
    get `bday`, which names none."""
    client = svc.client(svc.key("pos"))
    gold, base = card(), card()
    for number in (gold, base):
        assert client.post("/v1/accounts", json={"card": number, "birth_date": born_today()}).status_code == 201
    confirm(client, receipt([line("1", 500_000)], gold))
    confirm(client, receipt([line("1", 99_999)], base))  # below silver (100,000)
    assert account(client, gold)["tier"]["id"] == "gold" and account(client, base)["tier"]["id"] == "base"
    done = svc.cli("birthdays")
    assert done.returncode == 0, done.stderr
    assert grants(svc, gold) == [("bday", local_today().year), ("bday-gold", local_today().year)]
    assert grants(svc, base) == [("bday", local_today().year)]
    # the CLI replaced the cached snapshot: the balance shows the bonus at once
    # 3 % of 500,000 (the tier held before that receipt was base) and both bonuses
    assert account(client, gold)["points"]["available"] == 15_000 + 50_000 + 70_000
    assert svc.cli("birthdays").stdout.startswith("granted 0 birthday bonuses")
    assert_books(svc, client, gold)


def test_an_erased_profile_gets_no_birthday_bonus(svc: Service) -> None:
    client = svc.client()
    kept, erased = card(), card()
    for number in (kept, erased):
        assert client.post("/v1/accounts", json={"card": number, "birth_date": born_today(40)}).status_code == 201
    assert client.delete(f"/v1/accounts/{erased}/profile").status_code == 204
    done = svc.cli("birthdays")
    assert done.returncode == 0, done.stderr
    assert grants(svc, kept) == [("bday", local_today().year)]
    assert grants(svc, erased) == [] and birthday_entries(client, erased) == []
    assert account(client, erased)["points"]["available"] == 0


def test_a_blocked_account_waits_until_it_is_unblocked(svc: Service) -> None:
    client = svc.client()
    number = card()
    assert client.post("/v1/accounts", json={"card": number, "birth_date": born_today()}).status_code == 201
    assert client.post(f"/v1/accounts/{number}/block").status_code == 200
    assert svc.cli("birthdays").returncode == 0
    assert grants(svc, number) == []
    assert client.post(f"/v1/accounts/{number}/unblock").status_code == 200
    assert svc.cli("birthdays").returncode == 0
    assert grants(svc, number) == [("bday", local_today().year)]


def test_a_sweep_logs_and_counts_no_personal_data(svc: Service, caplog: pytest.LogCaptureFixture) -> None:
    client = svc.client()
    number, born = card(), born_today(25)
    assert client.post("/v1/accounts", json={"card": number, "birth_date": born}).status_code == 201
    before = metrics.BIRTHDAY_GRANTS._value.get()
    with caplog.at_level(logging.INFO, logger="bonus_engine.birthdays"):
        counts = run_sweep(svc, datetime.now(UTC))
    assert counts.granted >= 1 and counts.granted + counts.skipped == counts.due
    assert metrics.BIRTHDAY_GRANTS._value.get() - before == counts.granted
    [record] = [r for r in caplog.records if r.name == "bonus_engine.birthdays"]
    text = record.getMessage()
    assert f"{counts.granted} granted" in text and f"{counts.due} accounts due" in text
    assert number not in text and born not in text  # the day swept, counts, never an account or a birth date


@pytest.mark.parametrize(("campaign", "path", "message"), [
    (birthday("b", 100, when={"channels": ["online"]}), "campaigns[0]", "when.channels does not apply"),
    (birthday("b", 100, when={"hours": "09:00-18:00"}), "campaigns[0]", "when.hours does not apply"),
    (birthday("b", 100, items={"categories": ["shoes"]}), "campaigns[0]", "items does not apply"),
    (birthday("b", 100, days_before=91), "campaigns[0].days_before", "less than or equal to 90"),
    (birthday("b", 100, days_after=1.5), "campaigns[0].days_after", "integer"),
    (birthday("b", 100, trigger="receipt", days_after=1), "campaigns[0]", "days_before and days_after apply"),
    (birthday("b", 0), "campaigns[0].points", "greater than 0"),
])
def test_a_bad_birthday_campaign_is_refused_and_nothing_is_published(svc: Service, campaign: dict[str, Any],
                                                                     path: str, message: str) -> None:
    client = svc.client()
    version = client.get("/v1/program").headers["Program-Version"]
    answer = client.put("/v1/program", content=program(campaigns=[campaign]),
                        headers={"Content-Type": "application/yaml"})
    problem = assert_problem(answer, 422, "invalid_program")
    assert [e["path"] for e in problem["errors"]] == [path]
    assert message in problem["errors"][0]["message"]
    one = client.put(f"/v1/campaigns/{campaign['id']}", json=campaign)
    assert one.status_code == 422, one.text
    assert client.get("/v1/program").headers["Program-Version"] == version
