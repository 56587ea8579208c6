"""A receipt's stored lines leave out what is at its default, and read back whole."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.receipts.lines import compact, expand, stored_lines
from rules import NO_ACCOUNT, Receipt, compile_program, evaluate, load_program
from tests.programs import program
from tests.support import line, receipt

WHOLE: dict[str, Any] = {  # a line as every receipt stored it before lines were compacted
    "line_id": "1", "sku": "BOOT-1", "category": "shoes", "quantity": "2", "returned": "0",
    "sells_certificate": False, "gift_certificate": None, "certificates": {}, "refunded_certificates": {},
    "figures": {"amount": 20000, "discount": 0, "points_redeemed": 0, "gift_certificates": 0,
                "accrual_points": 600, "bonus_points": 0},
    "refunded": {},
}


def test_a_line_stored_whole_reads_the_same_and_is_stored_compact() -> None:
    assert expand(WHOLE) == WHOLE
    assert compact(WHOLE) == {"line_id": "1", "sku": "BOOT-1", "category": "shoes", "quantity": "2",
                              "figures": {"amount": 20000, "discount": 0, "accrual_points": 600}}
    assert expand(compact(WHOLE)) == WHOLE


def test_a_refunded_certificate_line_keeps_what_is_not_at_its_default() -> None:
    refunded = {**WHOLE, "category": None, "returned": "1", "sells_certificate": True, "gift_certificate": "GC-1",
                "certificates": {"GC-9": 500}, "refunded_certificates": {"GC-9": 250},
                "refunded": {"amount": 10000, "discount": 0}}
    stored = compact(refunded)
    assert "category" not in stored and stored["returned"] == "1" and stored["refunded"] == refunded["refunded"]
    assert expand(stored) == refunded


def test_defaults_put_back_are_copies() -> None:
    first, second = expand(compact(WHOLE)), expand(compact(WHOLE))
    first["refunded"]["amount"] = 1
    assert second["refunded"] == {}


def test_confirm_stores_compact_lines_that_expand_to_every_figure() -> None:
    compiled = compile_program(load_program(program(), "yaml"), 1)
    body = Receipt.model_validate(receipt([line("1", 30000, category="shoes"), line("2", 5000)], "c1"))
    outcome = evaluate(body, NO_ACCOUNT, compiled, datetime.now(UTC))
    stored = stored_lines(body, outcome)
    assert [set(s) for s in stored] == [{"line_id", "sku", "category", "quantity", "figures"},
                                        {"line_id", "sku", "quantity", "figures"}]
    for document, result in zip(stored, outcome.lines, strict=True):
        assert expand(document)["figures"] == {
            "amount": result.amount, "discount": result.discount, "points_redeemed": result.points_redeemed,
            "gift_certificates": result.gift_certificates, "accrual_points": result.accrual_points,
            "bonus_points": result.bonus_points}
