"""Expiry alongside live receipts: lots pass their expiry while confirms redeem from the same accounts,
and three kinds of sweepers run at once: `bonus-engine expire` processes, the sweep function in a loop,
and the periodic sweep inside both workers of `serve`.

Every confirm asks for a few points, and points are spent from the lots that expire first, so the
redemptions drain exactly the lots that are about to expire, up to the moment they do. Afterwards: no
point spent twice (no lot below zero, no debt, every lot's moves add up), one expiry entry per lot at
most, dated at the lot's expiry, nothing past expiry left unswept or counted as available, and a
clean audit.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import httpx

from app.accounts.expiry import sweep
from app.core.db import Database
from app.core.settings import Settings
from tests.conftest import Servers
from tests.load import Answer, sql, timed
from tests.programs import program
from tests.support import ADMIN_KEY, start_service

PROGRAM = program(pending_days=0, expire_days=1, max_redeem_percent=50)  # 3 % accrual, lots live one day
CARDS = 8
SOON = 4  # lots per card that expire during the race, 1.5 s apart
REDEEM = 300


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=3))).replace(microsecond=0).isoformat()


def lot_receipt(number: str, issued_at: datetime, amount: int) -> dict[str, object]:
    """A receipt whose accrual lot (3 % of `amount`) expires one day after `issued_at`."""
    return {"receipt_id": f"lot-{secrets.token_hex(5)}", "store_id": "s1", "issued_at": iso(issued_at),
            "card": number, "lines": [{"line_id": "1", "sku": "BOOT", "quantity": "1", "price": amount,
                                       "amount": amount}]}


def test_expiry_sweeps_race_redemptions_without_double_spending(servers: Servers) -> None:
    database_url = servers.new_database()
    service = start_service(database_url, servers.redis_url, f"t{servers.run_id}exp:", PROGRAM,
                            {"BONUS_ENGINE_EXPIRE_INTERVAL_S": "1"}, workers=2)
    stop = threading.Event()
    try:
        time.sleep(0.6)  # the second worker finds the program by polling
        client = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        cards = [f"29{secrets.randbelow(10**11):011d}" for _ in range(CARDS)]
        long_ago = datetime.now(UTC) - timedelta(days=3)
        for number in cards:
            assert client.post("/v1/accounts", json={"card": number}).status_code == 201
            for _ in range(2):  # lots that were already past expiry when they were written
                assert client.post("/v1/receipts", json=lot_receipt(number, long_ago, 500000)).status_code == 201
            answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": 20000, "reason": "test"})
            assert answer.status_code == 201, answer.text
        # lots of 30,000 points that expire 3, 4.5, 6 and 7.5 s from now (a second apart per card)
        base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        last_expiry = base
        for i, number in enumerate(cards):
            for j in range(SOON):
                expires = base + timedelta(seconds=1.5 * j + (i % 2))
                last_expiry = max(last_expiry, expires)
                body = lot_receipt(number, expires - timedelta(days=1), 1000000)
                assert client.post("/v1/receipts", json=body).status_code == 201

        answers: list[Answer] = []
        sweeps = {"function": 0, "cli": 0, "expired_by_function": 0, "expired_by_cli": 0}
        failures: list[BaseException] = []

        def confirms(index: int) -> None:
            try:
                with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                  timeout=30) as own:
                    n = 0
                    while not stop.is_set():
                        n += 1
                        body = {"receipt_id": f"spend-{index}-{n}", "store_id": "s1",
                                "issued_at": iso(datetime.now(UTC) - timedelta(seconds=5)),
                                "card": cards[(index + n) % CARDS], "redeem_points": REDEEM,
                                "lines": [{"line_id": "1", "sku": "SOCK", "quantity": "1", "price": 40000,
                                           "amount": 40000}]}
                        answers.append(timed(own, "POST", "/v1/receipts", body, "confirm"))
            except BaseException as error:
                failures.append(error)

        def sweep_function() -> None:
            async def loop() -> None:
                db = Database(Settings(DATABASE_URL=database_url, db_pool_max=2))
                await db.connect()
                try:
                    while not stop.is_set():
                        sweeps["expired_by_function"] += await sweep(db, datetime.now(UTC))
                        sweeps["function"] += 1
                        await asyncio.sleep(0.05)
                finally:
                    await db.close()

            try:
                asyncio.run(loop())
            except BaseException as error:
                failures.append(error)

        def sweep_cli() -> None:
            try:
                while not stop.is_set():
                    done = service.cli("expire")
                    assert done.returncode == 0, done.stderr
                    sweeps["expired_by_cli"] += int(done.stdout.split()[1])  # "expired N lots"
                    sweeps["cli"] += 1
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=confirms, args=(i,), daemon=True) for i in range(8)]
        threads += [threading.Thread(target=sweep_function, daemon=True),
                    threading.Thread(target=sweep_cli, daemon=True)]
        for thread in threads:
            thread.start()
        while datetime.now(UTC) < last_expiry + timedelta(seconds=1.5) and not failures:
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not failures, failures[0]
        assert not any(t.is_alive() for t in threads)

        # every confirm went through and got the points it asked for (there were always enough)
        assert answers and all(a.status == 201 for a in answers), [a for a in answers if a.status != 201][:3]
        assert all(a.body["totals"]["points_redeemed"] == REDEEM for a in answers)

        # nothing past expiry is counted as available, whether the sweep has reached it yet or not
        now = datetime.now(UTC)
        live = {r["card"]: r["points"] for r in sql(database_url, """
            SELECT a.card, coalesce(sum(l.remaining) FILTER (WHERE l.expires_at > $1), 0) - a.debt AS points
            FROM accounts a LEFT JOIN lots l ON l.account_id = a.id GROUP BY a.id""", now)}
        for number in cards:
            points = client.get(f"/v1/accounts/{number}").json()["points"]
            assert (points["available"], points["pending"]) == (live[number], 0), (number, points, live[number])

        final = service.cli("expire")  # one more sweep: whatever is past expiry now goes
        assert final.returncode == 0, final.stderr
        again = service.cli("expire")  # and a second one finds nothing: idempotent
        assert again.stdout.strip() == "expired 0 lots", again.stdout

        lots = sql(database_url, "SELECT id, amount, remaining, expires_at FROM lots")
        assert all(lot["remaining"] >= 0 for lot in lots), "no lot below zero"
        past = {lot["id"]: lot for lot in lots if lot["expires_at"] <= now}
        assert len(past) >= CARDS * (2 + SOON)
        assert all(lot["remaining"] == 0 for lot in past.values()), "nothing past expiry left unswept"
        assert sql(database_url, "SELECT count(*) AS n FROM accounts WHERE debt <> 0")[0]["n"] == 0
        expiries = sql(database_url, """
            SELECT m.lot_id, count(*) AS n, min(l.created_at) AS created_at, sum(m.points) AS points
            FROM ledger l JOIN lot_moves m ON m.entry_id = l.id WHERE l.kind = 'expiry' GROUP BY m.lot_id""")
        assert all(e["n"] == 1 for e in expiries), "one expiry entry per lot"
        assert all(e["lot_id"] in past and e["created_at"] == past[e["lot_id"]]["expires_at"] for e in expiries)
        # the soon-expiring lots were partly spent by the race and partly expired: both sides really met
        spent = {r["lot_id"]: -r["points"] for r in sql(database_url, """
            SELECT m.lot_id, sum(m.points) AS points FROM lot_moves m JOIN ledger l ON l.id = m.entry_id
            WHERE l.kind = 'redemption' GROUP BY m.lot_id""")}
        expired = {e["lot_id"]: -e["points"] for e in expiries}
        contested = [lot_id for lot_id in past if spent.get(lot_id) and expired.get(lot_id)]
        assert len(contested) >= CARDS, "lots spent up to their expiry and then expired"
        for lot_id in past:  # each lot: granted = spent + expired, nothing counted twice
            assert spent.get(lot_id, 0) + expired.get(lot_id, 0) == past[lot_id]["amount"], lot_id
        # and no redemption took points from a lot after it had expired
        late = sql(database_url, """
            SELECT count(*) AS n FROM lot_moves m JOIN ledger l ON l.id = m.entry_id JOIN lots lo ON lo.id = m.lot_id
            WHERE l.kind = 'redemption' AND l.created_at >= lo.expires_at""")
        assert late[0]["n"] == 0

        redeemed = sql(database_url, "SELECT coalesce(-sum(points), 0) AS n FROM ledger WHERE kind = 'redemption'")
        assert redeemed[0]["n"] == REDEEM * len(answers)
        audit = service.audit()
        assert audit.returncode == 0, audit.stdout + audit.stderr
        client.close()
        print(f"\nexpiry race: {len(answers)} confirms redeeming {REDEEM} points each over {CARDS} cards while "
              f"{sweeps['function']} in-process sweeps, {sweeps['cli']} `bonus-engine expire` runs and the "
              f"service's own 1 s sweep ran; {len(expiries)} lots expired once each ({len(contested)} of them "
              f"partly spent up to their expiry), {sweeps['expired_by_function']} expired by the function and "
              f"{sweeps['expired_by_cli']} by the CLI (the rest by serve); a second final sweep expired 0; "
              f"audit clean")
    finally:
        stop.set()
        service.stop()
