"""The incremental refresh of custom segments (app/segments/changes.py) against a full recomputation: after
receipts, a refund, a profile change, one day and eight days passing, and new RFM boundaries, it finds the
members worked out by hand below, and a refresh of every account at the same moment changes no row and no
count. Each time-based condition moves some customer alone, so a range of candidates that missed it fails.

The clock is the refresh's `now`: receipts are dated in the past over HTTP, and the refresh is told the
time it evaluates at, so days pass without waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.context import utcnow
from app.core.db import Database
from app.core.settings import Settings
from app.program.service import ProgramHolder
from app.segments.refresh import Refreshed, refresh
from tests.load import sql
from tests.programs import program
from tests.support import Service, card, confirm, line, receipt, register

MOSCOW = ZoneInfo("Europe/Moscow")
LEVELS = [{"id": "base", "min_purchases": 0, "accrual_percent": 3},
          {"id": "silver", "min_purchases": 200000, "accrual_percent": 5}]
# every kind of condition a passing clock moves, and the figures and profile a change moves
FILTERS: dict[str, dict[str, Any]] = {
    "big": {"all": [{"ltv": {"gte": 100000}}]},
    "coffee-30": {"all": [{"bought": {"categories": ["coffee"], "within_days": 30}}]},
    "drifting": {"all": [{"segment": {"in": ["pre_churn", "churn"]}}]},
    "lapsed": {"all": [{"days_since_last": {"gt": 60}}]},
    "new": {"all": [{"registered_within_days": 30}]},
    "quiet-20": {"all": [{"days_since_last": {"gt": 20}}]},
    "recent-s1": {"all": [{"store": {"in": ["s1"], "within_days": 7}}]},
    "silver": {"all": [{"tier": {"in": ["silver"]}}]},
    "women": {"all": [{"gender": {"in": ["female"]}}]},
}


def ago(days: int) -> str:
    return (datetime.now(MOSCOW) - timedelta(days=days)).replace(hour=12, minute=0, second=0,
                                                                 microsecond=0).isoformat()


@pytest.fixture(scope="module")
def shop(make_module_service: Callable[..., Service]) -> Service:
    # the roll-up off: each refresh folds the newest receipts in itself, as a PUT does
    return make_module_service(program(levels=LEVELS, max_receipt_age_days=365),
                               BONUS_ENGINE_REPORT_TIME_ZONE="Europe/Moscow", BONUS_ENGINE_REPORT_INTERVAL_S="0")


def run_refresh(shop: Service, now: datetime, full: bool = False) -> Refreshed:
    async def run() -> Refreshed:
        settings = Settings(database_url=shop.database_url)
        db = Database(settings)
        await db.connect()
        try:
            programs = ProgramHolder(db, settings.program_poll_ms)
            await programs.refresh()
            done = await refresh(db, programs.current.program, "Europe/Moscow", now=now, full=full)
            assert done is not None
            return done
        finally:
            await db.close()

    return asyncio.run(run())


def membership(shop: Service, cards: dict[str, str]) -> dict[str, str]:
    """Each customer's segments as stored on the account row, joined by commas."""
    rows = sql(shop.database_url, "SELECT card, segments FROM accounts WHERE card = ANY($1::text[])",
               list(cards.values()))
    stored = {row["card"]: ",".join(row["segments"] or []) for row in rows}
    return {letter: stored[number] for letter, number in cards.items()}


def counts(shop: Service) -> dict[str, int]:
    return {row["id"]: row["members"] for row in sql(shop.database_url, "SELECT id, members FROM segments")}


def same_as_full(shop: Service, now: datetime) -> None:
    """A refresh of every account at `now` finds nothing to change, and counts what the increments counted."""
    before = counts(shop)
    assert run_refresh(shop, now, full=True).changed == 0
    assert counts(shop) == before


def test_incremental_refresh_equals_a_full_one_after_receipts_refunds_and_time(shop: Service) -> None:
    client = shop.client()
    cards = {letter: card() for letter in "ABCDGH"}
    for number in cards.values():
        register(client, number)
    # C opened 25 days ago (before any refresh: no trigger needed to see it)
    sql(shop.database_url, "UPDATE accounts SET created_at = now() - interval '25 days' WHERE card = $1", cards["C"])
    confirm(client, receipt([line("1", 5000, category="tea")], cards["A"], store_id="s2", issued_at=ago(40)))
    confirm(client, receipt([line("1", 200000, category="coffee")], cards["A"], store_id="s1", issued_at=ago(25)))
    confirm(client, receipt([line("1", 30000, category="tea")], cards["B"], store_id="s2", issued_at=ago(55)))
    big = confirm(client, receipt([line("1", 250000, category="tea")], cards["D"], store_id="s2",
                                  issued_at=ago(10)))
    confirm(client, receipt([line("1", 50000, category="tea")], cards["D"], store_id="s2", issued_at=ago(5)))
    confirm(client, receipt([line("1", 10000, category="tea")], cards["G"], store_id="s2", issued_at=ago(15)))
    confirm(client, receipt([line("1", 10000, category="tea")], cards["H"], store_id="s2", issued_at=ago(20)))
    for segment_id, condition in FILTERS.items():
        answer = client.put(f"/v1/segments/{segment_id}", json={"name": segment_id, "filter": condition})
        assert answer.status_code == 201, answer.text
    start = utcnow()
    run_refresh(shop, start, full=True)
    # A: tea 5,000 in s2 40 days ago, coffee 200,000 in s1 25 days ago: ltv 205,000, silver, loyal (only the
    # coffee's window moves A in the eight days below). B: tea 30,000 55 days ago, loyal.
    # C: nothing yet. D: 300,000 of tea 10 and 5 days ago: silver. G and H: tea 10,000 15 and 20 days ago.
    # All opened within 30 days; quiet-20 holds A and B (last purchase 25 and 55 days ago), not H (20 is not > 20)
    assert membership(shop, cards) == {"A": "big,coffee-30,new,quiet-20,silver", "B": "new,quiet-20", "C": "new",
                                       "D": "big,new,silver", "G": "new", "H": "new"}
    assert counts(shop) == {"big": 2, "coffee-30": 1, "drifting": 0, "lapsed": 0, "new": 6, "quiet-20": 2,
                            "recent-s1": 0, "silver": 2, "women": 0}

    # changes: D's big receipt refunded whole, C becomes female, E opens and buys coffee in s1 today
    answer = client.post(f"/v1/receipts/{big['receipt_id']}/refunds",
                         json={"refund_id": "all", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert answer.status_code == 201, answer.text
    assert client.patch(f"/v1/accounts/{cards['C']}", json={"profile": {"gender": "female"}}).status_code == 204
    cards["E"] = card()
    register(client, cards["E"])
    confirm(client, receipt([line("1", 100000, category="coffee/beans")], cards["E"], store_id="s1"))

    soon = start + timedelta(minutes=1)
    done = run_refresh(shop, soon)
    assert done.evaluated is not None and 3 <= done.evaluated <= 3 + 2  # C, D, E (and at most A, B again)
    # D: 50,000 left, base tier; C: female; E: 100,000 of coffee beans in s1 today
    after_changes = {"A": "big,coffee-30,new,quiet-20,silver", "B": "new,quiet-20", "C": "new,women", "D": "new",
                     "E": "big,coffee-30,new,recent-s1", "G": "new", "H": "new"}
    assert membership(shop, cards) == after_changes
    same_as_full(shop, soon)

    # a day on, only H moves: its last purchase is 21 days old (> 20), by days_since_last alone
    assert run_refresh(shop, start + timedelta(days=1)).changed == 1
    assert membership(shop, cards) == {**after_changes, "H": "new,quiet-20"}
    same_as_full(shop, start + timedelta(days=1))

    # eight days on: A's coffee is 33 days old (out of coffee-30); B's last purchase 63 days (lapsed, pre_churn);
    # C was opened 33 days ago (no longer new); E's purchase in s1 is 8 days old (out of recent-s1); G's last
    # purchase 23 days (quiet-20). Each of A, C, E and G is moved by one time-based condition alone.
    later = start + timedelta(days=8)
    done = run_refresh(shop, later)
    assert done.evaluated is not None and done.evaluated >= 5
    assert membership(shop, cards) == {"A": "big,new,quiet-20,silver", "B": "drifting,lapsed,new,quiet-20",
                                       "C": "women", "D": "new", "E": "big,coffee-30,new", "G": "new,quiet-20",
                                       "H": "new,quiet-20"}
    assert counts(shop) == {"big": 2, "coffee-30": 1, "drifting": 1, "lapsed": 1, "new": 6, "quiet-20": 4,
                            "recent-s1": 0, "silver": 1, "women": 1}
    same_as_full(shop, later)

    # nothing changed since: nobody is evaluated again
    assert run_refresh(shop, later).evaluated == 0


def stored(shop: Service, number: str) -> list[str]:
    return sql(shop.database_url, "SELECT segments FROM accounts WHERE card = $1", number)[0]["segments"] or []


def test_a_put_evaluates_its_own_segment_and_answers_its_count(shop: Service) -> None:
    """A new or changed document is evaluated alone over every account: its count is in the answer."""
    client = shop.client()
    number = card()
    register(client, number)
    confirm(client, receipt([line("1", 70000, category="tea")], number, store_id="s3"))
    answer = client.put("/v1/segments/s3-buyers", json={"name": "s3", "filter": {"all": [{"store": {"in": ["s3"]}}]}})
    assert answer.status_code == 201, answer.text
    assert answer.json()["members"] == 1
    assert "s3-buyers" in stored(shop, number)
    answer = client.put("/v1/segments/s3-buyers",
                        json={"name": "s3", "filter": {"all": [{"store": {"in": ["s3"]}}, {"ltv": {"gte": 80000}}]}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["members"] == 0
    assert "s3-buyers" not in stored(shop, number)
    assert client.delete("/v1/segments/s3-buyers").status_code == 204


def test_new_rfm_boundaries_move_the_buyers_between_old_and_new(shop: Service) -> None:
    """The RFM boundaries computed again: the incremental refresh evaluates the buyers whose value lies between
    an old boundary and its new one, and finds what a full refresh finds. With every monetary boundary at 0,
    every buyer scores m = 1 + the number of boundaries, so all of them are in `m >= 2`."""
    client = shop.client()
    answer = client.put("/v1/segments/rfm-m2", json={"name": "m2", "filter": {"all": [{"rfm": {"m": {"gte": 2}}}]}})
    assert answer.status_code == 201, answer.text
    now = utcnow()
    run_refresh(shop, now)
    buyers = sql(shop.database_url, "SELECT count(*) AS n FROM report_accounts WHERE receipts > 0")[0]["n"]
    before = sql(shop.database_url, "SELECT members FROM segments WHERE id = 'rfm-m2'")[0]["members"]
    assert 0 < before < buyers  # the real boundaries leave the smallest buyers out
    bounds = sql(shop.database_url, "UPDATE report_rfm SET monetary = array_fill(0::bigint,"
                 " ARRAY[array_length(monetary, 1)]), computed_at = now() WHERE id = 1"
                 " RETURNING array_length(monetary, 1) AS n")
    assert bounds[0]["n"] >= 1
    done = run_refresh(shop, now + timedelta(minutes=1))
    assert done.evaluated is not None and done.evaluated >= buyers - before
    assert sql(shop.database_url, "SELECT members FROM segments WHERE id = 'rfm-m2'")[0]["members"] == buyers
    same_as_full(shop, now + timedelta(minutes=1))
    assert client.delete("/v1/segments/rfm-m2").status_code == 204
