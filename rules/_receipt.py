"""The receipt as registers send it: the validated input of calculate and confirm."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ._json_schema import NOT_BLANK, WHITE_SPACE
from ._types import Identifier, Money, Quantity

__all__ = ["CertificatePayment", "Line", "Receipt", "MAX_LINES", "MAX_COUPONS", "MAX_CERTIFICATES"]

MAX_LINES = 500
MAX_COUPONS = 10
MAX_CERTIFICATES = 5

Code = Annotated[str, Field(min_length=1, max_length=64)]
# A code that pays or discounts: blank after trimming is refused (in the validators below, not here:
# `pattern` costs a regex per code, and the strip is done anyway).
PaymentCode = Annotated[Code, Field(json_schema_extra=NOT_BLANK)]
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> object:
    """Only RFC 3339 text with an offset: no Unix timestamps, no dates without a time."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 time with an offset, like 2026-11-24T10:15:00+03:00")
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
Card = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
Text = Annotated[str, Field(min_length=1, max_length=128)]
CategoryPath = Annotated[str, Field(pattern=r"^[^/\s][^\n]{0,254}$",
                                    json_schema_extra={"pattern": f"^[^/{WHITE_SPACE}][^\\n]{{0,254}}$"})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def normalize_code(code: str) -> str:
    """Coupon and certificate codes match case-insensitively after trimming."""
    return code.strip().upper()


class Line(_Strict):
    line_id: Identifier
    sku: Text
    category: CategoryPath | None = None
    quantity: Quantity
    price: Money
    amount: Money
    no_discount: bool = Field(default=False, strict=True)
    no_accrual: bool = Field(default=False, strict=True)
    no_redeem: bool = Field(default=False, strict=True)
    min_price: Money = 0
    gift_certificate: Code | None = None

    @field_validator("category")
    @classmethod
    def _trim_category(cls, value: str | None) -> str | None:
        return value.strip("/") if value is not None else None

    @field_validator("gift_certificate")
    @classmethod
    def _normalize_certificate(cls, value: str | None) -> str | None:
        return normalize_code(value) if value is not None else None

    @property
    def sells_certificate(self) -> bool:
        return self.gift_certificate is not None

    @property
    def category_prefixes(self) -> tuple[str, ...]:
        """'shoes/winter/boots' → ('shoes', 'shoes/winter', 'shoes/winter/boots')."""
        return category_prefixes(self.category) if self.category else ()


@lru_cache(maxsize=16384)
def category_prefixes(category: str) -> tuple[str, ...]:
    """Cached across receipts: a chain has a few hundred categories, and every line of every receipt asks
    for its prefixes when campaigns are looked up and scoped."""
    parts = category.split("/")
    return tuple("/".join(parts[: i + 1]) for i in range(len(parts)))


class CertificatePayment(_Strict):
    code: PaymentCode
    amount: Money | None = None

    @field_validator("code")
    @classmethod
    def _normalize(cls, value: str) -> str:
        code = normalize_code(value)
        if not code:
            raise ValueError("must not be blank")
        return code


EXAMPLE: dict[str, Any] = {
    "receipt_id": "s17-p3-000123",
    "store_id": "s17",
    "terminal_id": "p3",
    "channel": "pos",
    "issued_at": "2026-11-24T10:15:00+03:00",
    "card": "2900000012345",
    "lines": [
        {"line_id": "1", "sku": "BOOT-123", "category": "shoes/winter", "quantity": "2", "price": 399500,
         "amount": 799000},
        {"line_id": "2", "sku": "CREAM-7", "category": "care", "quantity": "1", "price": 50000, "amount": 50000},
    ],
    "redeem_points": 20000,
}


class Receipt(_Strict):
    """Each `line_id` once; coupon and certificate codes each once after trimming and upper-casing, and no
    certificate both sold on a line and paying; `issued_at` not in the future and at most the program's
    `max_receipt_age_days` old."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [EXAMPLE]})

    receipt_id: Identifier
    store_id: Identifier
    terminal_id: Identifier | None = None
    channel: Literal["pos", "online"] = "pos"
    issued_at: Rfc3339
    card: Card | None = None
    lines: list[Line] = Field(min_length=1, max_length=MAX_LINES)
    coupons: list[PaymentCode] = Field(default_factory=list, max_length=MAX_COUPONS,
                                       json_schema_extra={"uniqueItems": True})
    redeem_points: Money = 0
    gift_certificates: list[CertificatePayment] = Field(default_factory=list, max_length=MAX_CERTIFICATES,
                                                        json_schema_extra={"uniqueItems": True})

    @field_validator("coupons")
    @classmethod
    def _normalize_coupons(cls, codes: list[str]) -> list[str]:
        normalized = [normalize_code(code) for code in codes]
        if any(not code for code in normalized):
            raise ValueError("a coupon code must not be blank")
        if len(set(normalized)) != len(normalized):
            raise ValueError("the same coupon code is given twice")
        return normalized

    @model_validator(mode="after")
    def _unique_ids(self) -> Receipt:
        line_ids = [line.line_id for line in self.lines]
        if len(set(line_ids)) != len(line_ids):
            raise ValueError("line_id values must be unique within the receipt")
        codes = [payment.code for payment in self.gift_certificates]
        if len(set(codes)) != len(codes):
            raise ValueError("the same gift certificate is given twice")
        sold = [line.gift_certificate for line in self.lines if line.gift_certificate]
        if len(set(sold)) != len(sold):
            raise ValueError("the same gift certificate is sold on two lines")
        if set(sold) & set(codes):
            raise ValueError("a gift certificate cannot pay for its own sale")
        return self
