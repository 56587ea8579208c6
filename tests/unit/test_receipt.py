"""Receipt validation: strict money, quantities with ≤ 3 fraction digits, aware times, unique ids, codes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from rules import CertificatePayment, Line, Receipt, normalize_code

from ._helpers import ISSUED


def line(line_id: str = "1", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "line_id": line_id,
        "sku": "BOOT-123",
        "quantity": "2",
        "price": 399500,
        "amount": 799000,
    }
    data.update(fields)
    return data


def body(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "receipt_id": "s17-p3-000123",
        "store_id": "s17",
        "issued_at": ISSUED,
        "lines": [line()],
    }
    data.update(fields)
    return data


def error_locs(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        Receipt.model_validate(data)
    return [tuple(e["loc"]) for e in caught.value.errors()]


def messages(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Receipt.model_validate(data)
    return " | ".join(e["msg"] for e in caught.value.errors())


CONTRACT_EXAMPLE: dict[str, Any] = {
    "receipt_id": "s17-p3-000123",
    "store_id": "s17",
    "terminal_id": "p3",
    "channel": "pos",
    "issued_at": "2026-11-24T10:15:00+03:00",
    "card": "2900000012345",
    "lines": [
        {
            "line_id": "1",
            "sku": "BOOT-123",
            "category": "shoes/winter",
            "quantity": "2",
            "price": 399500,
            "amount": 799000,
            "no_discount": False,
            "no_accrual": False,
            "no_redeem": False,
            "min_price": 0,
        },
        {
            "line_id": "2",
            "sku": "GIFT-3000",
            "quantity": "1",
            "price": 300000,
            "amount": 300000,
            "gift_certificate": "GC7K2M9XQ4TD",
        },
    ],
    "coupons": ["WINTER10"],
    "redeem_points": 50000,
    "gift_certificates": [{"code": "GCP3N8VR2WJ6", "amount": 100000}],
}


def test_contract_example_is_valid() -> None:
    receipt = Receipt.model_validate(CONTRACT_EXAMPLE)
    assert receipt.card == "2900000012345"
    assert receipt.lines[0].quantity == Decimal(2)
    assert receipt.lines[0].category == "shoes/winter"
    assert not receipt.lines[0].sells_certificate
    assert receipt.lines[1].sells_certificate
    assert receipt.gift_certificates == [CertificatePayment(code="GCP3N8VR2WJ6", amount=100000)]
    assert receipt.issued_at.utcoffset() is not None


def test_minimal_receipt_gets_defaults() -> None:
    receipt = Receipt.model_validate(body())
    assert receipt.channel == "pos"
    assert receipt.card is None
    assert receipt.coupons == []
    assert receipt.redeem_points == 0
    assert receipt.gift_certificates == []
    first = receipt.lines[0]
    assert (first.no_discount, first.no_accrual, first.no_redeem, first.min_price) == (False, False, False, 0)
    assert first.gift_certificate is None


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        (body(colour="red"), ("colour",)),
        (body(lines=[line(discount=5)]), ("lines", 0, "discount")),
        (
            body(gift_certificates=[{"code": "GC1", "amount": 1, "pin": "0000"}]),
            ("gift_certificates", 0, "pin"),
        ),
    ],
)
def test_unknown_fields_are_rejected(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    assert loc in error_locs(data)
    assert "Extra inputs" in messages(data)


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        (body(lines=[line(amount=799000.0)]), ("lines", 0, "amount")),
        (body(lines=[line(price=399500.5)]), ("lines", 0, "price")),
        (body(lines=[line(amount="799000")]), ("lines", 0, "amount")),
        (body(lines=[line(amount=Decimal("799000"))]), ("lines", 0, "amount")),
        (body(lines=[line(min_price=1.0)]), ("lines", 0, "min_price")),
        (body(lines=[line(amount=True)]), ("lines", 0, "amount")),
        (body(lines=[line(amount=-1)]), ("lines", 0, "amount")),
        (body(redeem_points=50000.0), ("redeem_points",)),
        (body(gift_certificates=[{"code": "GC1", "amount": 100.0}]), ("gift_certificates", 0, "amount")),
    ],
)
def test_money_must_be_a_whole_non_negative_integer(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    assert loc in error_locs(data)


def test_float_money_is_rejected_in_json_too() -> None:
    text = (
        '{"receipt_id": "r", "store_id": "s", "issued_at": "2026-11-24T10:15:00+03:00",'
        ' "lines": [{"line_id": "1", "sku": "A", "quantity": 1, "price": 799000.0, "amount": 799000}]}'
    )
    with pytest.raises(ValidationError) as caught:
        Receipt.model_validate_json(text)
    assert [tuple(e["loc"]) for e in caught.value.errors()] == [("lines", 0, "price")]


@pytest.mark.parametrize(
    "quantity", ["0.3505", "1.0001", 0.0005, "1e-4", "0", "-1", "0.000", "NaN", "Infinity", "abc", True]
)
def test_bad_quantities_are_rejected(quantity: Any) -> None:
    assert ("lines", 0, "quantity") in error_locs(body(lines=[line(quantity=quantity)]))


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("2", Decimal(2)),
        ("2.000", Decimal(2)),
        (2, Decimal(2)),
        ("0.350", Decimal("0.35")),
        (0.35, Decimal("0.35")),
        (" 1.5 ", Decimal("1.5")),
        ("0.001", Decimal("0.001")),
    ],
)
def test_good_quantities(quantity: Any, value: Decimal) -> None:
    receipt = Receipt.model_validate(body(lines=[line(quantity=quantity)]))
    assert receipt.lines[0].quantity == value


def test_quantity_texts_seen_before_are_checked_alike() -> None:
    """Valid quantity texts are remembered (rules/_types.py `_known_quantity`): the same answers the second
    time, a bad text refused every time, and a number is never taken for a remembered text."""
    lines = [line(line_id=str(i), quantity=q) for i, q in enumerate(["1", "2.500", "1", "2.500"], start=1)]
    first = Receipt.model_validate(body(lines=lines))
    again = Receipt.model_validate(body(lines=lines))
    assert [ln.quantity for ln in first.lines] == [ln.quantity for ln in again.lines] == [
        Decimal(1), Decimal("2.5"), Decimal(1), Decimal("2.5")]
    for _ in range(2):
        assert ("lines", 0, "quantity") in error_locs(body(lines=[line(quantity="1.0001")]))
        assert ("lines", 0, "quantity") in error_locs(body(lines=[line(quantity=True)]))


def test_quantity_json_number_with_three_digits_is_exact() -> None:
    text = (
        '{"receipt_id": "r", "store_id": "s", "issued_at": "2026-11-24T10:15:00+03:00",'
        ' "lines": [{"line_id": "1", "sku": "A", "quantity": 0.35, "price": 1, "amount": 1}]}'
    )
    assert Receipt.model_validate_json(text).lines[0].quantity == Decimal("0.350")


def test_two_and_two_point_zero_zero_zero_are_the_same_receipt() -> None:
    a = Receipt.model_validate(body(lines=[line(quantity="2")]))
    b = Receipt.model_validate(body(lines=[line(quantity="2.000")]))
    c = Receipt.model_validate(body(lines=[line(quantity=2)]))
    assert a == b == c
    dumped = a.model_dump(mode="json")
    assert dumped == b.model_dump(mode="json") == c.model_dump(mode="json")
    assert dumped["lines"][0]["quantity"] == "2"
    assert Receipt.model_validate(dumped) == a


@pytest.mark.parametrize("issued_at", ["2026-11-24T10:15:00", "2026-11-24 10:15:00", "2026-11-24", "yesterday"])
def test_issued_at_needs_an_offset(issued_at: str) -> None:
    assert ("issued_at",) in error_locs(body(issued_at=issued_at))


@pytest.mark.parametrize(
    "issued_at", ["2026-11-24T10:15:00+03:00", "2026-11-24T07:15:00Z", "2026-11-24T02:15:00-05:00"]
)
def test_issued_at_keeps_its_own_offset(issued_at: str) -> None:
    receipt = Receipt.model_validate(body(issued_at=issued_at))
    assert receipt.issued_at.isoformat().replace("+00:00", "Z")[:19] == issued_at[:19]
    assert receipt.issued_at == Receipt.model_validate(body()).issued_at  # the same instant


def test_duplicate_line_ids_are_rejected() -> None:
    assert "line_id" in messages(body(lines=[line("1"), line("2"), line("1")]))


@pytest.mark.parametrize(
    "coupons",
    [["WINTER10", "winter10"], ["WINTER10", " WINTER10 "], ["winter10", "\tWinter10\n"], ["A", "B", "a"]],
)
def test_duplicate_coupons_after_case_folding_and_trim_are_rejected(coupons: list[str]) -> None:
    assert "twice" in messages(body(coupons=coupons))


def test_coupons_are_normalized() -> None:
    receipt = Receipt.model_validate(body(coupons=[" winter10 ", "Spring-5"]))
    assert receipt.coupons == ["WINTER10", "SPRING-5"]
    assert normalize_code("  gc7k2m9xq4td ") == "GC7K2M9XQ4TD"


@pytest.mark.parametrize("coupons", [["  "], [""], ["A", " "]])
def test_blank_coupons_are_rejected(coupons: list[str]) -> None:
    assert all(loc[0] == "coupons" for loc in error_locs(body(coupons=coupons)))


def test_line_limits() -> None:
    Receipt.model_validate(body(lines=[line(str(i)) for i in range(500)]))
    assert ("lines",) in error_locs(body(lines=[line(str(i)) for i in range(501)]))
    assert ("lines",) in error_locs(body(lines=[]))


def test_coupon_and_certificate_limits() -> None:
    Receipt.model_validate(body(coupons=[f"C{i}" for i in range(10)]))
    assert ("coupons",) in error_locs(body(coupons=[f"C{i}" for i in range(11)]))
    payments = [{"code": f"GC{i}"} for i in range(6)]
    Receipt.model_validate(body(gift_certificates=payments[:5]))
    assert ("gift_certificates",) in error_locs(body(gift_certificates=payments))


def test_certificate_codes_are_normalized_and_unique() -> None:
    receipt = Receipt.model_validate(body(gift_certificates=[{"code": " gcp3n8vr2wj6 "}]))
    assert receipt.gift_certificates[0].code == "GCP3N8VR2WJ6"
    assert receipt.gift_certificates[0].amount is None
    assert "twice" in messages(body(gift_certificates=[{"code": "gc1"}, {"code": "GC1 "}]))
    assert ("gift_certificates", 0, "code") in error_locs(body(gift_certificates=[{"code": "   "}]))


def test_certificate_sale_codes_are_normalized_and_unique() -> None:
    receipt = Receipt.model_validate(body(lines=[line(gift_certificate=" gc7k2m9xq4td")]))
    assert receipt.lines[0].gift_certificate == "GC7K2M9XQ4TD"
    sold_twice = body(lines=[line("1", gift_certificate="gc1"), line("2", gift_certificate="GC1")])
    assert "sold on two lines" in messages(sold_twice)
    pays_itself = body(lines=[line(gift_certificate="GC1")], gift_certificates=[{"code": "gc1"}])
    assert "own sale" in messages(pays_itself)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("receipt_id", "has space"),
        ("receipt_id", "x" * 65),
        ("receipt_id", ""),
        ("store_id", "s/17"),
        ("channel", "phone"),
        ("card", "29 00"),
    ],
)
def test_identifiers_and_enums(field: str, value: str) -> None:
    assert (field,) in error_locs(body(**{field: value}))


@pytest.mark.parametrize("flag", ["no_discount", "no_accrual", "no_redeem"])
@pytest.mark.parametrize("value", ["true", 1, 0, "yes"])
def test_flags_must_be_real_booleans(flag: str, value: Any) -> None:
    assert ("lines", 0, flag) in error_locs(body(lines=[line(**{flag: value})]))


def test_category_is_trimmed_of_slashes() -> None:
    receipt = Receipt.model_validate(body(lines=[line(category="shoes/winter/")]))
    assert receipt.lines[0].category == "shoes/winter"
    assert ("lines", 0, "category") in error_locs(body(lines=[line(category="/shoes")]))


def test_receipt_is_immutable() -> None:
    receipt = Receipt.model_validate(body())
    with pytest.raises(ValidationError):
        receipt.redeem_points = 5
    assert isinstance(receipt.lines[0], Line)
