"""The birthday sweep on a Citus cluster: its scan (the `accounts_birthday` index joined with
`birthday_grants`, colocated by account) and its grant under the account's lock run on distributed tables, and
a second sweep grants nothing, and the audit is clean. Collected only with BONUS_TEST_CITUS=1, as
tests/test_citus.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests.load import sql
from tests.programs import program
from tests.test_citus import coordinator, migrate  # noqa: F401 - the fixture, used by name

pytestmark = pytest.mark.citus

PROGRAM = program(campaigns=[{"id": "bday", "name": "Birthday", "type": "bonus", "trigger": "birthday",
                              "priority": 1, "points": 5_000, "days_before": 1}])


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": ""})


def test_the_birthday_sweep_runs_on_citus(coordinator: str, tmp_path: object) -> None:  # noqa: F811
    migrate(coordinator)
    program_file = f"{tmp_path}/program.yaml"
    with open(program_file, "w", encoding="utf-8") as handle:
        handle.write(PROGRAM)
    assert cli(coordinator, "program", "load", program_file).returncode == 0
    today = datetime.now(UTC).date()
    born = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today.replace(year=1988)
    for number in range(1, 21):  # twenty accounts over the shards, ten with today as their birthday
        sql(coordinator, "INSERT INTO cards (card, account_id) VALUES ($1, $2)", f"c{number}", number)
        sql(coordinator, "INSERT INTO accounts (id, card, birth_date) VALUES ($1, $2, $3)", number, f"c{number}",
            born if number % 2 else None)
    first = cli(coordinator, "birthdays")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("granted 10 birthday bonuses (10 accounts due, 0 skipped, 1 campaigns)"), \
        first.stdout
    again = cli(coordinator, "birthdays")
    assert again.stdout.startswith("granted 0 birthday bonuses (0 accounts due"), again.stdout
    rows = sql(coordinator, "SELECT account_id, year FROM birthday_grants ORDER BY account_id")
    assert [(row["account_id"], row["year"]) for row in rows] == [(n, today.year) for n in range(1, 21, 2)]
    entries = sql(coordinator, "SELECT account_id, points FROM ledger WHERE reason = 'birthday: bday' ORDER BY 1")
    assert [(row["account_id"], row["points"]) for row in entries] == [(n, 5_000) for n in range(1, 21, 2)]
    audit = cli(coordinator, "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
