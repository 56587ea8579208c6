"""A confirmed receipt's stored lines (`receipts.lines`): the per-line figures refunds reverse, and sku and
category for the reports. Written and read here only.

The reports, customers and segments read these documents in SQL (`jsonb_array_elements(r.lines)`), so the
shape is fixed: what is empty, zero or false is left out (the lines are a receipt's largest document, and
PostgreSQL parses every byte of it into jsonb on every confirm), the amount and the discount are always
there (the reports read them as they are). A line stored whole, before lines were compacted, or before
its sku and category were kept, reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from rules import REVERSIBLE, Outcome, Receipt, decimal_text

_ALWAYS = ("amount", "discount")  # figures stored even when zero


@dataclass(slots=True)
class StoredLine:
    """One line: what was bought, its figures at confirm, and what its refunds have taken back so far
    (a refund updates `returned`, `refunded` and `refunded_certificates` in place)."""

    line_id: str
    sku: str | None  # None: stored before SKUs were kept
    quantity: str  # decimal text, as `rules.decimal_text` writes it
    figures: dict[str, int]  # every name of `rules.REVERSIBLE`
    category: str | None = None
    returned: str = "0"  # decimal text: the quantity refunded so far
    sells_certificate: bool = False
    gift_certificate: str | None = None  # the certificate the line sells
    certificates: dict[str, int] = field(default_factory=dict)  # code → paid with it on this line
    refunded_certificates: dict[str, int] = field(default_factory=dict)  # code → given back so far
    refunded: dict[str, int] = field(default_factory=dict)  # figure → refunded so far ({} before a refund)

    @property
    def left(self) -> Decimal:
        """The quantity not refunded yet."""
        return Decimal(self.quantity) - Decimal(self.returned)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"line_id": self.line_id}
        if self.sku is not None:
            document["sku"] = self.sku
        document["quantity"] = self.quantity
        if self.category is not None:
            document["category"] = self.category
        if self.returned != "0":
            document["returned"] = self.returned
        if self.sells_certificate:
            document["sells_certificate"] = True
        if self.gift_certificate is not None:
            document["gift_certificate"] = self.gift_certificate
        for name in ("certificates", "refunded_certificates", "refunded"):
            value = getattr(self, name)
            if value:
                document[name] = dict(value)
        document["figures"] = {name: value for name, value in self.figures.items() if value or name in _ALWAYS}
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StoredLine:
        figures = document["figures"]
        return cls(
            document["line_id"], document.get("sku"), document["quantity"],
            {name: figures.get(name, 0) for name in REVERSIBLE},
            category=document.get("category"), returned=document.get("returned", "0"),
            sells_certificate=document.get("sells_certificate", False),
            gift_certificate=document.get("gift_certificate"),
            certificates=dict(document.get("certificates", {})),
            refunded_certificates=dict(document.get("refunded_certificates", {})),
            refunded=dict(document.get("refunded", {})),
        )


@dataclass(frozen=True, slots=True)
class Share:
    """What one refund takes back of one stored line (not stored: the refund's element is built from it)."""

    line: StoredLine
    quantity: Decimal
    figures: dict[str, int]  # `rules.refund_share` of each figure; gift_certificates the sum of `certificates`
    certificates: dict[str, int]  # code → its own share back

    @property
    def points(self) -> int:
        """The accrued points taken back."""
        return self.figures["accrual_points"] + self.figures["bonus_points"]


def stored_lines(receipt: Receipt, outcome: Outcome) -> list[dict[str, Any]]:
    """A confirmed receipt's lines as they are stored: the documents `StoredLine.to_json` writes, written
    straight from the outcome, without an object per line (confirm's path, three times faster;
    tests/unit/test_stored_line_codec.py holds the two to the same documents)."""
    stored = []
    for line, result in zip(receipt.lines, outcome.lines, strict=True):
        document: dict[str, Any] = {"line_id": line.line_id, "sku": line.sku, "quantity": decimal_text(line.quantity)}
        if line.category is not None:
            document["category"] = line.category
        if line.gift_certificate is not None:
            document["sells_certificate"] = True
            document["gift_certificate"] = line.gift_certificate
        if result.certificate_parts:
            document["certificates"] = dict(result.certificate_parts)
        figures = {"amount": result.amount, "discount": result.discount}
        for name, value in (("points_redeemed", result.points_redeemed),
                            ("gift_certificates", result.gift_certificates),
                            ("accrual_points", result.accrual_points), ("bonus_points", result.bonus_points)):
            if value:
                figures[name] = value
        document["figures"] = figures
        stored.append(document)
    return stored


def expand(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored line with every field."""
    return asdict(StoredLine.from_json(stored))


def compact(line: Mapping[str, Any]) -> dict[str, Any]:
    """A line (stored or with every field) as it is stored now: what is at its default left out."""
    return StoredLine.from_json(line).to_json()
