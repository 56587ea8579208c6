"""Migration 0004 on a database that holds data: accounts with cards, receipts with and without one, coupon
uses (of an account and cardless), refunds, a cancel, a blocked card and a certificate payment.

The data is made through the service at head and taken down to 0002 by 0004's downgrade, which must give
exactly the schema a fresh 0002 has (so the data is 0002 data: e.g. no coupon codes in receipts' links).
Upgrading again must give exactly a fresh head's schema, and keep every account, card and receipt
reachable through the API as it was, every replay and refund working, and the audit clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from app.core.migrations import downgrade, upgrade
from app.receipts.repository import cardless_owner
from tests.conftest import Servers
from tests.load import sql
from tests.programs import program
from tests.support import Service, account, card, confirm, ledger, line, receipt, register, start_service

COUPONS = [
    {"id": "winter10", "name": "WINTER10", "type": "coupon", "priority": 20, "code": "WINTER10", "percent": 10,
     "min_amount": 50000, "max_uses_per_account": 1},
    {"id": "open", "name": "OPEN", "type": "coupon", "priority": 21, "code": "OPEN", "amount": 1000},
]

SCHEMA = {
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
}


def schema_of(database_url: str) -> dict[str, set[tuple[Any, ...]]]:
    """Tables' columns (with types, NOT NULL and defaults), constraints and indexes, by name."""
    return {part: {tuple(row.values()) for row in sql(database_url, query)} for part, query in SCHEMA.items()}


def migrated_to(servers: Servers, revision: str) -> str:
    url = servers.empty_database()
    upgrade(url, revision)
    return url


class History:
    """Data made through the service, and what the API answered about it."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.bodies: dict[str, dict[str, Any]] = {}
        self.cards: list[str] = []

    def confirm(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies[name] = body
        return confirm(self.client, body)

    def receipt_id(self, name: str) -> str:
        return str(self.bodies[name]["receipt_id"])

    def make(self) -> None:
        client = self.client
        regular, enrolled, blocked = card(), card(), card()
        self.cards = [regular, enrolled, blocked]
        register(client, regular, phone="+79990000001")
        assert client.post(f"/v1/accounts/{regular}/adjustments",
                           json={"points": 50000, "reason": "test"}).status_code == 201
        (certificate,) = client.post("/v1/gift-certificates",
                                     json={"count": 1, "nominal": 100000, "active": True}).json()["codes"]
        self.confirm("coupon", receipt([line("1", 100000)], regular, coupons=["WINTER10"], redeem_points=10000))
        self.confirm("two lines", receipt([line("1", 50000), line("2", 30000)], regular,
                                          gift_certificates=[{"code": certificate, "amount": 20000}]))
        self.confirm("enrolled", receipt([line("1", 30000)], enrolled))
        self.confirm("cancelled", receipt([line("1", 40000)], enrolled))
        self.confirm("cardless", receipt([line("1", 20000)]))
        self.confirm("cardless coupon", receipt([line("1", 20000)], coupons=["OPEN"]))
        register(client, blocked)
        assert client.post(f"/v1/accounts/{blocked}/block").status_code == 200
        self.confirm("blocked", receipt([line("1", 60000)], blocked))
        refund = {"refund_id": "p1", "lines": [{"line_id": "2", "quantity": "1"}]}
        assert client.post(f"/v1/receipts/{self.receipt_id('two lines')}/refunds", json=refund).status_code == 201
        assert client.post(f"/v1/receipts/{self.receipt_id('cancelled')}/cancel").status_code == 200

    def answers(self, client: httpx.Client) -> dict[str, Any]:
        """Every account, its ledger and every receipt as the API shows them."""
        answers: dict[str, Any] = {}
        for number in self.cards:
            answers[f"account {number}"] = account(client, number)
            answers[f"ledger {number}"] = ledger(client, number)
        for name in self.bodies:
            found = client.get(f"/v1/receipts/{self.receipt_id(name)}")
            assert found.status_code == 200, found.text
            answers[f"receipt {name}"] = found.json()
        return answers


def service_on(servers: Servers, database_url: str, name: str) -> Service:
    return start_service(database_url, servers.redis_url, f"t{servers.run_id}{name}:", "", {})


def test_0004_keeps_data_made_at_0002_reachable(servers: Servers, make_service: Callable[..., Service]) -> None:
    before = make_service(program(pending_days=0, campaigns=COUPONS))
    history = History(before.client())
    history.make()
    answers = history.answers(before.client())
    assert before.audit().returncode == 0
    before.stop()
    url = before.database_url

    downgrade(url, "0002")
    assert schema_of(url) == schema_of(migrated_to(servers, "0002"))
    assert sql(url, "SELECT count(*) AS n FROM receipts WHERE links ? 'coupons'")[0]["n"] == 0

    upgrade(url)
    assert schema_of(url) == schema_of(servers.new_database())
    assert_keyed(url, receipts=len(history.bodies))

    after = service_on(servers, url, "migrated")  # a Redis prefix of its own: every answer from PostgreSQL
    try:
        client = after.client()
        assert history.answers(client) == answers
        assert after.audit().returncode == 0, after.audit().stdout
        assert_still_idempotent(client, history)
        assert_refunds_still_reverse(client, history)
        assert_cards_still_unique(client, history)
        audit = after.audit()
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        after.stop()


def assert_keyed(url: str, receipts: int) -> None:
    """Every account has its card row; every receipt its claim, under its owner."""
    assert sql(url, "SELECT count(*) AS n FROM accounts a JOIN cards c ON c.card = a.card AND c.account_id = a.id"
               ) == sql(url, "SELECT count(*) AS n FROM accounts")
    claimed = sql(url, "SELECT r.receipt_id, r.owner_id, r.account_id, c.owner_id AS claimed"
                       " FROM receipts r JOIN receipt_claims c USING (receipt_id)")
    assert len(claimed) == sql(url, "SELECT count(*) AS n FROM receipts")[0]["n"] == receipts
    for row in claimed:
        owner = row["account_id"] if row["account_id"] is not None else cardless_owner(row["receipt_id"])
        assert row["owner_id"] == row["claimed"] == owner, row  # the migration's SQL hash is the service's
    assert sql(url, "SELECT count(*) AS n FROM refunds r JOIN receipts USING (owner_id, receipt_id)")[0]["n"] == 2


def assert_still_idempotent(client: httpx.Client, history: History) -> None:
    for name, body in history.bodies.items():
        again = client.post("/v1/receipts", json=body)
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true", (name, again.text)
        assert again.json() == client.get(f"/v1/receipts/{body['receipt_id']}").json()
        other = client.post("/v1/receipts", json={**body, "store_id": "s99"})
        assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict", other.text


def assert_refunds_still_reverse(client: httpx.Client, history: History) -> None:
    """A receipt confirmed before the migration refunds in full, and its coupon uses are released: by the
    codes the migration wrote into its links."""
    assert client.get("/v1/coupons/WINTER10").json()["uses"] == 1
    assert client.get("/v1/coupons/OPEN").json()["uses"] == 1
    for name in ("coupon", "cardless coupon", "two lines"):
        answer = client.post(f"/v1/receipts/{history.receipt_id(name)}/cancel")
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text
    assert client.get("/v1/coupons/WINTER10").json()["uses"] == 0
    assert client.get("/v1/coupons/OPEN").json()["uses"] == 0
    regular = history.cards[0]
    again = confirm(client, receipt([line("1", 100000)], regular, coupons=["WINTER10"]))
    assert again["coupons"] == [{"code": "WINTER10", "status": "applied"}]


def assert_cards_still_unique(client: httpx.Client, history: History) -> None:
    regular = history.cards[0]
    replay = client.post("/v1/accounts", json={"card": regular, "phone": "+79990000001"})
    assert replay.status_code == 200, replay.text
    other = client.post("/v1/accounts", json={"card": regular, "phone": "+79990000002"})
    assert other.status_code == 409 and other.json()["code"] == "account_exists", other.text


LZ4_PROBE = ("DO $$ BEGIN CREATE TEMP TABLE lz4_probe (x text COMPRESSION lz4);"
             " EXCEPTION WHEN feature_not_supported THEN NULL; END $$")


def test_receipt_documents_use_lz4_where_the_server_has_it(servers: Servers) -> None:
    """Migration 0005: lz4 on a server built with it (the machine's PostgreSQL 15), pglz (the default,
    shown as no method) on one without (the embedded PostgreSQL); the migration goes through on both."""
    database_url = servers.new_database()

    async def probe() -> bool:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(LZ4_PROBE)
            return bool(await conn.fetchval("SELECT to_regclass('pg_temp.lz4_probe') IS NOT NULL"))
        finally:
            await conn.close()

    has_lz4 = asyncio.run(probe())
    methods = {(row["table"], row["column"]): row["method"] for row in sql(
        database_url,
        "SELECT attrelid::regclass::text AS table, attname AS column, attcompression::text AS method"
        " FROM pg_attribute WHERE attrelid IN ('receipts'::regclass, 'refunds'::regclass)"
        " AND attname IN ('lines', 'links', 'result', 'refund')",
    )}
    expected = "l" if has_lz4 else ""
    assert methods == {("receipts", "lines"): expected, ("receipts", "links"): expected,
                       ("receipts", "result"): expected, ("refunds", "refund"): expected}


def test_0013_adds_author_and_note_and_the_marketer_role(servers: Servers) -> None:
    """Versions saved before 0013 have no author nor note; marketer keys exist from 0013 on and go with a
    downgrade (the older check does not know the role); up, down and up again give a fresh head's schema."""
    url = migrated_to(servers, "0012")
    sql(url, "INSERT INTO programs (version, document) VALUES (1, '{\"tiers\": {}}')")
    upgrade(url, "0013")
    assert sql(url, "SELECT version, author, note FROM programs") == [{"version": 1, "author": None, "note": None}]
    sql(url, "INSERT INTO api_keys (key_hash, role) VALUES ('\\x01', 'marketer'), ('\\x02', 'pos')")
    downgrade(url, "0012")
    assert schema_of(url) == schema_of(migrated_to(servers, "0012"))
    assert [row["role"] for row in sql(url, "SELECT role FROM api_keys")] == ["pos"]
    upgrade(url)
    assert schema_of(url) == schema_of(servers.new_database())
