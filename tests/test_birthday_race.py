"""Birthday bonuses racing: cards whose birthday is today register while four kinds of sweepers run at once
(the periodic sweep in both workers of `serve`, `bonus-engine birthdays` processes, the sweep function in a
loop on its own pool) and receipts earn and redeem on the same accounts. Afterwards: exactly one birthday
entry per card, one `birthday_grants` row per card, nothing spent twice, a last sweep grants nothing, and a
clean audit.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx

from app.customers.birthdays import sweep
from rules import compile_program, load_program
from tests.conftest import Servers
from tests.inprocess import app_context
from tests.load import Answer, sql, timed
from tests.programs import program
from tests.support import ADMIN_KEY, Call, assert_books, card, line, race, receipt, start_service

ZONE = "Europe/Moscow"
POINTS = 10_000
PROGRAM = program(pending_days=0, campaigns=[
    {"id": "bday", "name": "Birthday", "type": "bonus", "trigger": "birthday", "priority": 1, "points": POINTS,
     "days_before": 1, "days_after": 1},
])
CARDS = 40


def born_today() -> str:
    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    return date(today.year - 28 if (today.month, today.day) == (2, 29) else today.year - 30,
                today.month, today.day).isoformat()


def patch(path: str, body: dict[str, object]) -> Call:
    return lambda client: client.patch(path, json=body)


def test_sweepers_and_receipts_race_for_birthday_bonuses(servers: Servers) -> None:
    database_url = servers.new_database()
    service = start_service(database_url, servers.redis_url, f"t{servers.run_id}bday:", PROGRAM,
                            {"BONUS_ENGINE_EXPIRE_INTERVAL_S": "1", "BONUS_ENGINE_REPORT_TIME_ZONE": ZONE},
                            workers=2)
    stop = threading.Event()
    failures: list[BaseException] = []
    cards: list[str] = []
    answers: list[Answer] = []
    found = {"function_sweeps": 0, "function_granted": 0, "function_skipped": 0, "cli_sweeps": 0,
             "cli_granted": 0, "cli_skipped": 0}
    try:
        client = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        deadline = time.monotonic() + 30  # the second worker finds the program by polling (every 200 ms)
        while sum(client.get("/v1/program").status_code == 200 for _ in range(10)) < 10:
            assert time.monotonic() < deadline, "a worker never loaded the program"
            time.sleep(0.2)

        def confirms(index: int) -> None:
            try:
                with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                  timeout=30) as own:
                    n = 0
                    while not stop.is_set():
                        if not cards:
                            time.sleep(0.01)
                            continue
                        n += 1
                        number = cards[(index + n) % len(cards)]
                        body = receipt([line("1", 40_000)], number, redeem_points=100)
                        answers.append(timed(own, "POST", "/v1/receipts", body, "confirm"))
            except BaseException as error:
                failures.append(error)

        def sweep_function() -> None:
            async def loop() -> None:
                compiled = compile_program(load_program(PROGRAM, "yaml"), 1)
                async with app_context(database_url, servers.redis_url, f"t{servers.run_id}bday:", compiled,
                                       pool_max=2) as ctx:
                    ctx.settings.report_time_zone = ZONE
                    while not stop.is_set():
                        counts = await sweep(ctx, datetime.now(UTC))
                        found["function_sweeps"] += 1
                        found["function_granted"] += counts.granted
                        found["function_skipped"] += counts.skipped
                        await asyncio.sleep(0.02)

            try:
                asyncio.run(loop())
            except BaseException as error:
                failures.append(error)

        def sweep_cli() -> None:
            try:
                while not stop.is_set():
                    done = service.cli("birthdays")
                    assert done.returncode == 0, done.stderr
                    granted, skipped = re.match(r"granted (\d+) birthday bonuses \(\d+ accounts due, (\d+) skipped",
                                                done.stdout).groups()  # type: ignore[union-attr]
                    found["cli_sweeps"] += 1
                    found["cli_granted"] += int(granted)
                    found["cli_skipped"] += int(skipped)
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=confirms, args=(i,), daemon=True) for i in range(4)]
        threads += [threading.Thread(target=sweep_function, daemon=True) for _ in range(2)]
        threads += [threading.Thread(target=sweep_cli, daemon=True) for _ in range(2)]
        numbers = [card() for _ in range(CARDS)]
        for number in numbers:  # registered without a birth date: nothing is due yet
            assert client.post("/v1/accounts", json={"card": number}).status_code == 201
        cards.extend(numbers)
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # every sweeper is looping, receipts are flowing
        # then every card gets its birth date at once, each by its own PATCH released by one barrier
        patched = race([(service, patch(f"/v1/accounts/{number}", {"profile": {"birth_date": born_today()}}))
                        for number in numbers])
        assert all(answer.status_code == 204 for answer in patched), [a.text for a in patched][:3]
        cli_runs = found["cli_sweeps"]
        deadline = time.monotonic() + 90  # a loaded machine starts a process slowly
        while found["cli_sweeps"] < cli_runs + 2 and time.monotonic() < deadline and not failures:
            time.sleep(0.1)  # each `bonus-engine birthdays` loop ran after the PATCHes too
        time.sleep(2.5)  # and the periodic sweeps at least twice more
        stop.set()
        for thread in threads:
            thread.join(120)
        assert not failures, failures[0]
        assert not any(t.is_alive() for t in threads)
        assert found["function_sweeps"] > 10 and found["cli_sweeps"] >= 2, found
        # sweepers really met: some found an account due that another one granted first (the rest: serve's)
        assert found["function_granted"] + found["cli_granted"] <= CARDS, found
        assert found["function_skipped"] + found["cli_skipped"] > 0, found

        # receipts went through; on a machine loaded past its pool's acquire timeout a few may be refused with
        # 503, which by the contract changes nothing (the audit below holds either way)
        assert sum(a.status == 201 for a in answers) > len(answers) // 2, [a for a in answers if a.status != 201][:3]
        assert all(a.status == 201 or (a.status == 503 and a.problem_json) for a in answers), \
            [a for a in answers if a.status not in (201, 503)][:3]
        final = service.cli("birthdays")
        assert final.returncode == 0, final.stderr
        assert final.stdout.startswith("granted 0 birthday bonuses (0 accounts due"), final.stdout
        rows = sql(database_url, """
            SELECT a.card, count(*) FILTER (WHERE l.reason = 'birthday: bday') AS entries,
                   sum(l.points) FILTER (WHERE l.reason = 'birthday: bday') AS points,
                   (SELECT count(*) FROM birthday_grants g WHERE g.account_id = a.id) AS grants
            FROM accounts a JOIN ledger l ON l.account_id = a.id GROUP BY a.id""")
        by_card = {row["card"]: row for row in rows}
        for number in cards:
            row = by_card[number]
            assert (row["entries"], row["points"], row["grants"]) == (1, POINTS, 1), row
        assert sql(database_url, "SELECT count(*) AS n FROM lots WHERE remaining < 0")[0]["n"] == 0
        for number in cards[:3]:
            assert_books(service, client, number, non_negative=True)
        audit = service.audit()
        assert audit.returncode == 0, audit.stdout + audit.stderr
        client.close()
        print(f"\nbirthday race: {CARDS} cards registered while {found['function_sweeps']} in-process sweeps "
              f"(granted {found['function_granted']}, skipped {found['function_skipped']}), "
              f"{found['cli_sweeps']} `bonus-engine birthdays` runs (granted {found['cli_granted']}, skipped "
              f"{found['cli_skipped']}), both workers' 1 s sweep and {len(answers)} confirms ran; one grant per "
              "card; audit clean")
    finally:
        stop.set()
        service.stop()
