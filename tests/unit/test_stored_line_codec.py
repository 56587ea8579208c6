"""`StoredLine` reads every shape of stored line rows hold today and writes it back as it was stored."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.receipts.lines import StoredLine, stored_lines
from rules import NO_ACCOUNT, Receipt, compile_program, evaluate, load_program
from tests.programs import program
from tests.support import line, receipt

# lines as rows hold them, written out: confirm's compact form, a refunded one, and older forms
STORED: dict[str, dict[str, Any]] = {
    "confirmed, compact": {"line_id": "1", "sku": "BOOT-1", "quantity": "2", "category": "shoes",
                           "figures": {"amount": 20000, "discount": 0, "accrual_points": 600}},
    "sells a certificate, paid with another": {
        "line_id": "2", "sku": "GC", "quantity": "1", "sells_certificate": True, "gift_certificate": "GC-1",
        "certificates": {"GC-9": 500}, "figures": {"amount": 5000, "discount": 0, "gift_certificates": 500}},
    "partly refunded": {
        "line_id": "3", "sku": "TEA", "quantity": "2.5", "returned": "1", "certificates": {"GC-9": 500},
        "refunded_certificates": {"GC-9": 200},
        "refunded": {"amount": 400, "discount": 40, "points_redeemed": 0, "gift_certificates": 200,
                     "accrual_points": 12, "bonus_points": 0},
        "figures": {"amount": 1000, "discount": 100, "gift_certificates": 500, "accrual_points": 30}},
}
BEFORE_SKUS = {  # a line stored whole, before SKUs and categories were kept
    "line_id": "1", "quantity": "1", "returned": "0", "sells_certificate": False,
    "figures": {"amount": 700, "discount": 0, "points_redeemed": 0, "gift_certificates": 0,
                "accrual_points": 7, "bonus_points": 0},
    "refunded": {},
}


@pytest.mark.parametrize("name", STORED)
def test_a_stored_line_reads_back_and_is_stored_the_same(name: str) -> None:
    assert StoredLine.from_json(STORED[name]).to_json() == STORED[name]


def test_a_read_line_has_every_figure_and_what_is_left() -> None:
    line = StoredLine.from_json(STORED["partly refunded"])
    assert line.figures == {"amount": 1000, "discount": 100, "points_redeemed": 0, "gift_certificates": 500,
                            "accrual_points": 30, "bonus_points": 0}
    assert line.left == Decimal("1.5") and line.category is None and not line.sells_certificate


def test_a_line_stored_before_skus_reads_and_is_stored_compact_without_one() -> None:
    line = StoredLine.from_json(BEFORE_SKUS)
    assert line.sku is None and line.returned == "0" and line.refunded == {}
    assert line.to_json() == {"line_id": "1", "quantity": "1",
                              "figures": {"amount": 700, "discount": 0, "accrual_points": 7}}


def test_reading_copies_the_document() -> None:
    document = STORED["partly refunded"]
    line = StoredLine.from_json(document)
    line.refunded["amount"] = 1
    line.certificates["GC-9"] = 1
    assert document["refunded"]["amount"] == 400 and document["certificates"] == {"GC-9": 500}


def test_confirm_writes_the_documents_stored_line_writes() -> None:
    """`stored_lines` writes confirm's documents straight, without a `StoredLine` each: the two agree."""
    compiled = compile_program(load_program(program(), "yaml"), 1)
    body = Receipt.model_validate(receipt(
        [line("1", 30000, "2", category="shoes"), line("2", 5000, gift_certificate="GC-1"), line("3", 0)], "c1"))
    stored = stored_lines(body, evaluate(body, NO_ACCOUNT, compiled, datetime.now(UTC)))
    assert stored[1]["sells_certificate"] is True and stored[1]["gift_certificate"] == "GC-1"
    for document in stored:
        assert StoredLine.from_json(document).to_json() == document
