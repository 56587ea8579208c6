"""The links the audit checks because no foreign key can hold them once tables are distributed by different
keys (migration 0004, deploy/SCALING.md section 4): each corruption below makes `bonus-engine audit` fail
with the check that guards the link, and the audit is clean again once it is undone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from tests.conftest import Servers
from tests.load import sql
from tests.programs import program
from tests.support import Service, card, confirm, line, receipt, register, start_service

WINTER10 = {"id": "winter10", "name": "WINTER10", "type": "coupon", "priority": 20, "code": "WINTER10",
            "percent": 10, "min_amount": 50000}


@dataclass(frozen=True)
class Books:
    """What the corruptions work on: a registered card with a receipt that used a coupon, and a cardless
    receipt."""

    service: Service
    card: str
    account_id: int
    coupon_receipt: str
    cardless_receipt: str

    def run(self, statement: str) -> None:
        sql(self.service.database_url, statement.format(**self.__dict__))


@pytest.fixture(scope="module")
def books(servers: Servers) -> Iterator[Books]:
    """A service of its own, stopped after this module (its pool's connections with it)."""
    service = start_service(servers.new_database(), servers.redis_url, f"t{servers.run_id}links:",
                            program(campaigns=[WINTER10]), {})
    try:
        yield made(service)
    finally:
        service.stop()


def made(service: Service) -> Books:
    client = service.client()
    number = card()
    register(client, number)
    used = confirm(client, receipt([line("1", 100000)], number, coupons=["WINTER10"]))
    assert used["coupons"] == [{"code": "WINTER10", "status": "applied"}]
    cardless = confirm(client, receipt([line("1", 1000)]))
    (account,) = sql(service.database_url, "SELECT id FROM accounts WHERE card = $1", number)
    assert failed_checks(service) == set()
    return Books(service, number, account["id"], used["receipt_id"], cardless["receipt_id"])


def failed_checks(service: Service) -> set[str]:
    audit = service.audit()
    problems = [json.loads(row) for row in audit.stdout.splitlines() if row.startswith("{")]
    assert (audit.returncode == 1) == bool(problems), audit.stdout + audit.stderr
    return {problem["check"] for problem in problems}


@dataclass(frozen=True)
class Corruption:
    check: str
    corrupt: str  # SQL; {card}, {account_id}, {coupon_receipt} and {cardless_receipt} are filled in
    undo: str


CORRUPTIONS = {
    "card row gone": Corruption(
        "account and its card row disagree",
        "DELETE FROM cards WHERE card = '{card}'",
        "INSERT INTO cards (card, account_id) VALUES ('{card}', {account_id})"),
    # accounts.card is no longer UNIQUE: the card row is what makes a card one account's
    "a second account with the card": Corruption(
        "account and its card row disagree",
        "INSERT INTO accounts (card) VALUES ('{card}')",
        "DELETE FROM accounts WHERE card = '{card}' AND id <> {account_id}"),
    "card row of no account": Corruption(
        "card row names a missing account",
        "INSERT INTO cards (card, account_id) VALUES ('x{card}', (SELECT max(id) + 1000 FROM accounts))",
        "DELETE FROM cards WHERE card = 'x{card}'"),
    "claim names another owner": Corruption(
        "receipt and its claim disagree",
        "UPDATE receipt_claims SET owner_id = owner_id - 1 WHERE receipt_id = '{cardless_receipt}'",
        "UPDATE receipt_claims SET owner_id = owner_id + 1 WHERE receipt_id = '{cardless_receipt}'"),
    "claim gone": Corruption(
        "receipt and its claim disagree",
        "DELETE FROM receipt_claims WHERE receipt_id = '{cardless_receipt}'",
        "INSERT INTO receipt_claims (receipt_id, fingerprint, issued_at, owner_id)"
        " SELECT receipt_id, fingerprint, issued_at, owner_id FROM receipts WHERE receipt_id = '{cardless_receipt}'"),
    "receipt of a missing account": Corruption(
        "receipt and its account disagree",
        "UPDATE receipts SET account_id = (SELECT max(id) + 1000 FROM accounts)"
        " WHERE receipt_id = '{cardless_receipt}'",
        "UPDATE receipts SET account_id = NULL WHERE receipt_id = '{cardless_receipt}'"),
    "coupon use of a missing receipt": Corruption(
        "coupon use and its receipt disagree",
        "UPDATE coupon_uses SET receipt_id = 'gone-{coupon_receipt}' WHERE receipt_id = '{coupon_receipt}'",
        "UPDATE coupon_uses SET receipt_id = '{coupon_receipt}' WHERE receipt_id = 'gone-{coupon_receipt}'"),
    "coupon use of another account": Corruption(
        "coupon use and its receipt disagree",
        "UPDATE coupon_uses SET account_id = NULL WHERE receipt_id = '{coupon_receipt}'",
        "UPDATE coupon_uses SET account_id = {account_id} WHERE receipt_id = '{coupon_receipt}'"),
    # a full refund releases the uses of the codes the receipt's links name
    "coupon missing from the receipt's links": Corruption(
        "coupon use and its receipt disagree",
        "UPDATE receipts SET links = links - 'coupons' WHERE receipt_id = '{coupon_receipt}'",
        "UPDATE receipts SET links = links || '{{\"coupons\": [\"WINTER10\"]}}' WHERE receipt_id = '{coupon_receipt}'"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_the_audit_finds_a_broken_link(books: Books, name: str) -> None:
    corruption = CORRUPTIONS[name]
    books.run(corruption.corrupt)
    try:
        assert corruption.check in failed_checks(books.service)
    finally:
        books.run(corruption.undo)
    assert failed_checks(books.service) == set()


def test_a_refund_still_needs_its_receipt(books: Books) -> None:
    """refunds and receipts share the owner's shard, so that link stays a foreign key (owner_id, receipt_id)."""
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        books.run("INSERT INTO refunds (owner_id, receipt_id, refund_id, fingerprint, refund)"
                  " VALUES ({account_id}, 'no-such-receipt', 'r1', '\\x00', '{{}}')")
