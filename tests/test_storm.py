"""A storm: thousands of receipts over many cards, 20 % sent twice, refunds and cancels racing their
receipts, the whole stream shuffled and sent by many concurrent clients to a two-worker service; then
every receipt, refund and card is checked against a sequential replay through the pure `rules` engine.

CI runs 1,500 receipts over 100 cards; the full storm is

    BONUS_STORM_RECEIPTS=10000 BONUS_STORM_CARDS=500 pytest tests/test_storm.py -s

The program is chosen so that the replay is exact without a clock: points are available at once
(`pending_days: 0`) and expire after a year (nothing expires during the test), so an account's available
points are the sum of its ledger. Everything else is live: three tiers that cards climb during the
storm (the tier earning on a receipt depends on the receipts confirmed before it), a receipt discount,
a receipt bonus, a welcome bonus at auto-enrolment, and redemption up to 30 %. The order in which the
service applied a card's operations is its ledger order (each operation writes its entries under the
account's row lock), so the replay follows that order; it then has to reproduce every answer.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import orjson

from rules import REVERSIBLE, AccountState, Receipt, compile_program, evaluate, load_program, refund_share
from tests.conftest import Servers
from tests.load import sql
from tests.programs import program
from tests.support import ADMIN_KEY, start_service

RECEIPTS = int(os.environ.get("BONUS_STORM_RECEIPTS", "1500"))
CARDS = int(os.environ.get("BONUS_STORM_CARDS", "100"))
CLIENTS = int(os.environ.get("BONUS_STORM_CLIENTS", "24"))
DUPLICATES = 0.20  # of receipts sent twice
DEADLINE_S = 60 + RECEIPTS / 20  # the storm must be over by then
WELCOME = 5000
WINDOW_DAYS = 365

PROGRAM = program(
    pending_days=0, expire_days=365, rounding="minor", max_redeem_percent=30, window_days=WINDOW_DAYS,
    levels=[{"id": "base", "min_purchases": 0, "accrual_percent": 3},
            {"id": "silver", "min_purchases": 500000, "accrual_percent": 5},
            {"id": "gold", "min_purchases": 2000000, "accrual_percent": 7}],
    campaigns=[
        {"id": "welcome", "name": "Welcome", "type": "bonus", "priority": 1, "trigger": "registration",
         "points": WELCOME, "expire_days": 60},
        {"id": "shoes-5", "name": "Shoes: 5% from 1,000", "type": "receipt_discount", "priority": 10,
         "items": {"categories": ["shoes"]}, "thresholds": [{"min_amount": 100000, "percent": 5}]},
        {"id": "big-bonus", "name": "100 points from 3,000", "type": "bonus", "priority": 60,
         "trigger": "receipt", "min_amount": 300000, "points": 10000, "expire_days": 90},
    ],
)


# --- the stream -------------------------------------------------------------------------------------


@dataclass
class Op:
    kind: str  # confirm | refund | cancel
    receipt_id: str
    body: dict[str, Any] | None = None
    refund_id: str | None = None
    not_before: float = 0.0
    attempts: int = 0
    early: bool = False  # answered 404 receipt_not_found first: it overtook its receipt
    status: int | None = None
    answer: Any = None


def make_stream(rng: random.Random, cards: list[str]) -> tuple[list[Op], dict[str, dict[str, Any]]]:
    """Receipts (20 % twice) plus partial refunds, full refunds and cancels for some of them, shuffled."""
    offset = timezone(timedelta(hours=3))
    now = datetime.now(UTC)
    bodies: dict[str, dict[str, Any]] = {}
    ops: list[Op] = []
    for n in range(RECEIPTS):
        receipt_id = f"storm-{n:05d}-{rng.randrange(16**4):04x}"
        quantity = rng.randint(2, 4)
        price = rng.randrange(10000, 60000, 100)
        lines = [{"line_id": "1", "sku": f"SHOE-{rng.randrange(50)}", "category": "shoes/winter",
                  "quantity": str(quantity), "price": price, "amount": price * quantity}]
        for extra in range(rng.randint(0, 2)):
            amount = rng.randrange(5000, 40000, 100)
            lines.append({"line_id": str(extra + 2), "sku": f"CARE-{rng.randrange(20)}", "category": "care",
                          "quantity": "1", "price": amount, "amount": amount})
        issued = now - timedelta(seconds=rng.randrange(60, 3 * 3600))
        body = {"receipt_id": receipt_id, "store_id": f"s{rng.randrange(1, 6)}", "terminal_id": "p1",
                "issued_at": issued.astimezone(offset).replace(microsecond=0).isoformat(),
                "card": rng.choice(cards), "lines": lines}
        if rng.random() < 0.5:
            body["redeem_points"] = rng.randrange(1000, 30000, 100)
        bodies[receipt_id] = body
        ops.append(Op("confirm", receipt_id, body))
        if rng.random() < DUPLICATES:
            ops.append(Op("confirm", receipt_id, body))
        roll = rng.random()
        if roll < 0.15:  # one unit of the shoes back, sometimes followed (or preceded) by a cancel
            ops.append(Op("refund", receipt_id, {"refund_id": "part", "lines": [{"line_id": "1", "quantity": "1"}]},
                          "part"))
            if rng.random() < 0.3:
                ops.append(Op("cancel", receipt_id))
        elif roll < 0.22:
            ops.append(Op("cancel", receipt_id))
        elif roll < 0.27:  # everything back, racing a partial refund
            ops.append(Op("refund", receipt_id, {"refund_id": "all"}, "all"))
            if rng.random() < 0.5:
                ops.append(Op("refund", receipt_id,
                              {"refund_id": "part", "lines": [{"line_id": "1", "quantity": "1"}]}, "part"))
    for op in [o for o in ops if o.kind != "confirm" and rng.random() < DUPLICATES]:
        ops.append(Op(op.kind, op.receipt_id, op.body, op.refund_id))  # refunds and cancels repeated too
    rng.shuffle(ops)
    return ops, bodies


class Storm:
    """CLIENTS threads take operations from one shuffled queue. A refund or cancel that overtook its
    receipt (404 receipt_not_found) goes back to the end of the queue; a 503 is retried after a pause."""

    def __init__(self, url: str, ops: list[Op]):
        self.url = url
        self.queue = deque(ops)
        self.cond = threading.Condition()
        self.in_flight = 0
        self.requests = 0
        self.failures: list[BaseException] = []

    def run(self) -> float:
        started = time.monotonic()
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(1.0, DEADLINE_S - (time.monotonic() - started)))
        assert not any(t.is_alive() for t in threads), f"the storm did not end in {DEADLINE_S} s"
        if self.failures:
            raise self.failures[0]
        return time.monotonic() - started

    def _take(self) -> Op | None:
        with self.cond:
            while not self.queue:
                if self.in_flight == 0 or self.failures:
                    return None
                self.cond.wait(0.1)
            self.in_flight += 1
            return self.queue.popleft()

    def _done(self, op: Op | None) -> None:
        with self.cond:
            self.in_flight -= 1
            if op is not None:
                self.queue.append(op)
            self.cond.notify_all()

    def _client(self) -> None:
        try:
            with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                              timeout=30) as client:
                while (op := self._take()) is not None:
                    self._done(self._send(client, op))
        except BaseException as error:
            with self.cond:
                self.failures.append(error)
                self.in_flight -= 1
                self.cond.notify_all()

    def _send(self, client: httpx.Client, op: Op) -> Op | None:
        """Send once; returns the op when it must be sent again later."""
        if op.not_before > time.monotonic():
            time.sleep(op.not_before - time.monotonic())
        op.attempts += 1
        self.requests += 1
        if op.attempts > 200:
            raise AssertionError(f"{op.kind} {op.receipt_id} never settled: {op.status} {op.answer}")
        if op.kind == "confirm":
            answer = client.post("/v1/receipts", json=op.body)
        elif op.kind == "refund":
            answer = client.post(f"/v1/receipts/{op.receipt_id}/refunds", json=op.body)
        else:
            answer = client.post(f"/v1/receipts/{op.receipt_id}/cancel")
        op.status, op.answer = answer.status_code, answer.json()
        code = op.answer.get("code") if isinstance(op.answer, dict) else None
        if answer.status_code == 404 and code == "receipt_not_found" and op.kind != "confirm":
            op.early = True
            op.not_before = time.monotonic() + 0.02
            return op
        if answer.status_code == 503:
            op.not_before = time.monotonic() + 0.2
            return op
        expected = {"confirm": (200, 201), "refund": (200, 201, 409), "cancel": (200,)}[op.kind]
        assert answer.status_code in expected, (op.kind, op.receipt_id, answer.status_code, answer.text)
        if answer.status_code == 409:
            assert code == "refund_exceeds_receipt", answer.text
        return None


# --- the model ----------------------------------------------------------------------------------------


@dataclass
class ModelLine:
    quantity: Decimal
    figures: dict[str, int]
    returned: Decimal = Decimal(0)
    refunded: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelReceipt:
    issued_at: datetime
    purchase: int
    lines: dict[str, ModelLine]
    totals: dict[str, int]
    tier_applied: str | None
    refunded_purchase: int = 0
    status: str = "confirmed"


@dataclass
class ModelCard:
    balance: int = 0
    receipts: dict[str, ModelReceipt] = field(default_factory=dict)

    def facts(self, at: datetime) -> tuple[int, datetime | None, datetime | None]:
        """Tier purchases in [at - window, at] and the first and last purchase up to `at` (as the service's
        purchase_facts: receipts confirmed before, not cancelled or fully refunded)."""
        live = [r for r in self.receipts.values()
                if r.status in ("confirmed", "partially_refunded") and r.issued_at <= at]
        since = at - timedelta(days=WINDOW_DAYS)
        purchases = sum(r.purchase - r.refunded_purchase for r in live if r.issued_at >= since)
        dates = [r.issued_at for r in live]
        return purchases, min(dates, default=None), max(dates, default=None)


class Model:
    def __init__(self) -> None:
        self.program = compile_program(load_program(PROGRAM, "yaml"), 1)
        self.cards: dict[str, ModelCard] = {}
        self.refunds: dict[tuple[str, str], dict[str, int]] = {}

    def register(self, card: str) -> None:
        assert card not in self.cards, f"{card} enrolled twice"
        self.cards[card] = ModelCard(balance=WELCOME)

    def confirm(self, body: dict[str, Any], now: datetime) -> None:
        receipt = Receipt.model_validate_json(orjson.dumps(body))
        card = self.cards[body["card"]]
        purchases, first, last = card.facts(receipt.issued_at)
        state = AccountState("ok", purchases, first, last, card.balance)
        outcome = evaluate(receipt, state, self.program, now)
        totals = {name: outcome.total(name) for name in ("amount", "discount", "points_redeemed", "points_accrued")}
        granted = outcome.total("accrual_points") + sum(g.points for g in outcome.bonus_grants)
        assert granted == totals["points_accrued"]
        card.balance += totals["points_accrued"] - totals["points_redeemed"]
        lines = {
            line.line_id: ModelLine(line.quantity, {
                "amount": result.amount, "discount": result.discount, "points_redeemed": result.points_redeemed,
                "gift_certificates": result.gift_certificates, "accrual_points": result.accrual_points,
                "bonus_points": result.bonus_points})
            for line, result in zip(receipt.lines, outcome.lines, strict=True)
        }
        card.receipts[receipt.receipt_id] = ModelReceipt(receipt.issued_at, outcome.purchase_amount, lines, totals,
                                                         outcome.tier_applied)

    def refund(self, card_number: str, receipt_id: str, refund_id: str | None, wanted: dict[str, Decimal] | None
               ) -> None:
        """A refund (`wanted` None: everything left) or, with refund_id None, a cancel."""
        card = self.cards[card_number]
        receipt = card.receipts[receipt_id]
        assert receipt.status in ("confirmed", "partially_refunded"), (receipt_id, refund_id, receipt.status)
        shares = []
        for line_id, line in receipt.lines.items():
            left = line.quantity - line.returned
            quantity = left if wanted is None else wanted.get(line_id, Decimal(0))
            if quantity <= 0:
                continue
            assert quantity <= left, (receipt_id, refund_id, line_id)
            share = refund_share(line.figures, line.refunded, line.quantity, line.returned, quantity)
            line.returned += quantity
            line.refunded = {name: line.refunded.get(name, 0) + share[name] for name in REVERSIBLE}
            shares.append(share)
        assert shares, (receipt_id, refund_id)
        reversed_points = sum(s["accrual_points"] + s["bonus_points"] for s in shares)
        returned_points = sum(s["points_redeemed"] for s in shares)
        card.balance += returned_points - reversed_points
        receipt.refunded_purchase += sum(s["amount"] - s["discount"] for s in shares)
        everything = all(line.returned == line.quantity for line in receipt.lines.values())
        receipt.status = "cancelled" if refund_id is None else ("refunded" if everything else "partially_refunded")
        if refund_id is not None:
            self.refunds[(receipt_id, refund_id)] = {
                "amount": sum(s["amount"] for s in shares), "discount": sum(s["discount"] for s in shares),
                "points_redeemed": returned_points, "points_accrued": reversed_points}


def replay(database_url: str, bodies: dict[str, dict[str, Any]], now: datetime) -> Model:
    """Apply every operation the ledger shows, card by card, in the order the service applied them."""
    entries = sql(database_url, "SELECT l.id, a.card, l.kind, l.points, l.receipt_id, l.refund_id, l.reason"
                                " FROM ledger l JOIN accounts a ON a.id = l.account_id ORDER BY l.id")
    operations: dict[tuple[str, str | None, str], tuple[int, str]] = {}  # key -> (first entry id, card)
    for e in entries:
        if e["receipt_id"] is None:
            assert e["kind"] == "bonus" and e["reason"] == "registration: welcome" and e["points"] == WELCOME, e
            key = ("register", None, e["card"])
        elif e["refund_id"] is not None:
            key = ("refund", e["refund_id"], e["receipt_id"])
        elif e["kind"] in ("accrual_reversal", "redemption_return"):
            assert e["reason"] == "cancel", e
            key = ("cancel", None, e["receipt_id"])
        else:
            assert e["kind"] in ("accrual", "redemption", "bonus"), e
            key = ("confirm", None, e["receipt_id"])
        operations.setdefault(key, (e["id"], e["card"]))
    model = Model()
    for (kind, refund_id, subject), (_, card) in sorted(operations.items(), key=lambda item: item[1][0]):
        if kind == "register":
            model.register(card)
        elif kind == "confirm":
            assert bodies[subject]["card"] == card
            model.confirm(bodies[subject], now)
        elif kind == "cancel":
            model.refund(card, subject, None, None)
        else:
            wanted = None if refund_id == "all" else {"1": Decimal(1)}
            model.refund(card, subject, refund_id, wanted)
    return model


# --- the test -------------------------------------------------------------------------------------------


def test_a_storm_of_receipts_matches_a_sequential_replay(servers: Servers) -> None:
    rng = random.Random(int(os.environ.get("BONUS_STORM_SEED", "20261127")))
    cards = [f"29{rng.randrange(10**11):011d}" for _ in range(CARDS)]
    ops, bodies = make_stream(rng, cards)
    database_url = servers.new_database()
    service = start_service(database_url, servers.redis_url, f"t{servers.run_id}storm:", PROGRAM, {}, workers=2)
    try:
        time.sleep(0.6)  # the second worker finds the program by polling
        storm = Storm(service.url, ops)
        took = storm.run()
        now = datetime.now(UTC)

        model = replay(database_url, bodies, now)
        # every receipt was confirmed once, and every answer (first or replayed) is the model's
        confirms = [op for op in ops if op.kind == "confirm"]
        assert {op.receipt_id for op in confirms} == set(bodies)
        applied = {rid for card in model.cards.values() for rid in card.receipts}
        assert applied == set(bodies), "every receipt applied exactly once"
        by_receipt = {rid: card.receipts[rid] for card in model.cards.values() for rid in card.receipts}
        for op in confirms:
            expected = by_receipt[op.receipt_id]
            got = {name: op.answer["totals"][name] for name in expected.totals}
            assert got == expected.totals, (op.receipt_id, got, expected.totals)
            assert op.answer["account"]["tier_applied"] == expected.tier_applied, op.receipt_id
        assert sorted(op.status for op in confirms).count(201) == len(bodies)
        # refunds: what each reversed is the model's; those refused came after a cancel or a full refund
        for op in ops:
            if op.kind == "refund" and op.status in (200, 201):
                expected_refund = model.refunds[(op.receipt_id, op.refund_id or "")]
                got = {name: op.answer["refund"]["totals"][name] for name in expected_refund}
                assert got == expected_refund, (op.receipt_id, op.refund_id, got, expected_refund)
            if op.kind == "refund" and op.status == 409:
                assert (op.receipt_id, op.refund_id) not in model.refunds
                assert by_receipt[op.receipt_id].status in ("cancelled", "refunded"), op.receipt_id
            if op.kind == "cancel":
                assert by_receipt[op.receipt_id].status in ("cancelled", "refunded"), op.receipt_id
        # every card: balance and tier purchases as the replay has them, read through the API
        assert set(model.cards) == {bodies[rid]["card"] for rid in bodies}
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
            for number, card in model.cards.items():
                account = client.get(f"/v1/accounts/{number}").json()
                assert account["points"]["pending"] == 0, account
                assert account["points"]["available"] == card.balance, (number, account["points"], card.balance)
                purchases, _, _ = card.facts(now)
                assert account["tier"]["purchases"] == purchases, (number, account["tier"], purchases)
        statuses = {r["receipt_id"]: r["status"] for r in sql(database_url, "SELECT receipt_id, status FROM receipts")}
        assert statuses == {rid: r.status for rid, r in by_receipt.items()}
        audit = service.audit()
        assert audit.returncode == 0, audit.stdout + audit.stderr

        early = [op for op in ops if op.early]
        refunds = [op for op in ops if op.kind != "confirm"]
        print(f"\nstorm: {len(bodies)} receipts over {len(model.cards)} cards, {len(confirms) - len(bodies)} "
              f"duplicates, {len(refunds)} refunds and cancels ({len(early)} overtook their receipt: 404, then "
              f"applied on retry; {sum(op.status == 409 for op in refunds)} refused 409 after a cancel or full "
              f"refund); {storm.requests} requests from {CLIENTS} clients in {took:.1f} s "
              f"({storm.requests / took:.0f}/s); every answer, balance and tier equals the sequential replay; "
              f"audit clean")
    finally:
        service.stop()
